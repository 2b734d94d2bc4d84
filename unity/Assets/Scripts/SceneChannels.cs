// The two rls3 side channels (com.unity.ml-agents 2.2.1-exp.1 SideChannel API). Their ids and the
// message schema are those of rls3_bench/backends/unity/protocol.py (SCENE_REQUEST_CHANNEL,
// SCENE_GRAPH_CHANNEL, SCENE_PROTOCOL). Payloads are raw UTF-8 JSON: ML-Agents' WriteString and
// ReadString are ASCII-only.
using System;
using System.Text;
using Unity.MLAgents.SideChannels;

namespace Rls3
{
    /// <summary>Python -> Unity: one SceneSpec request per step.</summary>
    public class SceneRequestChannel : SideChannel
    {
        public const string Id = "e58f1f7b-e70a-4283-9cd5-1d7be586c690";

        public event Action<string> RequestReceived;

        public SceneRequestChannel()
        {
            ChannelId = new Guid(Id);
        }

        protected override void OnMessageReceived(IncomingMessage msg)
        {
            var handler = RequestReceived;
            if (handler != null)
            {
                handler(Encoding.UTF8.GetString(msg.GetRawBytes()));
            }
        }
    }

    /// <summary>Unity -> Python: the scene graph of the applied request (or a ready / error message).</summary>
    public class SceneGraphChannel : SideChannel
    {
        public const string Id = "00399db1-4cf8-4bfb-9821-cd95d670851e";

        public SceneGraphChannel()
        {
            ChannelId = new Guid(Id);
        }

        protected override void OnMessageReceived(IncomingMessage msg)
        {
            // Python never writes here.
        }

        public void SendJson(string json)
        {
            using (var msg = new OutgoingMessage())
            {
                msg.SetRawBytes(Encoding.UTF8.GetBytes(json));
                QueueMessageToSend(msg);
            }
        }
    }
}
