// The scene container (as in the paper): the five rooms, built once from the catalogue; one is
// active at a time (the others are inactive: invisible, no collisions).
using System.Collections.Generic;
using UnityEngine;

namespace Rls3
{
    public class SceneContainer
    {
        static readonly Vector4 Background = Vector4.zero;  // segmentation id 0: not an object

        readonly Catalogue m_Catalogue;
        readonly Transform m_Parent;
        readonly Dictionary<string, GameObject> m_Rooms = new Dictionary<string, GameObject>();
        // every collider of every room -> its furniture (null for floor and walls)
        readonly Dictionary<Collider, FurnitureDef> m_Furniture = new Dictionary<Collider, FurnitureDef>();
        readonly Dictionary<string, List<Collider>> m_Colliders = new Dictionary<string, List<Collider>>();

        public RoomDef Active { get; private set; }

        public SceneContainer(Catalogue catalogue, Transform parent)
        {
            m_Catalogue = catalogue;
            m_Parent = parent;
        }

        public void Activate(string roomId)
        {
            var room = m_Catalogue.Room(roomId);
            if (!m_Rooms.ContainsKey(roomId))
            {
                Build(room);
            }
            foreach (var kv in m_Rooms)
            {
                kv.Value.SetActive(kv.Key == roomId);
            }
            Active = room;
        }

        /// <summary>The active room's colliders in catalogue order (furniture, then floor and walls).</summary>
        public List<Collider> ActiveColliders
        {
            get { return m_Colliders[Active.id]; }
        }

        /// <summary>True if the collider belongs to a room; <paramref name="furniture"/> is null for floor and walls.</summary>
        public bool TryFurniture(Collider collider, out FurnitureDef furniture)
        {
            return m_Furniture.TryGetValue(collider, out furniture);
        }

        void Build(RoomDef room)
        {
            var root = new GameObject(room.id);
            root.transform.SetParent(m_Parent, false);
            var colliders = new List<Collider>();
            foreach (var f in room.furniture)
            {
                colliders.Add(Box(root.transform, f.id, f.centre, f.half_extents, f.colour));
                m_Furniture[colliders[colliders.Count - 1]] = f;
            }
            foreach (var b in room.shell)
            {
                colliders.Add(Box(root.transform, "shell", b.centre, b.half_extents, b.colour));
                m_Furniture[colliders[colliders.Count - 1]] = null;
            }
            m_Rooms[room.id] = root;
            m_Colliders[room.id] = colliders;
        }

        static Collider Box(Transform parent, string name, float[] centre, float[] half, float[] colour)
        {
            var go = GameObject.CreatePrimitive(PrimitiveType.Cube);
            go.name = name;
            go.transform.SetParent(parent, false);
            go.transform.localPosition = Frames.ToUnity(centre);
            go.transform.localScale = Frames.SizeToUnity(2f * half[0], 2f * half[1], 2f * half[2]);
            var material = go.GetComponent<Renderer>().material;
            material.color = Frames.Colour(colour);
            material.SetVector(SegmentationRenderer.ColourProperty, Background);
            return go.GetComponent<Collider>();
        }
    }
}
