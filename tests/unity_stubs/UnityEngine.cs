// Minimal stubs of the UnityEngine members that unity/Assets/Scripts uses, with Unity 2020.3's
// signatures, so Debian's mono C# compiler (mcs) can type-check the scripts without Unity
// (tests/test_unity_csharp.py). Bodies are empty: nothing here runs. Add a member here when the
// scripts start using it, with the exact signature from the Unity scripting reference.
using System;

namespace UnityEngine
{
    public class Object
    {
        public string name { get; set; }
        public static void Destroy(Object obj) { }
        public static void DestroyImmediate(Object obj) { }
        public static T FindObjectOfType<T>() where T : Object { return null; }
        public static implicit operator bool(Object exists) { return exists != null; }
    }

    public class Component : Object
    {
        public Transform transform { get { return null; } }
        public GameObject gameObject { get { return null; } }
        public T GetComponent<T>() { return default(T); }
    }

    public class Behaviour : Component
    {
        public bool enabled { get; set; }
    }

    public class MonoBehaviour : Behaviour { }

    public enum PrimitiveType { Sphere, Capsule, Cylinder, Cube, Plane, Quad }

    public sealed class GameObject : Object
    {
        public GameObject() { }
        public GameObject(string name) { }
        public Transform transform { get { return null; } }
        public bool activeSelf { get { return false; } }
        public void SetActive(bool value) { }
        public T AddComponent<T>() where T : Component { return null; }
        public T GetComponent<T>() { return default(T); }
        public T[] GetComponentsInChildren<T>(bool includeInactive) { return null; }
        public static GameObject CreatePrimitive(PrimitiveType type) { return null; }
    }

    public class Transform : Component
    {
        public Vector3 position { get; set; }
        public Quaternion rotation { get; set; }
        public Vector3 localPosition { get; set; }
        public Vector3 localScale { get; set; }
        public void SetParent(Transform parent, bool worldPositionStays) { }
        public void LookAt(Vector3 worldPosition, Vector3 worldUp) { }
    }

