"""The embedded simulator backend: PyBullet, in process, no external binaries.

How a spec becomes an :class:`~rls3_bench.backends.base.Observation`:

1. **Room.** Each room (floor, walls, furniture boxes) is built once, on first use, and kept. When the
   spec's room changes, the previous room's bodies are parked far outside every camera's far plane
   (re-posing ~12 boxes costs ~0.1 ms, rebuilding a room ~10 ms; see docs/performance.md).
2. **Objects.** One body per (asset, scale), built lazily from the asset's primitives and cached; a
   scene re-poses the bodies it needs and parks all others. The base link carries the whole compound
   collision shape (rays, contacts and ``getAABB`` see every part); each part is drawn by its own link
   so each can have its own colour (the EGL renderer ignores per-shape colours within one link).
3. **Settling** is analytic, not simulated, so the result depends on the spec alone (a dynamic
   simulation would depend on contact caches left by earlier scenes). Objects are dropped in spec
   order: vertical rays over the object's footprint find the highest surface below the requested
   height, and the object's bottom goes there. The body hit is its support.
4. **Validity**, first broken rule wins: ``overlap`` (interpenetration with another object or with
   furniture other than its support), ``unsupported`` (lands on the floor / a leg / nothing, or its
   centre of mass is not over its support), ``outside view`` / ``not visible`` (an active object covers
   fewer than ``min_visible_fraction`` of the pixels).
5. **Validity versions.** Version 1 (the default; the results of existing tracks depend on it) keeps
   the built rooms and bodies and re-poses them, so a scene's validity can depend on what was rendered
   before: Bullet's broadphase keeps a bounding box per body that is set when the body is created and
   replaced once the body has been moved (parked and brought back) or collision detection has run, and
   a vertical ray that grazes a face (or starts on it) hits that face or not depending on which box the
   broadphase tests. Such a ray can "support" an object inside
   the furniture it touches, e.g. a vase cutting into the bedroom's desk organiser is ``overlap`` on a
   fresh backend and valid after the bedroom was parked and brought back. Version 2 resets the physics
   world before each scene and builds the room and the scene's bodies afresh, so every scene sees the
   state a fresh backend has: the same observation, bit for bit, whatever was rendered before.
6. **Rendering** with fixed lighting and no shadows: TinyRenderer (pure CPU) or the EGL renderer
   plugin (OpenGL; on a CPU-only machine Mesa's llvmpipe). Same spec + same renderer + same machine
   stack -> the same image, bit for bit, whatever was rendered before.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import pkgutil
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from rls3_bench.backends.base import Backend, ObjectState, Observation, check_image_size, check_min_visible_fraction
from rls3_bench.backends.geometry import centre_of_mass_xy, part_footprint, room_shell
from rls3_bench.backends.quiet import quiet_c_output
from rls3_bench.errors import UserError
from rls3_bench.scene.assets import ACTIVE_OBJECTS, ASSETS, ROOMS, Asset, Furniture, Part, Room
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec

with quiet_c_output():  # pybullet writes a 'build time' banner to stderr at import: not a message for the user
    import pybullet as p

RENDERERS = ("auto", "tiny", "egl")
#: 1: bodies are cached and re-posed (validity can depend on earlier scenes); 2: a fresh world per scene.
VALIDITY_VERSIONS = (1, 2)

#: Clip planes (m). The far plane is well beyond the room's diagonal and far short of PARK.
NEAR_M, FAR_M = 0.02, 20.0
#: Where unused bodies wait: far beyond the far plane of any camera inside the room.
PARK = (0.0, 0.0, -1000.0)
#: Fixed light, so images do not depend on anything but the spec.
LIGHT = dict(
    lightDirection=(0.4, -0.8, 1.0),
    lightColor=(1.0, 1.0, 1.0),
    lightDistance=4.0,
    lightAmbientCoeff=0.55,
    lightDiffuseCoeff=0.5,
    lightSpecularCoeff=0.05,
    shadow=0,
)

#: Rays start this far above the requested bottom, so a spec whose z equals a surface finds it.
RAY_LIFT_M = 0.01
#: Interpenetration deeper than this is an overlap (contacts from settling sit at ~0).
OVERLAP_TOL_M = 0.002
#: The ray under the centre of mass must meet the support within this of the contact height.
CENTRE_DROP_TOL_M = 0.01
#: Bodies cached beyond the scene in use (distinct scales make distinct bodies).
MAX_OBJECT_BODIES = 32


# --- geometry helpers ------------------------------------------------------------------------
def camera_matrices(camera: CameraPose) -> tuple[list[float], list[float]]:
    """PyBullet's (column-major) view and projection matrices for ``camera``; images are square."""
    view = p.computeViewMatrix(camera.eye, camera.target, (0.0, 0.0, 1.0))
    proj = p.computeProjectionMatrixFOV(camera.fov_deg, 1.0, NEAR_M, FAR_M)
    return list(view), list(proj)


