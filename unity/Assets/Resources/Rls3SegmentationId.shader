// Unlit object ids for the segmentation pass (SegmentationRenderer.cs): every pixel gets its
// renderer's _SegColor exactly, (index + 1) / 255 in red, 0 for the room. A vector property, so it
// is never colour-space converted. Kept in Resources/ so builds include it.
Shader "Hidden/Rls3/SegmentationId"
{
    Properties
    {
        _SegColor ("Segmentation id", Vector) = (0, 0, 0, 1)
    }
    SubShader
    {
        Tags { "RenderType" = "Opaque" }
        Pass
        {
            ZWrite On
            Cull Back
            CGPROGRAM
            #pragma vertex vert
            #pragma fragment frag
            #include "UnityCG.cginc"

            float4 _SegColor;

            float4 vert(float4 vertex : POSITION) : SV_POSITION
            {
                return UnityObjectToClipPos(vertex);
            }

            float4 frag() : SV_Target
            {
                return _SegColor;
            }
            ENDCG
        }
    }
}
