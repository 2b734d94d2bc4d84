// The asset catalogue: the objects, rooms and placement rules the player builds, exported from the
// Python package (python -m rls3_bench.backends.unity write-catalogue) to
// Assets/StreamingAssets/rls3_catalogue.json, so both backends build the same primitives and apply
// the same tolerances. The player reports the file's digest; the Python backend refuses a player
// whose digest differs from its own catalogue's.
//
// Frame of every number here: the SceneSpec's (z up, metres, degrees); see Frames.cs.
// Unity's JsonUtility has no nulls and no nested arrays, hence [] for "the object's colour", "" for
// "not a support", and flat footprint arrays.
using System;
using System.Collections.Generic;
using System.IO;
using UnityEngine;

namespace Rls3
{
    [Serializable]
    public class PartDef
    {
        public string shape;     // "box" (size = half extents), "cylinder" (radius, height, 0; axis up), "sphere" (radius, 0, 0)
        public float[] size;
        public float[] offset;   // centre relative to the object's bottom centre
        public float[] colour;   // [] = the object's colour
    }

    [Serializable]
    public class AssetDef
    {
        public string id;
        public string name;
        public float[] colour;
        public PartDef[] parts;
        public float[] footprint;  // (x, y, bottom z) triples under the object at scale 1: where rays are cast
        public float[] com_xy;     // centre of mass (uniform density) at scale 1
    }

    [Serializable]
    public class FurnitureDef
    {
        public string id;
        public float[] centre;
        public float[] half_extents;
        public float[] colour;
        public string support;  // "" = objects may not stand on it (legs, walls)
    }

    [Serializable]
    public class BoxDef
    {
        public float[] centre;
        public float[] half_extents;
        public float[] colour;
    }

    [Serializable]
    public class RoomDef
    {
        public string id;
        public string name;
        public float[] floor_colour;
        public float[] wall_colour;
        public FurnitureDef[] furniture;
        public BoxDef[] shell;  // floor and walls
        public float[] camera_eye;
        public float[] camera_target;
        public float camera_fov_deg;
    }

    [Serializable]
    public class RulesDef
    {
        public int active_objects;
        public float ray_lift_m;
        public float overlap_tol_m;
        public float centre_drop_tol_m;
        public float near_m;
        public float far_m;
        public float[] park;
    }

    [Serializable]
    public class LightDef
    {
        public float[] lightDirection;
        public float[] lightColor;
        public float lightAmbientCoeff;
        public float lightDiffuseCoeff;
    }

    [Serializable]
    public class Catalogue
    {
        public const string FileName = "rls3_catalogue.json";

        public int schema_version;
        public int scene_protocol;
        public AssetDef[] assets;
        public RoomDef[] rooms;
        public RulesDef rules;
        public LightDef light;
        public string digest;

        Dictionary<string, AssetDef> m_Assets;
        Dictionary<string, RoomDef> m_Rooms;

        public static Catalogue Load()
        {
            var path = Path.Combine(Application.streamingAssetsPath, FileName);
            if (!File.Exists(path))
            {
                throw new InvalidOperationException("missing " + path + "; export it with `python -m rls3_bench.backends.unity write-catalogue`");
            }
            var catalogue = JsonUtility.FromJson<Catalogue>(File.ReadAllText(path));
            catalogue.Index();
            return catalogue;
        }

        void Index()
        {
            m_Assets = new Dictionary<string, AssetDef>();
            foreach (var a in assets)
            {
                m_Assets[a.id] = a;
            }
            m_Rooms = new Dictionary<string, RoomDef>();
            foreach (var r in rooms)
            {
                m_Rooms[r.id] = r;
            }
        }

        public AssetDef Asset(string id)
        {
            AssetDef a;
            if (!m_Assets.TryGetValue(id, out a))
            {
                throw new ArgumentException("unknown asset '" + id + "' (not in this player's catalogue)");
            }
            return a;
        }

        public RoomDef Room(string id)
        {
            RoomDef r;
            if (!m_Rooms.TryGetValue(id, out r))
            {
                throw new ArgumentException("unknown room '" + id + "' (not in this player's catalogue)");
            }
            return r;
        }
    }
}
