"""Spatial relation labels: the paper's 8 horizontal sectors and 3 vertical regions, camera-aligned.

Conventions (documented in docs/relations.md, tested on hand-built scenes and against rendered pixels):

* **Frame.** Relations are viewer-centred. ``forward`` is the horizontal direction from the camera
  to the midpoint of A's and B's centres, ``right = forward x up``. The displacement of A's centre
  from B's centre is measured along ``right`` (lateral) and ``forward`` (depth). Using the pair's own
  line of sight (rather than the camera's optical axis) makes "A is left of B" agree with the image
  even for pairs off to the side of the view; using the midpoint (rather than B alone) makes the
  labels exactly symmetric: "A is left of B" <=> "B is right of A".
* **Horizontal sectors.** The angle ``theta = atan2(depth, lateral)`` falls into one of 8 sectors of 45
  degrees centred on 0 (right), 45 (behind and right), 90 (behind), 135 (behind and left), 180 (left),
  -135 (in front and left), -90 (in front), -45 (in front and right). **Behind** means farther from
  the camera than B, **in front** nearer. Within ``angle_margin_deg`` of a sector boundary the
  horizontal axis gets no label. When the centres are horizontally closer than ``min_horizontal_m``
  (one object on or over the other) the horizontal relation is *none*; between that and
  ``min_horizontal_m + horizontal_margin_m`` it gets no label.
* **Vertical regions.** A is **above** B when A's bottom is at or above B's top (within
  ``contact_tolerance_m``, so a cup standing on a book is above it); **below** symmetrically; *none*
  when both stand at the same height (bottoms within ``vertical_margin_m``, e.g. on one table).
  Anything else (different heights with overlapping vertical extents) gets no label. Labeller
  version 1 lets "above"/"below" win when the same-height rule also holds (a cup on a 1.5 cm plate);
  version 2 leaves a pair unlabelled when two of the three rules hold or come within
  ``vertical_band_m`` of holding, as the sectors do at their boundaries.
* **Object centre.** Version 1 takes the centre of the world axis-aligned box the backend reports;
  version 2 takes the centre of the object's own box (the box around its parts in its own frame),
  placed at its settled position and turned by its settled yaw: a pose both backends report
  identically, whereas their world boxes differ for turned objects with handles and spouts (the
  embedded backend bounds the turned own box, whose centre this is; the Unity player bounds the
  turned parts).
* **Versions.** :data:`LABELLERS` maps each labeller version to its config. Generators' data and
  the v1 eval sets use version 1; a labelling change gets a new version, so old labels keep their
  meaning.
* **Unlabelled axes.** A caption states every axis, so that "A is to the left of B" also says
  "neither above nor below, neither in front nor behind". A pair with an unlabelled axis is therefore
  not captioned at all: the ground truth is never a coin flip.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from rls3_bench.backends.base import ObjectState, Observation
from rls3_bench.scene.assets import ASSETS
from rls3_bench.scene.spec import CameraPose

OPPOSITE = {
    "left": "right",
    "right": "left",
    "above": "below",
    "below": "above",
    "in front": "behind",
    "behind": "in front",
}

#: sector index (0 = right, counter-clockwise seen from above, with 'behind' = away from the camera)
#: -> (depth term, lateral term)
SECTORS: tuple[tuple[str | None, str | None], ...] = (
    (None, "right"),
    ("behind", "right"),
    ("behind", None),
    ("behind", "left"),
    (None, "left"),
    ("in front", "left"),
    ("in front", None),
    ("in front", "right"),
)

#: marks an axis whose value falls inside an ambiguity margin
AMBIGUOUS = "?"


@dataclass(frozen=True)
class LabelConfig:
    """Labeller version and ambiguity margins (metres, degrees).

    :param version: labelling rules (see the module docstring): 1 or 2.
    :param angle_margin_deg: half-width of the unlabelled band around each sector boundary. 7.5 deg
        leaves 30 of each sector's 45 deg labelled.
    :param min_horizontal_m: centres closer than this horizontally have no horizontal relation.
    :param horizontal_margin_m: unlabelled band just above ``min_horizontal_m``.
    :param vertical_margin_m: bottoms within this are "at the same height" (vertical relation none).
    :param contact_tolerance_m: slack for "A's bottom at or above B's top" (resting contact).
    :param vertical_band_m: (version 2) no vertical label when another vertical rule holds or
        misses by less than this.
    """

    version: int = 1
    angle_margin_deg: float = 7.5
    min_horizontal_m: float = 0.03
    horizontal_margin_m: float = 0.04
    vertical_margin_m: float = 0.02
    contact_tolerance_m: float = 0.005
    vertical_band_m: float = 0.005

    def __post_init__(self) -> None:
        if self.version not in (1, 2):
            raise ValueError(f"unknown labeller version {self.version}; valid: 1, 2")


#: labeller version -> its config; eval-set specs (and tracks) name a version, never margins
LABELLERS: dict[int, LabelConfig] = {1: LabelConfig(version=1), 2: LabelConfig(version=2)}


@dataclass(frozen=True)
class PairLabel:
    """The relation "A is <terms> B" for objects ``a`` and ``b`` (indices into ``spec.objects``).

    Each axis holds its term, ``None`` for "no relation on this axis", or :data:`AMBIGUOUS`.
    """

    a: int
    b: int
    vertical: str | None
    depth: str | None
    lateral: str | None

    @property
    def captionable(self) -> bool:
        axes = (self.vertical, self.depth, self.lateral)
        return AMBIGUOUS not in axes and any(x is not None for x in axes)

    @property
    def terms(self) -> tuple[str, ...]:
        """Terms in canonical caption order: vertical, depth, lateral."""
        return tuple(t for t in (self.vertical, self.depth, self.lateral) if t not in (None, AMBIGUOUS))


@functools.cache
def _own_box_centre_offset(asset_id: str) -> tuple[float, float, float]:
    """Centre of the asset's own box (around its parts, in its frame) relative to its bottom centre, at scale 1."""
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for part in ASSETS[asset_id].parts:
        half = {
            "box": part.size,
            "cylinder": (part.size[0], part.size[0], part.size[1] / 2),
            "sphere": (part.size[0],) * 3,
        }[part.shape]
        lo = np.minimum(lo, np.asarray(part.offset) - half)
        hi = np.maximum(hi, np.asarray(part.offset) + half)
    return tuple(float(v) for v in (lo + hi) / 2.0)


