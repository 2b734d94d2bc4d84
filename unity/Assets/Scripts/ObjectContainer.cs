// The object container (as in the paper): every asset the generators may swap in, built once from
// its primitives and kept inactive until a scene uses it. One instance per (asset, scale).
using System.Collections.Generic;
using System.Globalization;
using UnityEngine;

namespace Rls3
{
    public class PlacedBody
    {
        public AssetDef Asset;
        public float Scale;
        public GameObject Root;
        public Collider[] Colliders;
        public Renderer[] Renderers;
        public readonly List<Renderer> Tinted = new List<Renderer>();  // parts that take the object's colour
    }

    public class ObjectContainer
    {
        /// <summary>Bodies kept beyond the scene in use (distinct scales make distinct bodies), as the embedded backend.</summary>
        public const int MaxBodies = 32;

        readonly Catalogue m_Catalogue;
        readonly Transform m_Parent;
        readonly Dictionary<string, PlacedBody> m_Bodies = new Dictionary<string, PlacedBody>();
        readonly List<string> m_Recent = new List<string>();
        readonly Dictionary<Collider, PlacedBody> m_ByCollider = new Dictionary<Collider, PlacedBody>();

        public ObjectContainer(Catalogue catalogue, Transform parent)
        {
            m_Catalogue = catalogue;
            m_Parent = parent;
        }

        /// <summary>Every body goes back into the container (inactive: invisible, no collisions).</summary>
        public void ParkAll()
        {
            foreach (var body in m_Bodies.Values)
            {
                body.Root.SetActive(false);
            }
        }

        public PlacedBody Take(string assetId, float scale)
        {
            var key = assetId + "@" + scale.ToString("R", CultureInfo.InvariantCulture);
            PlacedBody body;
            if (!m_Bodies.TryGetValue(key, out body))
            {
                body = Build(m_Catalogue.Asset(assetId), scale);
                m_Bodies[key] = body;
            }
            m_Recent.Remove(key);
            m_Recent.Add(key);
            Evict();
            return body;
        }

        /// <summary>The body a collider belongs to, or null (furniture, walls).</summary>
        public PlacedBody Owner(Collider collider)
        {
            PlacedBody body;
            return m_ByCollider.TryGetValue(collider, out body) ? body : null;
        }

        public void SetColour(PlacedBody body, float[] colour)
        {
            var rgb = colour != null && colour.Length == 3 ? colour : body.Asset.colour;
            foreach (var r in body.Tinted)
            {
                r.material.color = Frames.Colour(rgb);
            }
        }

        void Evict()
        {
            while (m_Recent.Count > MaxBodies)
            {
                var key = m_Recent[0];
                m_Recent.RemoveAt(0);
                var body = m_Bodies[key];
                if (body.Root.activeSelf)
                {
                    continue;
                }
                foreach (var c in body.Colliders)
                {
                    m_ByCollider.Remove(c);
                }
                Object.Destroy(body.Root);
                m_Bodies.Remove(key);
            }
        }

        PlacedBody Build(AssetDef asset, float scale)
        {
            var root = new GameObject(asset.id);
            root.SetActive(false);
            root.transform.SetParent(m_Parent, false);
            root.transform.localScale = Vector3.one * scale;
            // Kinematic: placement is analytic (ScenePlacer); RoomAgent's optional dynamic check
            // switches it off for a few simulated steps.
            var rb = root.AddComponent<Rigidbody>();
            rb.isKinematic = true;
            var body = new PlacedBody { Asset = asset, Scale = scale, Root = root };
            foreach (var part in asset.parts)
            {
                var go = CreatePart(part);
                go.transform.SetParent(root.transform, false);
                go.transform.localPosition = Frames.ToUnity(part.offset);
                var r = go.GetComponent<Renderer>();
                var own = part.colour != null && part.colour.Length == 3;
                r.material.color = Frames.Colour(own ? part.colour : asset.colour);
                if (!own)
                {
                    body.Tinted.Add(r);
                }
            }
            body.Colliders = root.GetComponentsInChildren<Collider>(true);
            body.Renderers = root.GetComponentsInChildren<Renderer>(true);
            foreach (var c in body.Colliders)
            {
                m_ByCollider[c] = body;
            }
            return body;
        }

        static GameObject CreatePart(PartDef part)
        {
            var s = part.size;
            switch (part.shape)
            {
                case "box":
                {
                    var go = GameObject.CreatePrimitive(PrimitiveType.Cube);  // 1 x 1 x 1
                    go.transform.localScale = Frames.SizeToUnity(2f * s[0], 2f * s[1], 2f * s[2]);
                    return go;
                }
                case "cylinder":
                {
                    var go = GameObject.CreatePrimitive(PrimitiveType.Cylinder);  // radius 0.5, height 2
                    go.transform.localScale = new Vector3(2f * s[0], s[1] / 2f, 2f * s[0]);
                    // The primitive comes with a capsule collider, whose rounded ends would let objects
                    // sink into a plate: collide with the cylinder mesh itself (convex, so that
                    // Physics.ComputePenetration can test it).
                    Object.DestroyImmediate(go.GetComponent<Collider>());
                    var mesh = go.AddComponent<MeshCollider>();
                    mesh.sharedMesh = go.GetComponent<MeshFilter>().sharedMesh;
                    mesh.convex = true;
                    return go;
                }
                case "sphere":
                {
                    var go = GameObject.CreatePrimitive(PrimitiveType.Sphere);  // diameter 1
                    go.transform.localScale = Vector3.one * (2f * s[0]);
                    return go;
                }
                default:
                    throw new System.ArgumentException("unknown part shape '" + part.shape + "'");
            }
        }
    }
}
