// Between the SceneSpec frame (right-handed: x right, y away from the default camera, z up; yaw
// counter-clockwise seen from above) and Unity's (left-handed: x right, y up, z forward).
// Swapping y and z maps one onto the other; a counter-clockwise yaw is a negative rotation about
// Unity's y axis.
using UnityEngine;

namespace Rls3
{
    public static class Frames
    {
        public static Vector3 ToUnity(float x, float y, float z)
        {
            return new Vector3(x, z, y);
        }

        public static Vector3 ToUnity(float[] v)
        {
            return new Vector3(v[0], v[2], v[1]);
        }

        /// <summary>Half extents / sizes: the same swap, no signs involved.</summary>
        public static Vector3 SizeToUnity(float x, float y, float z)
        {
            return new Vector3(x, z, y);
        }

        public static float[] FromUnity(Vector3 v)
        {
            return new[] { v.x, v.z, v.y };
        }

        public static Quaternion Yaw(float yawDeg)
        {
            return Quaternion.Euler(0f, -yawDeg, 0f);
        }

        /// <summary>Rotate a SceneSpec-frame (x, y) by a yaw, as the embedded backend's _rotate_xy.</summary>
        public static Vector2 RotateXY(float x, float y, float yawDeg)
        {
            var a = yawDeg * Mathf.Deg2Rad;
            var c = Mathf.Cos(a);
            var s = Mathf.Sin(a);
            return new Vector2(c * x - s * y, s * x + c * y);
        }

        public static Color Colour(float[] rgb)
        {
            return new Color(rgb[0], rgb[1], rgb[2], 1f);
        }
    }
}
