"""Relation labels on hand-built scenes with known answers: every sector, every boundary, every
vertical case, symmetry. (The pixel cross-check against rendered segmentation is in
test_relations_pixels.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rls3_bench.backends.base import ObjectState
from rls3_bench.labels.relations import (
    AMBIGUOUS,
    LABELLERS,
    OPPOSITE,
    LabelConfig,
    horizontal_relation,
    label_pair,
    object_centre,
    vertical_relation,
)
from rls3_bench.scene.spec import CameraPose

CAM = CameraPose(eye=(0.0, -2.0, 1.5), target=(0.0, 0.0, 0.8))  # looking along +y
CFG = LabelConfig()


def box(x, y, z0=0.8, half=0.03, height=0.1, name="x"):
    return ObjectState(
        name, (x, y, z0), 0.0, (x - half, y - half, z0), (x + half, y + half, z0 + height), "table", 100, (0.0, 0.0)
    )


def at_angle(theta_deg, r=0.3):
    """A at angle theta (0 = right, 90 = behind) and distance r from B at the origin, seen from CAM.

    B sits on the camera's axis and A is placed so that the pair's midpoint also lies on it
    (A at +d/2, B at -d/2 around x = 0), so the labeler's frame is exactly the world frame here.
    """
    dx, dy = r * math.cos(math.radians(theta_deg)), r * math.sin(math.radians(theta_deg))
    return box(dx / 2, dy / 2), box(-dx / 2, -dy / 2)


EXPECTED = {
    0: (None, "right"),
    45: ("behind", "right"),
    90: ("behind", None),
    135: ("behind", "left"),
    180: (None, "left"),
    -135: ("in front", "left"),
    -90: ("in front", None),
    -45: ("in front", "right"),
}


@pytest.mark.parametrize("theta", sorted(EXPECTED))
def test_each_sector_centre(theta):
    a, b = at_angle(theta)
    lab = label_pair(CAM, a, b, 0, 1, CFG)
    assert (lab.depth, lab.lateral) == EXPECTED[theta]
    assert lab.vertical is None and lab.captionable


@pytest.mark.parametrize("boundary", [22.5 + 45 * k for k in range(8)])
def test_sector_boundaries_are_unlabelled_inside_the_margin(boundary):
    for off in (-CFG.angle_margin_deg + 0.5, 0.0, CFG.angle_margin_deg - 0.5):
        a, b = at_angle(boundary + off)
        assert label_pair(CAM, a, b, 0, 1, CFG).depth == AMBIGUOUS
    # just outside the margin on both sides: the two neighbouring sectors
    below = label_pair(CAM, *at_angle(boundary - CFG.angle_margin_deg - 0.5), 0, 1, CFG)
    above = label_pair(CAM, *at_angle(boundary + CFG.angle_margin_deg + 0.5), 0, 1, CFG)
    assert below.captionable and above.captionable
    assert (below.depth, below.lateral) != (above.depth, above.lateral)


def test_margin_zero_labels_everything_but_exact_boundaries():
    cfg = LabelConfig(angle_margin_deg=0.0)
    a, b = at_angle(22.6)
    assert (label_pair(CAM, a, b, 0, 1, cfg).depth, label_pair(CAM, a, b, 0, 1, cfg).lateral) == ("behind", "right")


def test_labels_are_exactly_symmetric():
    """A left of B <=> B right of A, for every sector and off-axis pairs too."""
    for theta in range(-180, 180, 7):
        for x0 in (-0.6, 0.0, 0.5):
            a, b = at_angle(theta, r=0.25)
            a = box(a.position[0] + x0, a.position[1] + 0.2)
            b = box(b.position[0] + x0, b.position[1] + 0.2)
            ab, ba = label_pair(CAM, a, b, 0, 1, CFG), label_pair(CAM, b, a, 1, 0, CFG)
            for x, y in ((ab.depth, ba.depth), (ab.lateral, ba.lateral)):
                assert y == (OPPOSITE.get(x, x))


def test_frame_follows_the_line_of_sight_not_the_optical_axis():
    """Far to the right of the view, 'behind' means away from the camera along the pair's sight line."""
    cam = CameraPose(eye=(0.0, 0.0, 1.5), target=(0.0, 1.0, 0.8))
    # both objects on the x axis, 1 m to the right of the camera: the farther one (larger x) is behind
    near, far = box(1.0, 0.0), box(1.3, 0.0)
    lab = label_pair(cam, far, near, 0, 1, CFG)
    assert (lab.depth, lab.lateral) == ("behind", None)


