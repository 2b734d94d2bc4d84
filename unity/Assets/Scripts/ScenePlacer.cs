// Placement and validity, the same rules as the embedded backend (rls3_bench/backends/embedded.py),
// so a scene is valid or not for the same reason in both:
//
// 1. Settling is analytic, in spec order: vertical rays over the object's footprint (the catalogue's
//    sample points) find the highest surface below the requested height, and the object's bottom
//    goes there. The collider hit is its support. Unplaced objects are inactive, so rays only meet
//    the room and the objects placed before.
// 2. Validity, first broken rule wins: overlap (interpenetration deeper than overlap_tol_m with
//    another object, or with furniture other than its support), unsupported (lands on the floor, a
//    leg or nothing, or its centre of mass is not over its support), then visibility (RoomAgent).
using System.Collections.Generic;
using UnityEngine;

namespace Rls3
{
    public class Placement
    {
        public float X, Y, Z;   // settled bottom centre, SceneSpec frame
        public string Support;  // furniture id, "object:<asset>", or null
        public string Problem;  // why it is unsupported, or null
    }

    public static class ScenePlacer
    {
        /// <summary>Rays go down to this height (m): below the floor's top.</summary>
        const float RayFloorZ = -0.5f;

        public static Placement[] Settle(SceneSpecJson spec, PlacedBody[] bodies, SceneContainer rooms, ObjectContainer objects, RulesDef rules)
        {
            var placements = new Placement[bodies.Length];
            for (var i = 0; i < bodies.Length; i++)
            {
                var placement = Drop(spec.objects[i], bodies[i], rooms, objects, rules);
                var root = bodies[i].Root;
                root.transform.position = Frames.ToUnity(placement.X, placement.Y, placement.Z);
                root.transform.rotation = Frames.Yaw(spec.objects[i].yaw_deg);
                root.SetActive(true);
                Physics.SyncTransforms();  // later rays must see it
                placements[i] = placement;
            }
            return placements;
        }

        static bool CastDown(float x, float y, float z, out RaycastHit hit)
        {
            var origin = Frames.ToUnity(x, y, z);
            return Physics.Raycast(origin, Vector3.down, out hit, z - RayFloorZ, Physics.DefaultRaycastLayers, QueryTriggerInteraction.Ignore);
        }

        static Placement Drop(PlacedJson obj, PlacedBody body, SceneContainer rooms, ObjectContainer objects, RulesDef rules)
        {
            float x = obj.position[0], y = obj.position[1], z = obj.position[2], s = body.Scale;
            var fp = body.Asset.footprint;
            var best = float.NegativeInfinity;
            var bestContact = 0f;
            Collider bestCollider = null;
            for (var k = 0; k + 2 < fp.Length; k += 3)
            {
                var xy = Frames.RotateXY(fp[k] * s, fp[k + 1] * s, obj.yaw_deg);
                var bottom = fp[k + 2] * s;
                RaycastHit hit;
                if (!CastDown(x + xy.x, y + xy.y, z + bottom + rules.ray_lift_m, out hit))
                {
                    continue;
                }
                var candidate = hit.point.y - bottom;  // Unity's y is the spec's z
                if (candidate > best)
                {
                    best = candidate;
                    bestContact = hit.point.y;
                    bestCollider = hit.collider;
                }
            }
            if (bestCollider == null)
            {
                return new Placement { X = x, Y = y, Z = 0f, Problem = "nothing under it" };
            }
            var placement = new Placement { X = x, Y = y, Z = best };
            var owner = objects.Owner(bestCollider);
            FurnitureDef furniture = null;
            var inRoom = owner == null && rooms.TryFurniture(bestCollider, out furniture);
            if (owner != null)
            {
                placement.Support = "object:" + owner.Asset.id;
            }
            else if (inRoom && furniture != null && !string.IsNullOrEmpty(furniture.support))
            {
                placement.Support = furniture.id;
            }
            else
            {
                placement.Problem = "lands on " + (furniture != null ? furniture.id : "the floor");
                return placement;
            }
            // the centre-of-mass probe must meet the same body, not lower than the contact
            var com = Frames.RotateXY(body.Asset.com_xy[0] * s, body.Asset.com_xy[1] * s, obj.yaw_deg);
            RaycastHit comHit;
            var hitSame = CastDown(x + com.x, y + com.y, z + rules.ray_lift_m, out comHit)
                          && SameBody(comHit.collider, bestCollider, objects);
            if (!hitSame || comHit.point.y < bestContact - rules.centre_drop_tol_m)
            {
                placement.Problem = "centre of mass not over " + placement.Support;
            }
            return placement;
        }

        static bool SameBody(Collider a, Collider b, ObjectContainer objects)
        {
            var oa = objects.Owner(a);
            return oa != null ? oa == objects.Owner(b) : a == b;
        }

        public static string FirstOverlap(SceneSpecJson spec, PlacedBody[] bodies, Placement[] placements, SceneContainer rooms, RulesDef rules)
        {
            for (var i = 0; i < bodies.Length; i++)
            {
                for (var j = i + 1; j < bodies.Length; j++)
                {
                    if (Penetrates(bodies[i].Colliders, bodies[j].Colliders, rules.overlap_tol_m))
                    {
                        return "overlap: " + spec.objects[i].asset + "/" + spec.objects[j].asset;
                    }
                }
                foreach (var c in rooms.ActiveColliders)
                {
                    FurnitureDef furniture;
                    rooms.TryFurniture(c, out furniture);
                    if (furniture != null && furniture.id == placements[i].Support)
                    {
                        continue;
                    }
                    if (Penetrates(bodies[i].Colliders, new[] { c }, rules.overlap_tol_m))
                    {
                        return "overlap: " + spec.objects[i].asset + "/" + (furniture != null ? furniture.id : "wall");
                    }
                }
            }
            return null;
        }

        public static string FirstUnsupported(SceneSpecJson spec, Placement[] placements)
        {
            for (var i = 0; i < placements.Length; i++)
            {
                if (placements[i].Problem != null)
                {
                    return "unsupported: " + spec.objects[i].asset + " (" + placements[i].Problem + ")";
                }
            }
            return null;
        }

        static bool Penetrates(IList<Collider> a, IList<Collider> b, float tolerance)
        {
            foreach (var ca in a)
            {
                foreach (var cb in b)
                {
                    Vector3 direction;
                    float distance;
                    var ta = ca.transform;
                    var tb = cb.transform;
                    if (Physics.ComputePenetration(ca, ta.position, ta.rotation, cb, tb.position, tb.rotation, out direction, out distance)
                        && distance > tolerance)
                    {
                        return true;
                    }
                }
            }
            return false;
        }

        /// <summary>World AABB of the body's colliders, as SceneSpec-frame (min, max).</summary>
        public static void Aabb(PlacedBody body, out float[] min, out float[] max)
        {
            var bounds = body.Colliders[0].bounds;
            for (var i = 1; i < body.Colliders.Length; i++)
            {
                bounds.Encapsulate(body.Colliders[i].bounds);
            }
            min = Frames.FromUnity(bounds.min);
            max = Frames.FromUnity(bounds.max);
        }
    }
}
