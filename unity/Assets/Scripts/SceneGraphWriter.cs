// The scene graph JSON the Python backend reads (rls3_bench.backends.unity.observation_from_graph):
//   {"protocol": 1, "kind": "scene", "request_id": N, "valid": bool, "invalid_reason": str|null,
//    "objects": [{"asset", "position": [x,y,z], "yaw_deg", "aabb_min", "aabb_max", "support": str|null,
//                 "visible_pixels": int, "centroid_px": [col,row]|null}, ...],
//    "segmentation": {"encoding": "png", "height": H, "width": W, "data": base64}}
// plus "ready" (once, after the first reset) and "error" messages. SceneSpec frame, metres, degrees.
// Written by hand: JsonUtility has no nulls.
using System;
using System.Globalization;
using System.Text;

namespace Rls3
{
    public class ObjectReport
    {
        public string Asset;
        public float[] Position;
        public float YawDeg;
        public float[] AabbMin;
        public float[] AabbMax;
        public string Support;
        public int VisiblePixels;
        public float[] Centroid;
    }

    public static class SceneGraphWriter
    {
        public const int Protocol = 1;

        public static string Ready(string renderer, string catalogueDigest, int imageSize, string unityVersion, string graphicsDevice)
        {
            var sb = Begin("ready");
            Field(sb, "renderer", renderer);
            Field(sb, "catalogue_digest", catalogueDigest);
            sb.Append(",\"image_size\":").Append(imageSize.ToString(CultureInfo.InvariantCulture));
            Field(sb, "unity_version", unityVersion);
            Field(sb, "graphics_device", graphicsDevice);
            return sb.Append('}').ToString();
        }

        public static string Error(int requestId, string message)
        {
            var sb = Begin("error");
            sb.Append(",\"request_id\":").Append(requestId.ToString(CultureInfo.InvariantCulture));
            Field(sb, "message", message);
            return sb.Append('}').ToString();
        }

        public static string Scene(int requestId, string invalidReason, ObjectReport[] objects, Mask mask)
        {
            var sb = Begin("scene");
            sb.Append(",\"request_id\":").Append(requestId.ToString(CultureInfo.InvariantCulture));
            sb.Append(",\"valid\":").Append(invalidReason == null ? "true" : "false");
            Field(sb, "invalid_reason", invalidReason);
            sb.Append(",\"objects\":[");
            for (var i = 0; i < objects.Length; i++)
            {
                var o = objects[i];
                sb.Append(i == 0 ? "{" : ",{");
                sb.Append("\"asset\":").Append(Quote(o.Asset));
                sb.Append(",\"position\":").Append(Numbers(o.Position));
                sb.Append(",\"yaw_deg\":").Append(Number(o.YawDeg));
                sb.Append(",\"aabb_min\":").Append(Numbers(o.AabbMin));
                sb.Append(",\"aabb_max\":").Append(Numbers(o.AabbMax));
                Field(sb, "support", o.Support);
                sb.Append(",\"visible_pixels\":").Append(o.VisiblePixels.ToString(CultureInfo.InvariantCulture));
                sb.Append(",\"centroid_px\":").Append(o.Centroid == null ? "null" : Numbers(o.Centroid));
                sb.Append('}');
            }
            sb.Append("],\"segmentation\":{\"encoding\":\"png\",\"height\":").Append(mask.Size.ToString(CultureInfo.InvariantCulture));
            sb.Append(",\"width\":").Append(mask.Size.ToString(CultureInfo.InvariantCulture));
            sb.Append(",\"data\":\"").Append(Convert.ToBase64String(mask.Png)).Append("\"}");
            return sb.Append('}').ToString();
        }

        static StringBuilder Begin(string kind)
        {
            var sb = new StringBuilder(1024);
            sb.Append("{\"protocol\":").Append(Protocol.ToString(CultureInfo.InvariantCulture));
            sb.Append(",\"kind\":\"").Append(kind).Append('"');
            return sb;
        }

        static void Field(StringBuilder sb, string name, string value)
        {
            sb.Append(",\"").Append(name).Append("\":").Append(value == null ? "null" : Quote(value));
        }

        static string Number(float v)
        {
            if (float.IsNaN(v) || float.IsInfinity(v))
            {
                throw new ArgumentException("non-finite number in the scene graph");
            }
            return v.ToString("R", CultureInfo.InvariantCulture);
        }

        static string Numbers(float[] v)
        {
            var parts = new string[v.Length];
            for (var i = 0; i < v.Length; i++)
            {
                parts[i] = Number(v[i]);
            }
            return "[" + string.Join(",", parts) + "]";
        }

        public static string Quote(string s)
        {
            var sb = new StringBuilder(s.Length + 2);
            sb.Append('"');
            foreach (var c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < ' ')
                        {
                            sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            sb.Append(c);
                        }
                        break;
                }
            }
            return sb.Append('"').ToString();
        }
    }
}