def object_centre(state: ObjectState, cfg: LabelConfig, scale: float = 1.0) -> np.ndarray:
    """The point relations are measured from (see "Object centre" in the module docstring);
    ``scale`` is the object's scale in the spec (version 2 scales its own box by it)."""
    if cfg.version == 1:
        return (np.asarray(state.aabb_min) + np.asarray(state.aabb_max)) / 2.0
    off = scale * np.asarray(_own_box_centre_offset(state.asset))
    c, s = math.cos(math.radians(state.yaw_deg)), math.sin(math.radians(state.yaw_deg))
    return np.asarray(state.position, dtype=float) + np.array(
        [c * off[0] - s * off[1], s * off[0] + c * off[1], off[2]]
    )


def horizontal_relation(camera: CameraPose, a_centre, b_centre, cfg: LabelConfig) -> tuple[str | None, str | None]:
    """(depth, lateral) of A relative to B, each a term, None, or AMBIGUOUS."""
    eye = np.asarray(camera.eye, dtype=float)
    a = np.asarray(a_centre, dtype=float)
    b = np.asarray(b_centre, dtype=float)
    forward = (a[:2] + b[:2]) / 2.0 - eye[:2]
    norm = np.linalg.norm(forward)
    if norm < 1e-9:  # the pair right under the camera: no horizontal viewing direction
        return AMBIGUOUS, AMBIGUOUS
    forward /= norm
    right = np.array([forward[1], -forward[0]])  # forward x up, in the ground plane
    d = a[:2] - b[:2]
    lateral, depth = float(d @ right), float(d @ forward)
    dist = math.hypot(lateral, depth)
    if dist < cfg.min_horizontal_m:
        return None, None
    if dist < cfg.min_horizontal_m + cfg.horizontal_margin_m:
        return AMBIGUOUS, AMBIGUOUS
    # rounded so that A->B and B->A (theta and theta +- 180) fall on the same side of a margin edge
    theta = round(math.degrees(math.atan2(depth, lateral)), 9)
    into_sector = (theta + 22.5) % 45.0  # 0..45 from the sector's lower boundary
    if min(into_sector, 45.0 - into_sector) < cfg.angle_margin_deg:
        return AMBIGUOUS, AMBIGUOUS
    return SECTORS[int(round(theta / 45.0)) % 8]


