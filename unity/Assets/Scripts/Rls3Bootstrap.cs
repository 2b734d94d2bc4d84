// Builds the whole player at start-up, so the project needs no hand-made scene: a directional light,
// the scene camera, and the agent (Behavior Parameters "RoomAgent", no vector observations, no
// actions; a PNG CameraSensor named "CameraSensor"; a DecisionRequester with period 1). A scene that
// already holds a RoomAgent (set up by hand in the Editor) is left alone.
//
// Component order matters: the agent reads its Behavior Parameters and sensors when it is enabled,
// so the GameObject stays inactive until everything is configured; DecisionRequester requires an
// Agent, so it comes after RoomAgent.
using Unity.MLAgents;
using Unity.MLAgents.Actuators;
using Unity.MLAgents.Policies;
using Unity.MLAgents.Sensors;
using UnityEngine;

namespace Rls3
{
    public static class Rls3Bootstrap
    {
        public const string BehaviorName = "RoomAgent";
        public const string CameraSensorName = "CameraSensor";
        /// <summary>The camera size when neither --rls3-image-size nor RLS3_IMAGE_SIZE says otherwise.</summary>
        public const int DefaultImageSize = 128;

        [RuntimeInitializeOnLoadMethod(RuntimeInitializeLoadType.AfterSceneLoad)]
        static void Build()
        {
            if (Object.FindObjectOfType<RoomAgent>() != null)
            {
                return;
            }
            // Placement is analytic; physics runs only when RoomAgent.DynamicSettleSteps asks for it.
            Physics.autoSimulation = false;
            var catalogue = Catalogue.Load();

            var light = new GameObject("Light").AddComponent<Light>();
            light.type = LightType.Directional;
            var toLight = Frames.ToUnity(catalogue.light.lightDirection);
            light.transform.rotation = Quaternion.LookRotation(-toLight.normalized, Vector3.up);
            light.intensity = catalogue.light.lightDiffuseCoeff * 2f;
            light.shadows = LightShadows.None;  // as the embedded renderer
            var ambient = catalogue.light.lightAmbientCoeff;
            RenderSettings.ambientLight = new Color(ambient, ambient, ambient, 1f);

            var camera = new GameObject("SceneCamera").AddComponent<Camera>();
            camera.enabled = false;  // rendered on demand by the CameraSensor and the segmentation pass
            camera.clearFlags = CameraClearFlags.SolidColor;
            camera.backgroundColor = Color.black;

            var size = CommandLine.ImageSize(DefaultImageSize);
            var go = new GameObject("RoomAgent");
            go.SetActive(false);
            var behavior = go.AddComponent<BehaviorParameters>();
            behavior.BehaviorName = BehaviorName;
            behavior.BehaviorType = BehaviorType.Default;
            behavior.BrainParameters.VectorObservationSize = 0;
            behavior.BrainParameters.ActionSpec = ActionSpec.MakeContinuous(0);
            var sensor = go.AddComponent<CameraSensorComponent>();
            sensor.Camera = camera;
            sensor.SensorName = CameraSensorName;
            sensor.Width = size;
            sensor.Height = size;
            sensor.Grayscale = false;
            sensor.CompressionType = SensorCompressionType.PNG;  // channels-last PNG, the cheap path for Python
            var agent = go.AddComponent<RoomAgent>();
            agent.SceneCamera = camera;
            agent.MaxStep = 0;  // episodes never end by themselves
            var requester = go.AddComponent<DecisionRequester>();
            requester.DecisionPeriod = 1;  // every step answers one request
            requester.TakeActionsBetweenDecisions = false;
            go.SetActive(true);
        }
    }
}