def test_horizontal_none_when_stacked_and_ambiguous_band():
    a, b = box(0.0, 0.0, z0=0.9), box(0.01, 0.0)
    assert horizontal_relation(CAM, (0.0, 0.0, 0.9), (0.01, 0.0, 0.8), CFG) == (None, None)
    d = CFG.min_horizontal_m + CFG.horizontal_margin_m / 2
    assert horizontal_relation(CAM, (d, 0.0, 0.8), (0.0, 0.0, 0.8), CFG) == (AMBIGUOUS, AMBIGUOUS)
    assert label_pair(CAM, a, b, 0, 1, CFG).terms == ("above",)


@pytest.mark.parametrize(
    "a_ext, b_ext, expected",
    [
        ((0.90, 1.00), (0.80, 0.90), "above"),  # resting on top of B
        ((1.12, 1.20), (0.74, 0.80), "above"),  # on a shelf over a table object
        ((0.80, 0.90), (0.90, 1.00), "below"),
        ((0.74, 1.02), (1.12, 1.20), "below"),  # tall lamp on the table, cup on the shelf
        ((0.80, 0.85), (0.80, 1.00), None),  # both on one table: flat plate vs tall vase
        ((0.81, 0.95), (0.80, 0.86), None),  # bottoms within the margin
        ((0.50, 0.77), (0.74, 0.80), AMBIGUOUS),  # overlapping extents at different heights
        ((0.897, 1.0), (0.80, 0.90), "above"),  # within the contact tolerance
    ],
)
def test_vertical_cases(a_ext, b_ext, expected):
    assert vertical_relation(*a_ext, *b_ext, CFG) == expected
    opposite = OPPOSITE.get(expected, expected) if expected else None
    assert vertical_relation(*b_ext, *a_ext, CFG) == opposite


def test_three_term_label_and_uncaptionable_pairs():
    b = box(0.0, 0.0, z0=0.8)
    a = box(-0.2, 0.2, z0=1.1)  # higher, farther, to the left (behind and left: theta = 135)
    lab = label_pair(CAM, a, b, 0, 1, CFG)
    assert lab.terms == ("above", "behind", "left")
    assert lab.captionable
    amb = label_pair(CAM, box(0.0, 0.0, z0=0.6, height=0.25), b, 0, 1, CFG)  # ambiguous vertical
    assert not amb.captionable


# --- labeller version 2 ---------------------------------------------------------------------------
V2 = LABELLERS[2]


def test_labeller_versions_are_named_and_v1_is_the_default():
    assert LABELLERS[1] == LabelConfig() and LABELLERS[2].version == 2
    with pytest.raises(ValueError, match="labeller version"):
        LabelConfig(version=3)


@pytest.mark.parametrize(
    "a_ext, b_ext, v1, v2",
    [
        # a cup on a 1.5 cm plate: A's bottom is B's top (above) and the bottoms are 1.5 cm apart
        # (same height): version 1 says above with no margin, version 2 gives no label
        ((0.815, 0.905), (0.80, 0.815), "above", AMBIGUOUS),
        # kitchen-a: a cup on the bread box (top 1.03) vs a plate on the bar stool (top 1.02)
        ((1.03, 1.12), (1.02, 1.035), "above", AMBIGUOUS),
        # bottoms 8 mm apart, A's bottom 2 mm short of B's top: same height in version 1, within
        # the band of "above" in version 2
        ((1.038, 1.128), (1.03, 1.045), None, AMBIGUOUS),
        # clear cases keep their labels
        ((0.90, 1.00), (0.80, 0.90), "above", "above"),  # on a 10 cm object
        ((1.12, 1.20), (0.74, 0.80), "above", "above"),  # shelf over table
        ((0.80, 0.85), (0.80, 1.00), None, None),  # same table
        ((0.80, 1.00), (0.80, 0.815), None, None),  # a vase beside a plate: above misses by 1 cm
        ((0.50, 0.77), (0.74, 0.80), AMBIGUOUS, AMBIGUOUS),  # overlapping extents, different heights
        # inside the band of the same-height rule (bottoms 2.3 cm apart)
        ((0.823, 0.95), (0.80, 0.90), AMBIGUOUS, AMBIGUOUS),
    ],
)
def test_vertical_band_of_labeller_2(a_ext, b_ext, v1, v2):
    assert vertical_relation(*a_ext, *b_ext, CFG) == v1
    assert vertical_relation(*a_ext, *b_ext, V2) == v2
    assert vertical_relation(*b_ext, *a_ext, V2) == (OPPOSITE.get(v2, v2) if v2 else None)


