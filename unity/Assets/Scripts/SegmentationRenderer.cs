// Per-pixel object ids from the scene camera: every renderer is drawn with an unlit replacement
// shader (Resources/Rls3SegmentationId.shader) in the colour (index + 1) / 255 in red, 0 for the
// room, into a linear 8-bit render texture without anti-aliasing, so each pixel reads back exactly
// one id. The mask goes to Python as a PNG (red = index + 1, rows top to bottom) with the counts and
// centroids the labeler needs.
using UnityEngine;

namespace Rls3
{
    public class Mask
    {
        public int Size;
        public int[] Counts;       // visible pixels per object index
        public float[][] Centroid; // (column, row) from the top-left pixel centre, or null
        public byte[] Png;
    }

    public class SegmentationRenderer
    {
        public const string ColourProperty = "_SegColor";

        readonly Shader m_Shader;
        RenderTexture m_Target;
        Texture2D m_Read;
        Texture2D m_Out;

        public SegmentationRenderer(Shader shader)
        {
            if (shader == null)
            {
                throw new System.InvalidOperationException("Resources/Rls3SegmentationId.shader is missing from the build");
            }
            m_Shader = shader;
        }

        public Mask Render(Camera camera, PlacedBody[] bodies, int size)
        {
            for (var i = 0; i < bodies.Length; i++)
            {
                foreach (var r in bodies[i].Renderers)
                {
                    // a vector, not a colour: colours are converted to linear in linear colour space
                    r.material.SetVector(ColourProperty, new Vector4((i + 1) / 255f, 0f, 0f, 1f));
                }
            }
            Ensure(size);
            var previousTarget = camera.targetTexture;
            var previousActive = RenderTexture.active;
            var previousClear = camera.clearFlags;
            var previousBackground = camera.backgroundColor;
            var previousMsaa = camera.allowMSAA;
            var previousHdr = camera.allowHDR;
            try
            {
                camera.targetTexture = m_Target;
                camera.clearFlags = CameraClearFlags.SolidColor;
                camera.backgroundColor = Color.clear;
                camera.allowMSAA = false;
                camera.allowHDR = false;
                camera.RenderWithShader(m_Shader, "");
                RenderTexture.active = m_Target;
                m_Read.ReadPixels(new Rect(0, 0, size, size), 0, 0);
                m_Read.Apply(false);
            }
            finally
            {
                camera.targetTexture = previousTarget;
                RenderTexture.active = previousActive;
                camera.clearFlags = previousClear;
                camera.backgroundColor = previousBackground;
                camera.allowMSAA = previousMsaa;
                camera.allowHDR = previousHdr;
            }

            var pixels = m_Read.GetPixels32();  // bottom row first
            var n = bodies.Length;
            var mask = new Mask { Size = size, Counts = new int[n], Centroid = new float[n][] };
            var colSum = new double[n];
            var rowSum = new double[n];
            var outPixels = new Color32[pixels.Length];
            for (var y = 0; y < size; y++)
            {
                var row = size - 1 - y;  // from the top, as image rows
                for (var x = 0; x < size; x++)
                {
                    var v = pixels[y * size + x].r;
                    if (v == 0 || v > n)
                    {
                        outPixels[y * size + x] = new Color32(0, 0, 0, 255);
                        continue;
                    }
                    outPixels[y * size + x] = new Color32(v, 0, 0, 255);
                    mask.Counts[v - 1] += 1;
                    colSum[v - 1] += x;
                    rowSum[v - 1] += row;
                }
            }
            for (var i = 0; i < n; i++)
            {
                if (mask.Counts[i] > 0)
                {
                    mask.Centroid[i] = new[] { (float)(colSum[i] / mask.Counts[i]), (float)(rowSum[i] / mask.Counts[i]) };
                }
            }
            m_Out.SetPixels32(outPixels);
            m_Out.Apply(false);
            mask.Png = m_Out.EncodeToPNG();  // written top row first
            return mask;
        }

        void Ensure(int size)
        {
            if (m_Target != null && m_Target.width == size)
            {
                return;
            }
            m_Target = new RenderTexture(size, size, 24, RenderTextureFormat.ARGB32, RenderTextureReadWrite.Linear);
            m_Target.antiAliasing = 1;
            m_Target.filterMode = FilterMode.Point;
            m_Read = new Texture2D(size, size, TextureFormat.RGBA32, false, true);
            m_Out = new Texture2D(size, size, TextureFormat.RGB24, false, true);
        }
    }
}
