// The scene request, as rls3_bench.backends.unity.encode_request writes it, parsed with JsonUtility.
using System;
using UnityEngine;

namespace Rls3
{
    [Serializable]
    public class CameraJson
    {
        public float[] eye;
        public float[] target;
        public float fov_deg = 60f;
    }

    [Serializable]
    public class PlacedJson
    {
        public string asset;
        public float[] position;
        public float yaw_deg;
        public float scale = 1f;
        public float[] colour;  // null or [] = the asset's colour
    }

    [Serializable]
    public class SceneSpecJson
    {
        public string room;
        public CameraJson camera;
        public PlacedJson[] objects;
        public int schema_version;
    }

    [Serializable]
    public class SettingsJson
    {
        public float min_visible_fraction = 0.002f;
    }

    [Serializable]
    public class SceneRequest
    {
        public const int Protocol = 1;

        public int protocol;
        public int request_id;
        public SceneSpecJson spec;
        public SettingsJson settings;

        public static SceneRequest Parse(string json)
        {
            var request = JsonUtility.FromJson<SceneRequest>(json);
            if (request == null || request.spec == null || request.spec.camera == null || request.spec.objects == null)
            {
                throw new ArgumentException("not a scene request");
            }
            if (request.protocol != Protocol)
            {
                throw new ArgumentException("scene protocol " + request.protocol + " is not " + Protocol + "; rebuild the player from the matching unity/ folder");
            }
            if (request.settings == null)
            {
                request.settings = new SettingsJson();
            }
            return request;
        }
    }
}
