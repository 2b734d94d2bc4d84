// The rls3 agent: it does not decide anything (it has no actions); it is how a Python generator's
// SceneSpecs reach the simulator through ML-Agents. Per step (Academy.EnvironmentStep, Decision
// Period 1):
//
//   DecideAction   the communicator exchanges with Python; side channels are processed first, so the
//                  scene request queued with env.step() arrives here (SceneRequestChannel)
//   AgentAct       OnActionReceived: the request is applied: room, objects, camera, settling,
//                  validity, segmentation; the answer waits as m_Report
//   next step      CollectObservations queues the answer on the SceneGraphChannel, then the
//                  CameraSensor renders the same scene; both go to Python in one message, the reply
//                  to the env.step() that sent the request.
//
// After the first RESET the agent announces itself with a "ready" message (renderer, catalogue
// digest, image size), which the backend checks. A request it cannot apply gets an "error" message.
using System;
using System.Collections.Generic;
using Unity.MLAgents;
using Unity.MLAgents.Actuators;
using Unity.MLAgents.Sensors;
using Unity.MLAgents.SideChannels;
using UnityEngine;

namespace Rls3
{
    public class RoomAgent : Agent
    {
        [Tooltip("The camera the CameraSensor renders; the agent moves it to each SceneSpec's pose.")]
        public Camera SceneCamera;

        [Tooltip("0 (default): settling is analytic, exactly as the embedded backend. N > 0: after the rules pass, " +
                 "also simulate N physics steps and call the scene unsupported if an object moves more than " +
                 "DynamicSettleToleranceM (stricter than the embedded backend; results are then not comparable).")]
        public int DynamicSettleSteps;

        public float DynamicSettleToleranceM = 0.01f;

        Catalogue m_Catalogue;
        SceneContainer m_Rooms;
        ObjectContainer m_Objects;
        SegmentationRenderer m_Segmentation;
        SceneRequestChannel m_Requests;
        SceneGraphChannel m_Graphs;
        string m_Pending;
        string m_Report;
        bool m_Announced;
        int m_ImageSize;

        public override void Initialize()
        {
            m_Catalogue = Catalogue.Load();
            m_Rooms = new SceneContainer(m_Catalogue, new GameObject("SceneContainer").transform);
            m_Objects = new ObjectContainer(m_Catalogue, new GameObject("ObjectContainer").transform);
            m_Segmentation = new SegmentationRenderer(Resources.Load<Shader>("Rls3SegmentationId"));
            var sensor = GetComponent<CameraSensorComponent>();
            m_ImageSize = sensor.Width;
            if (SceneCamera == null)
            {
                SceneCamera = sensor.Camera;
            }
            m_Requests = new SceneRequestChannel();
            m_Graphs = new SceneGraphChannel();
            m_Requests.RequestReceived += OnRequest;
            SideChannelManager.RegisterSideChannel(m_Requests);
            SideChannelManager.RegisterSideChannel(m_Graphs);
            var first = m_Catalogue.rooms[0];
            m_Rooms.Activate(first.id);
            PlaceCamera(first.camera_eye, first.camera_target, first.camera_fov_deg);
        }

        void OnDestroy()
        {
            if (Academy.IsInitialized && m_Requests != null)
            {
                SideChannelManager.UnregisterSideChannel(m_Requests);
                SideChannelManager.UnregisterSideChannel(m_Graphs);
            }
        }

        public override void OnEpisodeBegin()
        {
            // Episodes mean nothing here (every request is a whole scene); the scene stays as it is.
            if (!m_Announced)
            {
                m_Announced = true;
                var device = SystemInfo.graphicsDeviceType.ToString();
                m_Report = SceneGraphWriter.Ready("unity-" + Application.unityVersion + "-" + device, m_Catalogue.digest,
                                                  m_ImageSize, Application.unityVersion, device);
            }
        }

        public override void OnActionReceived(ActionBuffers actions)
        {
            ApplyPending();
        }

        public override void CollectObservations(VectorSensor sensor)
        {
            ApplyPending();  // in case the request came while no action was due (e.g. right after a reset)
            if (m_Report != null)
            {
                m_Graphs.SendJson(m_Report);
                m_Report = null;
            }
        }

        void OnRequest(string json)
        {
            if (m_Pending != null)
            {
                Debug.LogWarning("rls3: a scene request arrived before the previous one was applied; the older one is dropped");
            }
            m_Pending = json;
        }

        void ApplyPending()
        {
            if (m_Pending == null)
            {
                return;
            }
            var json = m_Pending;
            m_Pending = null;
            var requestId = -1;
            try
            {
                var request = SceneRequest.Parse(json);
                requestId = request.request_id;
                m_Report = Apply(request);
            }
            catch (Exception e)
            {
                Debug.LogError("rls3: cannot apply scene request " + requestId + ": " + e);
                m_Report = SceneGraphWriter.Error(requestId, e.Message);
            }
        }

