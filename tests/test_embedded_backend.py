"""The embedded PyBullet backend: settling, validity rules, segmentation, determinism, every room."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rls3_bench.backends.embedded import EmbeddedBackend, project_points
from rls3_bench.errors import UserError
from rls3_bench.scene.assets import ASSETS, ROOMS, WORLD1_ROOM_IDS
from rls3_bench.scene.random_scenes import random_spec
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec

SIZE = 128
# Defined here, not taken from conftest: a fresh process imports this module as tests.test_embedded_backend
# (the fresh-process tests below), where conftest is not importable.
REPO = Path(__file__).resolve().parents[1]


def room_camera(room_id: str) -> CameraPose:
    room = ROOMS[room_id]
    return CameraPose(room.camera_eye, room.camera_target, room.camera_fov_deg)


def on(support_id: str, asset: str, dx: float = 0.0, dy: float = 0.0, **kw) -> PlacedObject:
    """``asset`` at the centre of furniture ``support_id`` (any room), shifted by (dx, dy)."""
    f = next(f for r in ROOMS.values() for f in r.furniture if f.id == support_id)
    return PlacedObject(asset, (f.centre[0] + dx, f.centre[1] + dy, f.top), **kw)


def scene(room: str, *objects: PlacedObject, camera: CameraPose | None = None) -> SceneSpec:
    return SceneSpec(room, camera or room_camera(room), tuple(objects))


SPEC_A = scene(
    "bedroom",
    on("desk", "green-cup", -0.2),
    on("desk", "red-book", 0.2, yaw_deg=30.0),
    on("nightstand", "pink-bowl"),
    on("wall-shelf", "vase", colour=(0.2, 0.4, 0.9)),
)
SPEC_B = scene(
    "kitchen-a",
    on("counter", "green-cup", 0.1, scale=1.5, colour=(0.9, 0.1, 0.1)),
    on("kitchen-shelf", "red-book"),
    on("bar-stool", "blender"),
)


@pytest.fixture(scope="module")
def backend():
    with EmbeddedBackend(image_size=SIZE, renderer="tiny") as b:
        yield b


def state(obs, asset):
    return next(s for s in obs.objects if s.asset == asset)


# --- construction --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(renderer="opengl"), "valid renderers: auto, tiny, egl"),
        (dict(image_size=4), "image_size"),
        (dict(min_visible_fraction=1.5), "min_visible_fraction"),
        (dict(validity_version=3), "valid versions: 1, 2"),
        (dict(validity_version=True), "unknown validity_version"),
    ],
)
def test_bad_arguments_are_one_line_user_errors(kwargs, match):
    with pytest.raises(UserError, match=match) as err:
        EmbeddedBackend(**kwargs)
    assert "\n" not in str(err.value)


def test_close_is_idempotent_and_closed_backend_refuses():
    b = EmbeddedBackend(image_size=32, renderer="tiny")
    b.close()
    b.close()
    with pytest.raises(UserError, match="closed"):
        b.observe(SPEC_A)


# --- determinism ---------------------------------------------------------------------------------
def _fingerprint(obs) -> dict:
    return {
        "image": obs.image.tobytes().hex(),
        "seg": obs.segmentation.tobytes().hex(),
        "objects": [
            list(map(str, (s.position, s.aabb_min, s.aabb_max, s.support, s.visible_pixels))) for s in obs.objects
        ],
        "reason": obs.invalid_reason,
    }


def test_same_spec_same_result_whatever_came_before(backend):
    first = backend.observe(SPEC_A)
    backend.observe(SPEC_B)  # other room, other scale and colour of a shared asset
    again = backend.observe(SPEC_A)
    assert first.valid and first.image.dtype == np.uint8 and first.image.shape == (SIZE, SIZE, 3)
    assert first.segmentation.dtype == np.int16 and first.segmentation.shape == (SIZE, SIZE)
    assert _fingerprint(first) == _fingerprint(again)


# A vase 0.3 m left of the desk centre: its body cuts into the desk organiser, whose side face lies
# under the vase's centre, so some of its settling rays graze that face.
ORGANISER_SPEC = scene("bedroom", on("desk", "plate"), on("desk", "vase", -0.3), on("desk", "green-cup", 0.3))


def test_v1_validity_depends_on_history_where_v2_reports_the_overlap():
    """Version 1 stays as released (existing results depend on it); version 2 sees the overlap always."""
    reasons = {}
    for version in (1, 2):
        with EmbeddedBackend(image_size=SIZE, renderer="tiny", validity_version=version) as b:
            fresh = b.observe(ORGANISER_SPEC).invalid_reason
            b.observe(SPEC_B)  # the bedroom is parked and brought back
            reasons[version] = (fresh, b.observe(ORGANISER_SPEC).invalid_reason)
    assert reasons[1] == ("overlap: vase/desk-organiser", None)
    assert reasons[2] == ("overlap: vase/desk-organiser", "overlap: vase/desk-organiser")


@pytest.mark.parametrize("renderer", ["tiny", "egl"])
def test_v2_observation_is_the_same_in_any_order_and_on_a_fresh_backend(renderer):
    if renderer == "egl":
        with EmbeddedBackend(image_size=SIZE, renderer="auto") as probe:
            if probe.renderer != "pybullet-egl":
                pytest.skip("the EGL renderer is not available here; 'auto' fell back to tiny")
    rng = np.random.default_rng(11)
    specs = [ORGANISER_SPEC, SPEC_A, SPEC_B] + [
        random_spec(rng, room_id=r) for r in ("bedroom", "kitchen-a", "bedroom", "dining-area")
    ]

    def observe_all(order):
        with EmbeddedBackend(image_size=SIZE, renderer=renderer, validity_version=2) as b:
            return {i: _fingerprint(b.observe(specs[i])) for i in order}

    forward = observe_all(range(len(specs)))
    backward = observe_all(reversed(range(len(specs))))
    fresh = {i: observe_all([i])[i] for i in range(len(specs))}
    assert forward == backward == fresh
    assert {f["reason"] for f in forward.values()} > {None, "overlap: vase/desk-organiser"}  # both kinds covered


def fresh_process_fingerprint(spec: SceneSpec, renderer: str) -> dict:
    """Observe ``spec`` in a new interpreter (nothing built or rendered before it)."""
    code = (
        "import json, sys\n"
        "from rls3_bench.scene.spec import SceneSpec\n"
        "from rls3_bench.backends.embedded import EmbeddedBackend\n"
        "from tests.test_embedded_backend import _fingerprint\n"
        f"with EmbeddedBackend(image_size={SIZE}, renderer={renderer!r}) as b:\n"
        "    print(json.dumps(_fingerprint(b.observe(SceneSpec.from_json(sys.stdin.read())))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=spec.to_json(), capture_output=True, text=True, check=True, cwd=REPO
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_same_image_in_a_fresh_process(backend):
    backend.observe(SPEC_B)
    assert fresh_process_fingerprint(SPEC_A, "tiny") == _fingerprint(backend.observe(SPEC_A))


# --- settling ------------------------------------------------------------------------------------
def test_settles_onto_furniture_from_above(backend):
    desk = ROOMS["bedroom"].furniture[0]
    obs = backend.observe(scene("bedroom", PlacedObject("plate", (0.0, 0.0, desk.top + 0.3))))
    s = obs.objects[0]
    assert obs.valid and s.support == "desk"
    assert s.position[2] == pytest.approx(desk.top, abs=1e-6)
    assert s.aabb_min[2] == pytest.approx(desk.top, abs=1e-3)


def test_stacks_onto_another_object(backend):
    # the cup is requested above the book (a spec's z is the height of the surface it aims at, or above)
    cup = PlacedObject("green-cup", (0.0, 0.1, 0.9))
    obs = backend.observe(scene("bedroom", on("desk", "red-book"), cup, on("desk", "plate", 0.3)))
    book, cup = state(obs, "red-book"), state(obs, "green-cup")
    assert obs.valid, obs.invalid_reason
    assert cup.support == "object:red-book"
    assert cup.position[2] == pytest.approx(book.aabb_max[2], abs=1e-3)


def test_aabb_covers_every_part():
    # the lamp's shade (radius 0.06) is wider than its base and sits on a thin pole
    with EmbeddedBackend(image_size=32, renderer="tiny", min_visible_fraction=0.0) as b:
        obs = b.observe(scene("bedroom", on("desk", "white-lamp", yaw_deg=20.0, scale=1.5)))
    s = obs.objects[0]
    x, y, z = s.position
    assert s.aabb_max[2] == pytest.approx(z + 0.24 * 1.5, abs=1e-3)
    assert s.aabb_min[0] <= x - 0.06 * 1.5 and s.aabb_max[0] >= x + 0.06 * 1.5
    assert s.aabb_min[1] <= y - 0.06 * 1.5 and s.aabb_max[1] >= y + 0.06 * 1.5


# --- validity ------------------------------------------------------------------------------------
def test_objects_placed_into_each_other_overlap(backend):
    # the cup is requested at the desk top, inside the (scaled) plate: the pose itself intersects
    obs = backend.observe(scene("bedroom", on("desk", "plate", scale=2.0), on("desk", "green-cup", 0.05)))
    assert obs.invalid_reason == "overlap: plate/green-cup"


def test_resting_on_a_rim_with_the_centre_beside_it_is_unsupported(backend):
    # dropped from above, the plate's edge lands on the bowl's rim, its centre is over the desk: it would tip
    obs = backend.observe(scene("bedroom", on("desk", "yellow-bowl"), PlacedObject("plate", (0.1, 0.1, 0.9))))
    assert obs.invalid_reason == "unsupported: plate (centre of mass not over object:yellow-bowl)"


def test_interpenetration_with_furniture_is_an_overlap(backend):
    # a big lamp at the back edge of the counter: its shade cuts into the shelf board above
    obs = backend.observe(scene("kitchen-a", on("counter", "white-lamp", 0.0, 0.25, scale=2.0)))
    assert obs.invalid_reason == "overlap: white-lamp/kitchen-shelf", obs.invalid_reason


def test_nothing_but_floor_below_is_unsupported(backend):
    obs = backend.observe(scene("bedroom", on("desk", "green-cup"), PlacedObject("vase", (0.9, -0.5, 1.0))))
    assert obs.invalid_reason == "unsupported: vase (lands on the floor)"
    assert state(obs, "vase").support is None


def test_centre_off_the_edge_is_unsupported(backend):
    desk = ROOMS["bedroom"].furniture[0]
    edge_x = desk.centre[0] + desk.half_extents[0]
    obs = backend.observe(scene("bedroom", PlacedObject("red-book", (edge_x + 0.03, 0.0, desk.top))))
    assert obs.invalid_reason == "unsupported: red-book (centre of mass not over desk)"
    assert obs.objects[0].support == "desk"


def test_hidden_behind_another_object_is_not_visible(backend):
    # a low camera looking along +y: the big vase hides the small cup right behind it
    cam = CameraPose(eye=(0.0, -1.2, 0.85), target=(0.0, 0.1, 0.8), fov_deg=40.0)
    obs = backend.observe(
        scene("bedroom", on("desk", "vase", scale=2.0), on("desk", "green-cup", 0.0, 0.2, scale=0.5), camera=cam)
    )
    assert obs.invalid_reason is not None and obs.invalid_reason.startswith("not visible: green-cup ("), (
        obs.invalid_reason
    )
    assert state(obs, "green-cup").visible_pixels < backend.min_visible_pixels


def test_outside_the_view_is_reported(backend):
    cam = CameraPose(eye=(0.0, -1.45, 1.5), target=(-1.5, 0.1, 0.72), fov_deg=40.0)
    obs = backend.observe(scene("bedroom", on("desk", "green-cup", 0.5), camera=cam))
    assert obs.invalid_reason == "outside view: green-cup"
    assert obs.objects[0].centroid_px is None


def test_only_active_objects_must_be_visible(backend):
    cam = CameraPose(eye=(0.0, -1.2, 0.85), target=(0.0, 0.1, 0.8), fov_deg=40.0)
    hidden = on("desk", "green-cup", 0.0, 0.2, scale=0.5)
    actives = (on("desk", "vase", scale=2.0), on("desk", "red-book", -0.2), on("desk", "plate", 0.3))
    assert backend.observe(scene("bedroom", *actives, hidden, camera=cam)).valid


# --- segmentation --------------------------------------------------------------------------------
def test_segmentation_matches_projected_centres(backend):
    obs = backend.observe(SPEC_A)
    for i, s in enumerate(obs.objects):
        centre = (np.array(s.aabb_min) + np.array(s.aabb_max)) / 2
        px, _ = project_points(SPEC_A.camera, centre, SIZE)
        col, row = px[0]
        assert s.visible_pixels == int((obs.segmentation == i).sum()) > 0
        assert np.hypot(col - s.centroid_px[0], row - s.centroid_px[1]) < 4.0, s.asset
        assert obs.segmentation[int(round(row)), int(round(col))] == i, s.asset
    assert set(np.unique(obs.segmentation)) == {-1, 0, 1, 2, 3}


def test_colour_override_changes_only_tinted_parts(backend):
    plain = backend.observe(scene("bedroom", on("desk", "green-cup")))
    red = backend.observe(scene("bedroom", on("desk", "green-cup", colour=(0.9, 0.1, 0.1))))
    mask = plain.segmentation == 0
    assert (plain.segmentation == red.segmentation).all()
    g, r = plain.image[mask].astype(int).mean(0), red.image[mask].astype(int).mean(0)
    assert g[1] > g[0] and r[0] > r[1]
    assert (plain.image[~mask] == red.image[~mask]).all()


# --- every room ----------------------------------------------------------------------------------
@pytest.mark.parametrize("room_id", WORLD1_ROOM_IDS)  # world 2's rooms: tests/test_worlds.py
def test_every_support_of_every_room_holds_visible_objects(backend, room_id):
    main, shelf, low, riser = ROOMS[room_id].supports
    spec = scene(
        room_id,
        on(main.id, "green-cup", -0.12),
        on(shelf.id, "blue-bottle", 0.2),
        on(low.id, "yellow-bowl"),
        on(main.id, "orange-teapot", 0.12),
        on(shelf.id, "bird-sculpture", -0.25),
        on(riser.id, "plate"),
    )
    obs = backend.observe(spec)
    assert obs.valid, obs.invalid_reason
    assert [s.support for s in obs.objects] == [main.id, shelf.id, low.id, main.id, shelf.id, riser.id]
    assert all(s.visible_pixels >= backend.min_visible_pixels for s in obs.objects)


def test_every_asset_renders_valid_on_the_main_surface(backend):
    for asset in sorted(ASSETS):
        obs = backend.observe(scene("living-room", on("sideboard", asset)))
        assert obs.valid, (asset, obs.invalid_reason)


# --- EGL (where the plugin works) ----------------------------------------------------------------
@pytest.fixture(scope="module")
def egl():
    with EmbeddedBackend(image_size=SIZE, renderer="auto") as b:
        if b.renderer != "pybullet-egl":
            pytest.skip("the EGL renderer is not available here; 'auto' fell back to tiny")
        yield b


def test_egl_is_deterministic_in_and_across_processes(egl):
    first = egl.observe(SPEC_A)
    egl.observe(SPEC_B)
    assert _fingerprint(first) == _fingerprint(egl.observe(SPEC_A))
    assert fresh_process_fingerprint(SPEC_A, "egl") == _fingerprint(first)


def test_egl_resembles_tiny(egl, backend):
    e, t = egl.observe(SPEC_A), backend.observe(SPEC_A)
    assert e.valid and [s.position for s in e.objects] == [s.position for s in t.objects]
    # different shading, same geometry: the masks agree on nearly every pixel, colours roughly
    assert (e.segmentation == t.segmentation).mean() > 0.98
    assert np.abs(e.image.astype(int) - t.image.astype(int)).mean() < 40