def vertical_relation(a_min_z: float, a_max_z: float, b_min_z: float, b_max_z: float, cfg: LabelConfig) -> str | None:
    """ "above", "below", None (same height) or AMBIGUOUS, from the objects' vertical extents."""
    if cfg.version >= 2:
        return _vertical_banded(a_min_z, a_max_z, b_min_z, b_max_z, cfg)
    if a_min_z >= b_max_z - cfg.contact_tolerance_m:
        return "above"
    if a_max_z <= b_min_z + cfg.contact_tolerance_m:
        return "below"
    if abs(a_min_z - b_min_z) <= cfg.vertical_margin_m:
        return None
    return AMBIGUOUS


def _vertical_banded(a_min_z: float, a_max_z: float, b_min_z: float, b_max_z: float, cfg: LabelConfig) -> str | None:
    """Version 2: each rule's slack (>= 0: it holds); a label only when exactly one rule holds and
    no other comes within ``vertical_band_m`` of holding."""
    slack = {
        "above": a_min_z - (b_max_z - cfg.contact_tolerance_m),
        "below": (b_min_z + cfg.contact_tolerance_m) - a_max_z,
        None: cfg.vertical_margin_m - abs(a_min_z - b_min_z),
    }
    near = [term for term, s in slack.items() if s >= -cfg.vertical_band_m]
    if len(near) == 1 and slack[near[0]] >= 0:
        return near[0]
    return AMBIGUOUS


def label_pair(
    camera: CameraPose,
    a: ObjectState,
    b: ObjectState,
    ia: int,
    ib: int,
    cfg: LabelConfig = LabelConfig(),
    scales: tuple[float, float] = (1.0, 1.0),
) -> PairLabel:
    """The label of "A is <terms> B"; ``scales`` are A's and B's scales in the spec."""
    depth, lateral = horizontal_relation(
        camera, object_centre(a, cfg, scales[0]), object_centre(b, cfg, scales[1]), cfg
    )
    vertical = vertical_relation(a.aabb_min[2], a.aabb_max[2], b.aabb_min[2], b.aabb_max[2], cfg)
    return PairLabel(ia, ib, vertical, depth, lateral)


def label_scene(
    obs: Observation, cfg: LabelConfig = LabelConfig(), min_visible_pixels: int = 1, active_only: int | None = 3
) -> list[PairLabel]:
    """Labels of every ordered pair of distinct, visible objects (the first ``active_only`` objects).

    Returns all pairs, captionable or not; callers filter with ``label.captionable``.
    """
    n = len(obs.objects) if active_only is None else min(active_only, len(obs.objects))
    visible = [i for i in range(n) if obs.objects[i].visible_pixels >= min_visible_pixels]
    return [
        label_pair(
            obs.spec.camera,
            obs.objects[i],
            obs.objects[j],
            i,
            j,
            cfg,
            (obs.spec.objects[i].scale, obs.spec.objects[j].scale),
        )
        for i in visible
        for j in visible
        if i != j
    ]