        string Apply(SceneRequest request)
        {
            var spec = request.spec;
            var rules = m_Catalogue.rules;
            m_Rooms.Activate(spec.room);
            m_Objects.ParkAll();
            var bodies = new PlacedBody[spec.objects.Length];
            for (var i = 0; i < bodies.Length; i++)
            {
                var o = spec.objects[i];
                bodies[i] = m_Objects.Take(o.asset, o.scale > 0f ? o.scale : 1f);
                m_Objects.SetColour(bodies[i], o.colour);
            }
            PlaceCamera(spec.camera.eye, spec.camera.target, spec.camera.fov_deg);
            var placements = ScenePlacer.Settle(spec, bodies, m_Rooms, m_Objects, rules);
            var mask = m_Segmentation.Render(SceneCamera, bodies, m_ImageSize);

            var reports = new ObjectReport[bodies.Length];
            for (var i = 0; i < bodies.Length; i++)
            {
                float[] min, max;
                ScenePlacer.Aabb(bodies[i], out min, out max);
                reports[i] = new ObjectReport
                {
                    Asset = spec.objects[i].asset,
                    Position = new[] { placements[i].X, placements[i].Y, placements[i].Z },
                    YawDeg = spec.objects[i].yaw_deg,
                    AabbMin = min,
                    AabbMax = max,
                    Support = placements[i].Support,
                    VisiblePixels = mask.Counts[i],
                    Centroid = mask.Centroid[i],
                };
            }
            // Overlap first: a requested pose that already cuts into something is the cause.
            var reason = ScenePlacer.FirstOverlap(spec, bodies, placements, m_Rooms, rules)
                         ?? ScenePlacer.FirstUnsupported(spec, placements)
                         ?? FirstHidden(reports, request.settings.min_visible_fraction, rules.active_objects)
                         ?? DynamicCheck(spec, bodies);
            return SceneGraphWriter.Scene(request.request_id, reason, reports, mask);
        }

        void PlaceCamera(float[] eye, float[] target, float fovDeg)
        {
            var rules = m_Catalogue.rules;
            SceneCamera.transform.position = Frames.ToUnity(eye);
            SceneCamera.transform.LookAt(Frames.ToUnity(target), Vector3.up);
            SceneCamera.fieldOfView = fovDeg;  // vertical, like the SceneSpec's
            SceneCamera.aspect = 1f;
            SceneCamera.nearClipPlane = rules.near_m;
            SceneCamera.farClipPlane = rules.far_m;
        }

        /// <summary>An active object covering too few pixels: out of the view, or hidden behind others.</summary>
        string FirstHidden(ObjectReport[] reports, float minVisibleFraction, int activeObjects)
        {
            var need = Mathf.CeilToInt(minVisibleFraction * m_ImageSize * m_ImageSize);
            for (var i = 0; i < reports.Length && i < activeObjects; i++)
            {
                var r = reports[i];
                if (r.VisiblePixels >= need)
                {
                    continue;
                }
                var centre = Frames.ToUnity((r.AabbMin[0] + r.AabbMax[0]) / 2f, (r.AabbMin[1] + r.AabbMax[1]) / 2f, (r.AabbMin[2] + r.AabbMax[2]) / 2f);
                var vp = SceneCamera.WorldToViewportPoint(centre);
                var col = vp.x * m_ImageSize - 0.5f;
                var row = (1f - vp.y) * m_ImageSize - 0.5f;
                var inside = vp.z > 0f && col >= -0.5f && col < m_ImageSize - 0.5f && row >= -0.5f && row < m_ImageSize - 0.5f;
                if (!inside)
                {
                    return "outside view: " + r.Asset;
                }
                return "not visible: " + r.Asset + " (" + r.VisiblePixels + " px < " + need + ")";
            }
            return null;
        }

        /// <summary>Optional: objects must stay put when physics runs (DynamicSettleSteps > 0).</summary>
        string DynamicCheck(SceneSpecJson spec, PlacedBody[] bodies)
        {
            if (DynamicSettleSteps <= 0)
            {
                return null;
            }
            var start = new List<Vector3>();
            foreach (var b in bodies)
            {
                start.Add(b.Root.transform.position);
                b.Root.GetComponent<Rigidbody>().isKinematic = false;
            }
            for (var s = 0; s < DynamicSettleSteps; s++)
            {
                Physics.Simulate(Time.fixedDeltaTime);
            }
            string reason = null;
            for (var i = 0; i < bodies.Length; i++)
            {
                var moved = Vector3.Distance(start[i], bodies[i].Root.transform.position);
                var rb = bodies[i].Root.GetComponent<Rigidbody>();
                rb.isKinematic = true;
                bodies[i].Root.transform.position = start[i];
                bodies[i].Root.transform.rotation = Frames.Yaw(spec.objects[i].yaw_deg);
                if (reason == null && moved > DynamicSettleToleranceM)
                {
                    reason = "unsupported: " + spec.objects[i].asset + " (moves " + Mathf.RoundToInt(moved * 100f) + " cm when simulated)";
                }
            }
            Physics.SyncTransforms();
            return reason;
        }
    }
}