    public struct Vector2
    {
        public float x, y;
        public Vector2(float x, float y) { this.x = x; this.y = y; }
    }

    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
        public static Vector3 zero { get { return default(Vector3); } }
        public static Vector3 one { get { return default(Vector3); } }
        public static Vector3 up { get { return default(Vector3); } }
        public static Vector3 down { get { return default(Vector3); } }
        public Vector3 normalized { get { return default(Vector3); } }
        public static float Distance(Vector3 a, Vector3 b) { return 0f; }
        public static Vector3 operator *(Vector3 a, float d) { return a; }
        public static Vector3 operator -(Vector3 a) { return a; }
        public static Vector3 operator +(Vector3 a, Vector3 b) { return a; }
        public static Vector3 operator -(Vector3 a, Vector3 b) { return a; }
    }

    public struct Vector4
    {
        public float x, y, z, w;
        public Vector4(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }
        public static Vector4 zero { get { return default(Vector4); } }
    }

    public struct Quaternion
    {
        public static Quaternion Euler(float x, float y, float z) { return default(Quaternion); }
        public static Quaternion LookRotation(Vector3 forward, Vector3 upwards) { return default(Quaternion); }
    }

    public struct Color
    {
        public float r, g, b, a;
        public Color(float r, float g, float b, float a) { this.r = r; this.g = g; this.b = b; this.a = a; }
        public static Color clear { get { return default(Color); } }
        public static Color black { get { return default(Color); } }
    }

    public struct Color32
    {
        public byte r, g, b, a;
        public Color32(byte r, byte g, byte b, byte a) { this.r = r; this.g = g; this.b = b; this.a = a; }
    }

    public struct Rect
    {
        public Rect(float x, float y, float width, float height) { }
    }

    public struct Bounds
    {
        public Vector3 min { get { return default(Vector3); } }
        public Vector3 max { get { return default(Vector3); } }
        public void Encapsulate(Bounds bounds) { }
    }

    public static class Mathf
    {
        public const float Deg2Rad = 0.0174532924f;
        public static float Cos(float f) { return 0f; }
        public static float Sin(float f) { return 0f; }
        public static int CeilToInt(float f) { return 0; }
        public static int RoundToInt(float f) { return 0; }
    }

    public enum CameraClearFlags { Skybox = 1, SolidColor = 2, Depth = 3, Nothing = 4 }

    public sealed class Camera : Behaviour
    {
        public RenderTexture targetTexture { get; set; }
        public CameraClearFlags clearFlags { get; set; }
        public Color backgroundColor { get; set; }
        public bool allowMSAA { get; set; }
        public bool allowHDR { get; set; }
        public float fieldOfView { get; set; }
        public float aspect { get; set; }
        public float nearClipPlane { get; set; }
        public float farClipPlane { get; set; }
        public void RenderWithShader(Shader shader, string replacementTag) { }
        public Vector3 WorldToViewportPoint(Vector3 position) { return position; }
    }

    public enum LightType { Spot, Directional, Point }
    public enum LightShadows { None, Hard, Soft }

    public sealed class Light : Behaviour
    {
        public LightType type { get; set; }
        public float intensity { get; set; }
        public LightShadows shadows { get; set; }
    }

    public sealed class RenderSettings : Object
    {
        public static Color ambientLight { get; set; }
    }

    public enum FilterMode { Point, Bilinear, Trilinear }
    public enum TextureFormat { RGB24 = 3, RGBA32 = 4 }
    public enum RenderTextureFormat { ARGB32 = 0, Default = 7 }
    public enum RenderTextureReadWrite { Default, Linear, sRGB }

    public class Texture : Object
    {
        public virtual int width { get; set; }
        public FilterMode filterMode { get; set; }
    }

    public sealed class Texture2D : Texture
    {
        public Texture2D(int width, int height, TextureFormat textureFormat, bool mipChain, bool linear) { }
        public void ReadPixels(Rect source, int destX, int destY) { }
        public void Apply(bool updateMipmaps) { }
        public Color32[] GetPixels32() { return null; }
        public void SetPixels32(Color32[] colors) { }
    }

    public static class ImageConversion
    {
        public static byte[] EncodeToPNG(this Texture2D tex) { return null; }
    }

    public class RenderTexture : Texture
    {
        public RenderTexture(int width, int height, int depth, RenderTextureFormat format, RenderTextureReadWrite readWrite) { }
        public static RenderTexture active { get; set; }
        public int antiAliasing { get; set; }
    }

    public sealed class Shader : Object { }

    public class Material : Object
    {
        public Color color { get; set; }
        public void SetVector(string name, Vector4 value) { }
    }

    public class Renderer : Component
    {
        public Material material { get; set; }
    }

    public class Mesh : Object { }

    public sealed class MeshFilter : Component
    {
        public Mesh sharedMesh { get; set; }
    }

    public class Collider : Component
    {
        public Bounds bounds { get { return default(Bounds); } }
    }

    public sealed class MeshCollider : Collider
    {
        public Mesh sharedMesh { get; set; }
        public bool convex { get; set; }
    }

    public sealed class Rigidbody : Component
    {
        public bool isKinematic { get; set; }
    }

    public enum QueryTriggerInteraction { UseGlobal, Ignore, Collide }

    public struct RaycastHit
    {
        public Vector3 point { get { return default(Vector3); } }
        public Collider collider { get { return null; } }
    }

    public class Physics
    {
        public const int DefaultRaycastLayers = -5;
        public static bool autoSimulation { get; set; }
        public static void Simulate(float step) { }
        public static void SyncTransforms() { }
        public static bool Raycast(Vector3 origin, Vector3 direction, out RaycastHit hitInfo, float maxDistance, int layerMask,
                                   QueryTriggerInteraction queryTriggerInteraction) { hitInfo = default(RaycastHit); return false; }
        public static bool ComputePenetration(Collider colliderA, Vector3 positionA, Quaternion rotationA, Collider colliderB,
                                              Vector3 positionB, Quaternion rotationB, out Vector3 direction, out float distance)
        { direction = default(Vector3); distance = 0f; return false; }
    }

    public static class Resources
    {
        public static T Load<T>(string path) where T : Object { return null; }
    }

    public static class JsonUtility
    {
        public static T FromJson<T>(string json) { return default(T); }
    }

    public static class Debug
    {
        public static void Log(object message) { }
        public static void LogWarning(object message) { }
        public static void LogError(object message) { }
    }

    public static class Application
    {
        public static string streamingAssetsPath { get { return null; } }
        public static string unityVersion { get { return null; } }
        public static bool isBatchMode { get { return false; } }
    }

    public static class Time
    {
        public static float fixedDeltaTime { get; set; }
    }

    public sealed class SystemInfo
    {
        public static Rendering.GraphicsDeviceType graphicsDeviceType { get { return default(Rendering.GraphicsDeviceType); } }
    }

    public enum RuntimeInitializeLoadType { AfterSceneLoad = 0, BeforeSceneLoad = 1 }

    [AttributeUsage(AttributeTargets.Method)]
    public class RuntimeInitializeOnLoadMethodAttribute : Attribute
    {
        public RuntimeInitializeOnLoadMethodAttribute(RuntimeInitializeLoadType loadType) { }
    }

    [AttributeUsage(AttributeTargets.Field)]
    public class TooltipAttribute : Attribute
    {
        public TooltipAttribute(string tooltip) { }
    }
}

namespace UnityEngine.Rendering
{
    public enum GraphicsDeviceType { OpenGLCore = 17, Null = 4, Vulkan = 21 }
}

namespace UnityEngine.SceneManagement
{
    public struct Scene { }
}
