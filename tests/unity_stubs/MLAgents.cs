// Minimal stubs of the com.unity.ml-agents 2.2.1-exp.1 (ML-Agents Release 19) members that
// unity/Assets/Scripts uses, with that release's signatures and namespaces (Runtime/Agent.cs,
// Academy.cs, DecisionRequester.cs, Actuators/, Sensors/, Policies/, SideChannels/). Compiled as
// their own assembly, so the scripts can reach only what the package makes public.
using System;
using UnityEngine;

namespace Unity.MLAgents
{
    public class Agent : MonoBehaviour
    {
        public int MaxStep;
        public virtual void Initialize() { }
        public virtual void OnEpisodeBegin() { }
        public virtual void CollectObservations(Sensors.VectorSensor sensor) { }
        public virtual void OnActionReceived(Actuators.ActionBuffers actions) { }
        public virtual void Heuristic(in Actuators.ActionBuffers actionsOut) { }
        protected virtual void OnEnable() { }
        protected virtual void OnDisable() { }
        public void EndEpisode() { }
        public void RequestDecision() { }
    }

    public class Academy : IDisposable
    {
        public static bool IsInitialized { get { return false; } }
        public static Academy Instance { get { return null; } }
        public void Dispose() { }
    }

    public class DecisionRequester : MonoBehaviour
    {
        public int DecisionPeriod = 5;
        public bool TakeActionsBetweenDecisions = true;
    }
}

namespace Unity.MLAgents.Actuators
{
    public readonly struct ActionBuffers { }

    public struct ActionSpec
    {
        public ActionSpec(int numContinuousActions = 0, int[] discreteBranchSizes = null) { }
        public static ActionSpec MakeContinuous(int numActions) { return default(ActionSpec); }
        public static ActionSpec MakeDiscrete(params int[] branchSizes) { return default(ActionSpec); }
    }
}

namespace Unity.MLAgents.Sensors
{
    public class VectorSensor { }

    public enum SensorCompressionType { None, PNG }

    public abstract class SensorComponent : MonoBehaviour { }

    public class CameraSensorComponent : SensorComponent, IDisposable
    {
        public Camera Camera { get; set; }
        public string SensorName { get; set; }
        public int Width { get; set; }
        public int Height { get; set; }
        public bool Grayscale { get; set; }
        public SensorCompressionType CompressionType { get; set; }
        public void Dispose() { }
    }
}

namespace Unity.MLAgents.Policies
{
    public enum BehaviorType { Default, HeuristicOnly, InferenceOnly }

    [Serializable]
    public class BrainParameters
    {
        public int VectorObservationSize = 1;
        public Actuators.ActionSpec ActionSpec { get; set; }
    }

    public class BehaviorParameters : MonoBehaviour
    {
        public BrainParameters BrainParameters { get; set; }
        public BehaviorType BehaviorType { get; set; }
        public string BehaviorName { get; set; }
        public int TeamId;
    }
}

namespace Unity.MLAgents.SideChannels
{
    public class IncomingMessage : IDisposable
    {
        public IncomingMessage(byte[] data) { }
        public byte[] GetRawBytes() { return null; }
        public void Dispose() { }
    }

    public class OutgoingMessage : IDisposable
    {
        public void SetRawBytes(byte[] data) { }
        public void Dispose() { }
    }

    public abstract class SideChannel
    {
        public Guid ChannelId { get; protected set; }
        protected abstract void OnMessageReceived(IncomingMessage msg);
        protected void QueueMessageToSend(OutgoingMessage msg) { }
    }

    public static class SideChannelManager
    {
        public static void RegisterSideChannel(SideChannel sideChannel) { }
        public static void UnregisterSideChannel(SideChannel sideChannel) { }
    }
}