def _turned_box(centre, half, yaw_deg):
    """World xy bounds of a box (local centre, half extents) turned by ``yaw_deg`` about the origin."""
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    cx, cy = c * centre[0] - s * centre[1], s * centre[0] + c * centre[1]
    hx, hy = abs(c) * half[0] + abs(s) * half[1], abs(s) * half[0] + abs(c) * half[1]
    return (cx - hx, cy - hy), (cx + hx, cy + hy)


def _part_bounds(part, half, yaw_deg):
    """World xy bounds of one part: a box's grow as it turns; a sphere's or upright cylinder's do
    not (only its centre turns)."""
    if part.shape == "box":
        return _turned_box(part.offset[:2], half, yaw_deg)
    (cx, cy), _ = _turned_box(part.offset[:2], (0.0, 0.0), yaw_deg)
    return (cx - half[0], cy - half[1]), (cx + half[0], cy + half[1])


def teapot_boxes(yaw_deg):
    """The orange teapot's two candidate world boxes (xy) at the origin: the bounds of its own box
    turned by the yaw (the embedded backend's) and the union of its turned parts' bounds (the Unity
    player's, ScenePlacer.Aabb: every collider's bounds encapsulated)."""
    from rls3_bench.scene.assets import ASSETS

    parts = ASSETS["orange-teapot"].parts
    halves = [p.size[:2] if p.shape == "box" else (p.size[0], p.size[0]) for p in parts]
    lo = [min(p.offset[k] - h[k] for p, h in zip(parts, halves, strict=True)) for k in (0, 1)]
    hi = [max(p.offset[k] + h[k] for p, h in zip(parts, halves, strict=True)) for k in (0, 1)]
    own = _turned_box(((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2), ((hi[0] - lo[0]) / 2, (hi[1] - lo[1]) / 2), yaw_deg)
    each = [_part_bounds(p, h, yaw_deg) for p, h in zip(parts, halves, strict=True)]
    tight = (tuple(min(b[0][k] for b in each) for k in (0, 1)), tuple(max(b[1][k] for b in each) for k in (0, 1)))
    return own, tight


def teapot(yaw, box_xy):
    (x0, y0), (x1, y1) = box_xy
    return ObjectState("orange-teapot", (0.0, 0.0, 0.8), yaw, (x0, y0, 0.8), (x1, y1, 0.937), "table", 100, (0.0, 0.0))


def test_labeller_2_measures_from_the_objects_own_box_whatever_box_the_backend_reports():
    """Turned 45 deg, the teapot's two world boxes have centres 8 mm apart (its spout sticks out of
    the sphere). Version 2's centre comes from the pose alone, so both backends give one label."""
    own_box, tight_box = teapot_boxes(45.0)
    own, tight = teapot(45.0, own_box), teapot(45.0, tight_box)
    centre = object_centre(own, V2)[:2]
    assert tuple(object_centre(tight, V2)[:2]) == tuple(centre)
    assert object_centre(own, CFG)[:2] == pytest.approx(centre)  # the embedded backend's box
    assert 0.006 < float(np.linalg.norm(object_centre(tight, CFG)[:2] - centre)) < 0.01
    # a plate straight in front of the own-box centre by 7.05 cm: the tight box's centre is nearer
    # to it, inside the horizontal margin (0.03-0.07 m), so version 1 labels depend on the backend
    b = box(float(centre[0]), float(centre[1]) - 0.0705, z0=0.8, half=0.1, height=0.015, name="plate")
    v1_labels = {label_pair(CAM, s, b, 0, 1, CFG).depth for s in (own, tight)}
    v2_labels = {label_pair(CAM, s, b, 0, 1, V2).depth for s in (own, tight)}
    assert v1_labels == {"behind", AMBIGUOUS} and v2_labels == {"behind"}