def project_points(camera: CameraPose, points, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Project world points to pixel coordinates, the same way the renderer does.

    :returns: ``(px, in_front)``: ``px`` is ``(N, 2)`` float (column, row) where integer values are
        pixel centres (pixel ``(0, 0)`` is the top-left one, so a mask's mean index matches);
        ``in_front`` is ``(N,)`` bool, True where the point lies in front of the camera.
    """
    view, proj = camera_matrices(camera)
    m = np.array(proj).reshape(4, 4).T @ np.array(view).reshape(4, 4).T
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    clip = np.c_[pts, np.ones(len(pts))] @ m.T
    w = clip[:, 3]
    ndc = clip[:, :2] / w[:, None]
    col = (ndc[:, 0] + 1.0) / 2.0 * image_size - 0.5
    row = (1.0 - ndc[:, 1]) / 2.0 * image_size - 0.5
    return np.c_[col, row], w > 0


def _yaw_quat(yaw_deg: float) -> tuple[float, float, float, float]:
    return p.getQuaternionFromEuler((0.0, 0.0, math.radians(yaw_deg)))


def _rotate_xy(xy: np.ndarray, yaw_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return xy @ np.array([[c, s], [-s, c]])


def _rgba(rgb) -> list[float]:
    return [*rgb, 1.0]


# --- cached world content -----------------------------------------------------------------------
@dataclass
class _RoomBodies:
    """The bodies of one built room; ``furniture`` maps a body to its furniture (None: floor/wall)."""

    furniture: dict[int, Furniture | None]
    poses: dict[int, tuple[tuple[float, float, float], tuple[float, ...]]]


@dataclass
class _ObjectBody:
    body: int
    collision_shape: int
    footprint: np.ndarray  # (N, 3) local x, y, bottom z at this scale
    com_xy: np.ndarray  # local centre of mass xy at this scale
    tinted_links: tuple[int, ...]  # links whose colour follows the object's colour
    colour: tuple[float, float, float] | None = None  # colour currently applied


@dataclass
class _Placement:
    position: tuple[float, float, float]
    support: str | None
    problem: str | None  # why it is unsupported, if it is


class EmbeddedBackend(Backend):
    """PyBullet backend. ``with EmbeddedBackend(image_size=128) as b: obs = b.observe(spec)``.

    :param image_size: side of the square image (pixels).
    :param renderer: ``"tiny"`` (TinyRenderer, CPU), ``"egl"`` (PyBullet's EGL plugin) or ``"auto"``
        (EGL if it loads and renders here, else tiny).
    :param min_visible_fraction: an active object must cover at least this fraction of the image.
    :param validity_version: 1 (default) re-poses cached bodies: fast, but validity can depend on the
        scenes rendered before (see the module notes); 2 renders every scene in a freshly reset world,
        so the observation depends on the spec alone.
    """

    name = "embedded"

    def __init__(
        self,
        image_size: int = 128,
        renderer: str = "auto",
        min_visible_fraction: float = 0.002,
        validity_version: int = 1,
    ) -> None:
        self.check_options(
            image_size, renderer, min_visible_fraction=min_visible_fraction, validity_version=validity_version
        )
        self.image_size = int(image_size)
        self.min_visible_fraction = float(min_visible_fraction)
        self.validity_version = int(validity_version)
        self._client: int | None = p.connect(p.DIRECT)
        self._egl_plugin = -1
        self._renderer = self._select_renderer(renderer)
        self._rooms: dict[str, _RoomBodies] = {}
        self._room: str | None = None
        self._objects: OrderedDict[tuple[str, float], _ObjectBody] = OrderedDict()
        self._built_since_render = True

    @classmethod
    def check_options(cls, *args, **options) -> None:
        """The constructor's checks (its defaults filled in), starting no physics server."""
        super().check_options(*args, **options)
        bound = inspect.signature(cls.__init__).bind(None, *args, **options)
        bound.apply_defaults()
        _check_args(**{k: v for k, v in bound.arguments.items() if k != "self"})

    # --- Backend interface -----------------------------------------------------------------
    @property
    def renderer(self) -> str:
        return self._renderer

    @property
    def min_visible_pixels(self) -> int:
        return math.ceil(self.min_visible_fraction * self.image_size**2)

    def observe(self, spec: SceneSpec) -> Observation:
        if self._client is None:
            raise UserError("this EmbeddedBackend is closed; create a new one (use it as a context manager)")
        if self.validity_version == 2:
            self._reset_world()
        room = self._use_room(spec.room)
        bodies = self._use_objects(spec.objects)
        placements = self._settle(spec.objects, bodies, room)
        self._apply_colours(spec.objects, bodies)
        # Overlap first: a requested pose that already cuts into something is the cause, whatever
        # the drop then found under it. Both are geometry, so a scene they reject is not rendered
        # (most invalid scenes; docs/performance.md): its image is black and its segmentation empty.
        reason = self._first_overlap(spec.objects, bodies, placements, room) or _first_unsupported(
            spec.objects, placements
        )
        if reason is None:
            image, seg = self._render(spec.camera, [b.body for b in bodies])
        else:
            n = self.image_size
            image, seg = np.zeros((n, n, 3), np.uint8), np.full((n, n), -1, np.int16)
        states = self._states(spec.objects, bodies, placements, seg)
        reason = reason or self._first_hidden(spec, states)
        return Observation(
            spec=spec,
            image=image,
            segmentation=seg,
            objects=states,
            valid=reason is None,
            invalid_reason=reason,
            renderer=self._renderer,
        )

    def close(self) -> None:
        if self._client is None:
            return
        with quiet_c_output():
            p.disconnect(physicsClientId=self._client)
        self._client = None

    def __del__(self) -> None:  # a forgotten backend must not keep its physics server
        # try/except, not contextlib: at interpreter exit the module's globals may already be gone
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110
            pass

    # --- renderer -----------------------------------------------------------------------------
    def _select_renderer(self, choice: str) -> str:
        if choice == "tiny" or (choice == "auto" and not self._load_egl()):
            return "pybullet-tiny"
        if choice == "egl" and not self._load_egl():
            self.close()
            raise UserError(
                "the PyBullet EGL renderer is not available here (needs libEGL and Mesa: "
                "apt-get install libegl1 libgl1-mesa-dri); use renderer='tiny' or 'auto'"
            )
        return "pybullet-egl"

    def _load_egl(self) -> bool:
        """Load the EGL plugin and check it renders; False (nothing loaded) if either fails."""
        loader = pkgutil.get_loader("eglRenderer")
        if loader is None:
            return False
        n = self.image_size  # the plugin reports again when the size changes: probe at the real size
        with quiet_c_output():
            plugin = p.loadPlugin(loader.get_filename(), "_eglRendererPlugin", physicsClientId=self._client)
            if plugin < 0:
                return False
            try:
                _, _, rgb, _, _ = p.getCameraImage(
                    n, n, renderer=p.ER_BULLET_HARDWARE_OPENGL, physicsClientId=self._client
                )
                ok = np.asarray(rgb).size == n * n * 4
            except p.error:
                ok = False
        if not ok:
            p.unloadPlugin(plugin, physicsClientId=self._client)
            return False
        self._egl_plugin = plugin
        return True

    def _render(self, camera: CameraPose, bodies: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """RGB image and segmentation as indices into ``bodies`` (-1 for everything else)."""
        view, proj = camera_matrices(camera)
        kind = p.ER_BULLET_HARDWARE_OPENGL if self._renderer == "pybullet-egl" else p.ER_TINY_RENDERER
        n = self.image_size
        egl = kind == p.ER_BULLET_HARDWARE_OPENGL
        # The EGL plugin's first frame after new bodies appear differs in a few pixels from every later
        # one; rendering it once more makes the image independent of what was built before.
        passes = 2 if egl and self._built_since_render else 1
        with quiet_c_output() if egl else contextlib.nullcontext():  # it prints its GL vendor at times
            for _ in range(passes):
                _, _, rgba, _, raw = p.getCameraImage(
                    n, n, view, proj, renderer=kind, physicsClientId=self._client, **LIGHT
                )
        self._built_since_render = False
        image = np.ascontiguousarray(np.asarray(rgba, dtype=np.uint8).reshape(n, n, 4)[:, :, :3])
        raw = np.asarray(raw, dtype=np.int64).reshape(n, n)
        lut = np.full(max(max(bodies), int(raw.max())) + 2, -1, dtype=np.int16)
        lut[np.array(bodies) + 1] = np.arange(len(bodies), dtype=np.int16)
        return image, lut[raw + 1]  # raw is -1 for background

    def _reset_world(self) -> None:
        """Empty the physics world, so the scene is built into the state a fresh backend starts from."""
        p.resetSimulation(physicsClientId=self._client)
        self._rooms.clear()
        self._room = None
        self._objects.clear()
        self._built_since_render = True

    # --- rooms -----------------------------------------------------------------------------------
    def _use_room(self, room_id: str) -> _RoomBodies:
        if self._room != room_id:
            if self._room is not None:
                self._park_room(self._rooms[self._room])
            if room_id in self._rooms:
                self._unpark_room(self._rooms[room_id])
            else:
                self._rooms[room_id] = self._build_room(ROOMS[room_id])
                self._built_since_render = True
            self._room = room_id
        return self._rooms[room_id]

    def _build_room(self, room: Room) -> _RoomBodies:
        built = _RoomBodies({}, {})
        for furniture in room.furniture:
            body = self._box(furniture.centre, furniture.half_extents, furniture.colour)
            built.furniture[body] = furniture
        for centre, half, colour in room_shell(room):
            built.furniture[self._box(centre, half, colour)] = None
        for body in built.furniture:
            built.poses[body] = p.getBasePositionAndOrientation(body, physicsClientId=self._client)
        return built

    def _box(self, centre, half_extents, colour) -> int:
        c = self._client
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half_extents, physicsClientId=c)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half_extents, rgbaColor=_rgba(colour), physicsClientId=c)
        return p.createMultiBody(0.0, col, vis, basePosition=centre, physicsClientId=c)

    def _park_room(self, room: _RoomBodies) -> None:
        for body in room.furniture:
            self._park(body)

    def _unpark_room(self, room: _RoomBodies) -> None:
        for body, (pos, orn) in room.poses.items():
            p.resetBasePositionAndOrientation(body, pos, orn, physicsClientId=self._client)

    def _park(self, body: int) -> None:
        p.resetBasePositionAndOrientation(body, PARK, (0.0, 0.0, 0.0, 1.0), physicsClientId=self._client)

    # --- objects ---------------------------------------------------------------------------------
    def _use_objects(self, placed: tuple[PlacedObject, ...]) -> list[_ObjectBody]:
        """The scene's bodies (built if needed), all parked; every other cached body parked too."""
        keys = [(o.asset, o.scale) for o in placed]
        bodies = []
        for key in keys:
            if key not in self._objects:
                self._objects[key] = self._build_object(ASSETS[key[0]], key[1])
                self._built_since_render = True
            self._objects.move_to_end(key)
            bodies.append(self._objects[key])
        self._evict(set(keys))
        for ob in self._objects.values():
            self._park(ob.body)
        return bodies

    def _evict(self, keep: set) -> None:
        """Drop least recently used bodies beyond the cache size (never the scene's own)."""
        for key in list(self._objects):
            if len(self._objects) <= MAX_OBJECT_BODIES:
                break
            if key not in keep:
                ob = self._objects.pop(key)
                p.removeBody(ob.body, physicsClientId=self._client)
                p.removeCollisionShape(ob.collision_shape, physicsClientId=self._client)

    def _build_object(self, asset: Asset, scale: float) -> _ObjectBody:
        """Base = compound collision of all parts + visual of part 0; part i>0 = visual-only link i-1."""
        c = self._client
        col = p.createCollisionShapeArray(
            [_GEOM[q.shape] for q in asset.parts],
            radii=[q.size[0] * scale for q in asset.parts],
            lengths=[q.size[1] * scale for q in asset.parts],
            halfExtents=[[s * scale for s in q.size] for q in asset.parts],
            collisionFramePositions=[[o * scale for o in q.offset] for q in asset.parts],
            physicsClientId=c,
        )
        visuals = [self._part_visual(q, scale, asset.colour) for q in asset.parts]
        links = len(visuals) - 1
        body = p.createMultiBody(
            0.0,
            col,
            visuals[0],
            basePosition=PARK,
            linkMasses=[0.0] * links,
            linkCollisionShapeIndices=[-1] * links,
            linkVisualShapeIndices=visuals[1:],
            linkPositions=[[0.0, 0.0, 0.0]] * links,
            linkOrientations=[[0.0, 0.0, 0.0, 1.0]] * links,
            linkInertialFramePositions=[[0.0, 0.0, 0.0]] * links,
            linkInertialFrameOrientations=[[0.0, 0.0, 0.0, 1.0]] * links,
            linkParentIndices=[0] * links,
            linkJointTypes=[p.JOINT_FIXED] * links,
            linkJointAxis=[[0.0, 0.0, 1.0]] * links,
            physicsClientId=c,
        )
        footprint = np.concatenate([part_footprint(q) for q in asset.parts]) * scale
        tinted = tuple(i - 1 for i, q in enumerate(asset.parts) if q.colour is None)  # link -1 is the base
        return _ObjectBody(body, col, footprint, centre_of_mass_xy(asset) * scale, tinted, asset.colour)

    def _part_visual(self, part: Part, scale: float, colour) -> int:
        size = [s * scale for s in part.size]
        shape = dict(
            box=dict(halfExtents=size), cylinder=dict(radius=size[0], length=size[1]), sphere=dict(radius=size[0])
        )[part.shape]
        return p.createVisualShape(
            _GEOM[part.shape],
            visualFramePosition=[o * scale for o in part.offset],
            rgbaColor=_rgba(part.colour or colour),
            physicsClientId=self._client,
            **shape,
        )

    def _apply_colours(self, placed: tuple[PlacedObject, ...], bodies: list[_ObjectBody]) -> None:
        for obj, ob in zip(placed, bodies, strict=True):
            colour = obj.colour or ASSETS[obj.asset].colour
            if colour != ob.colour:
                for link in ob.tinted_links:
                    p.changeVisualShape(ob.body, link, rgbaColor=_rgba(colour), physicsClientId=self._client)
                ob.colour = colour

    # --- settling -------------------------------------------------------------------------------
    def _settle(self, placed, bodies: list[_ObjectBody], room: _RoomBodies) -> list[_Placement]:
        """Drop each object in spec order onto the highest surface under its footprint."""
        owner = {}  # body -> "object:<asset>" for objects already standing
        out = []
        for obj, ob in zip(placed, bodies, strict=True):
            placement = self._drop(obj, ob, room, owner)
            p.resetBasePositionAndOrientation(
                ob.body, placement.position, _yaw_quat(obj.yaw_deg), physicsClientId=self._client
            )
            owner[ob.body] = f"object:{obj.asset}"
            out.append(placement)
        return out

    def _drop(self, obj: PlacedObject, ob: _ObjectBody, room: _RoomBodies, owner: dict[int, str]) -> _Placement:
        x, y, z = obj.position
        xy = _rotate_xy(ob.footprint[:, :2], obj.yaw_deg) + (x, y)
        com = _rotate_xy(ob.com_xy[None, :], obj.yaw_deg)[0] + (x, y)
        bottoms = np.r_[ob.footprint[:, 2], 0.0]  # the last ray is the centre-of-mass probe
        starts = np.c_[np.r_[xy, com[None]], z + bottoms + RAY_LIFT_M]
        ends = starts * (1, 1, 0) + (0, 0, -0.5)
        hits = p.rayTestBatch(starts.tolist(), ends.tolist(), physicsClientId=self._client)
        hit_body = np.array([h[0] for h in hits])
        hit_z = np.array([h[3][2] for h in hits])
        foot = hit_body[:-1] >= 0
        if not foot.any():  # only possible outside the floor
            return _Placement((x, y, 0.0), None, "nothing under it")
        candidates = np.where(foot, hit_z[:-1] - bottoms[:-1], -np.inf)
        best = int(np.argmax(candidates))
        position = (x, y, float(candidates[best]))
        body, contact_z = int(hit_body[best]), float(hit_z[best])
        support = owner.get(body) or _support_name(room.furniture.get(body))
        if support is None:
            what = room.furniture.get(body)
            return _Placement(position, None, f"lands on {what.id if what else 'the floor'}")
        if hit_body[-1] != body or hit_z[-1] < contact_z - CENTRE_DROP_TOL_M:
            return _Placement(position, support, f"centre of mass not over {support}")
        return _Placement(position, support, None)

    # --- validity -------------------------------------------------------------------------------
    def _first_overlap(
        self, placed, bodies: list[_ObjectBody], placements: list[_Placement], room: _RoomBodies
    ) -> str | None:
        c = self._client
        for i, (obj, ob) in enumerate(zip(placed, bodies, strict=True)):
            for other, ob2 in zip(placed[i + 1 :], bodies[i + 1 :], strict=True):
                if _penetrates(ob.body, ob2.body, c):
                    return f"overlap: {obj.asset}/{other.asset}"
            for body, furniture in room.furniture.items():
                if furniture is not None and furniture.id == placements[i].support:
                    continue
                if _penetrates(ob.body, body, c):
                    return f"overlap: {obj.asset}/{furniture.id if furniture else 'wall'}"
        return None

    def _first_hidden(self, spec: SceneSpec, states: tuple[ObjectState, ...]) -> str | None:
        need = self.min_visible_pixels
        for state in states[:ACTIVE_OBJECTS]:
            if state.visible_pixels >= need:
                continue
            centre = (np.array(state.aabb_min) + np.array(state.aabb_max)) / 2
            px, in_front = project_points(spec.camera, centre, self.image_size)
            if not in_front[0] or not ((-0.5 <= px[0]) & (px[0] < self.image_size - 0.5)).all():
                return f"outside view: {state.asset}"
            return f"not visible: {state.asset} ({state.visible_pixels} px < {need})"
        return None

    def _states(self, placed, bodies, placements, seg: np.ndarray) -> tuple[ObjectState, ...]:
        counts, cols, rows = _mask_moments(seg, len(placed))
        out = []
        for i, (obj, ob, pl) in enumerate(zip(placed, bodies, placements, strict=True)):
            lo, hi = p.getAABB(ob.body, -1, physicsClientId=self._client)
            n = int(counts[i])
            out.append(
                ObjectState(
                    asset=obj.asset,
                    position=pl.position,
                    yaw_deg=obj.yaw_deg,
                    aabb_min=tuple(lo),
                    aabb_max=tuple(hi),
                    support=pl.support,
                    visible_pixels=n,
                    centroid_px=(float(cols[i] / n), float(rows[i] / n)) if n else None,
                )
            )
        return tuple(out)


_GEOM = {"box": p.GEOM_BOX, "cylinder": p.GEOM_CYLINDER, "sphere": p.GEOM_SPHERE}


def _check_args(image_size, renderer, min_visible_fraction, validity_version) -> None:
    check_image_size(image_size)
    if renderer not in RENDERERS:
        raise UserError(f"unknown renderer {renderer!r}; valid renderers: {', '.join(RENDERERS)}")
    check_min_visible_fraction(min_visible_fraction)
    if isinstance(validity_version, bool) or validity_version not in VALIDITY_VERSIONS:
        raise UserError(
            f"unknown validity_version {validity_version!r}; valid versions: "
            f"{', '.join(map(str, VALIDITY_VERSIONS))} (2 makes validity independent of earlier scenes)"
        )


def _support_name(furniture: Furniture | None) -> str | None:
    return furniture.id if furniture is not None and furniture.support else None


def _first_unsupported(placed, placements: list[_Placement]) -> str | None:
    for obj, pl in zip(placed, placements, strict=True):
        if pl.problem:
            return f"unsupported: {obj.asset} ({pl.problem})"
    return None


def _penetrates(a: int, b: int, client: int) -> bool:
    points = p.getClosestPoints(a, b, 0.0, physicsClientId=client)
    return any(pt[8] < -OVERLAP_TOL_M for pt in points)


def _mask_moments(seg: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per object index: pixel count and the sums of column and row indices of its pixels."""
    idx = seg.ravel().astype(np.int64) + 1  # 0 is "no object"
    rows, cols = np.indices(seg.shape)
    counts = np.bincount(idx, minlength=n + 1)[1:]
    col_sum = np.bincount(idx, weights=cols.ravel(), minlength=n + 1)[1:]
    row_sum = np.bincount(idx, weights=rows.ravel(), minlength=n + 1)[1:]
    return counts, col_sum, row_sum
