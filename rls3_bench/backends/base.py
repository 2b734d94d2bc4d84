"""The backend interface every simulator implements.

A backend is a context manager that turns a :class:`~rls3_bench.scene.spec.SceneSpec` into an
:class:`Observation`: the RGB image, per-pixel object ids (segmentation), the settled pose and
visibility of each object, and whether the scene is valid. Backends hold expensive state (a physics
world, a Unity process), so one instance renders many specs.
"""

from __future__ import annotations

import abc
import inspect
from dataclasses import dataclass

import numpy as np

from rls3_bench.errors import UserError, short_repr
from rls3_bench.scene.spec import SceneSpec

#: side of the square image every backend renders, in pixels (inclusive bounds)
IMAGE_SIZE_RANGE = (16, 2048)


def check_image_size(image_size) -> None:
    lo, hi = IMAGE_SIZE_RANGE
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not lo <= image_size <= hi:
        raise UserError(f"image_size must be an integer in [{lo}, {hi}], got {short_repr(image_size)}")


def check_min_visible_fraction(value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise UserError(f"min_visible_fraction must be a number in [0, 1), got {short_repr(value)}")


@dataclass(frozen=True)
class ObjectState:
    """One placed object after settling.

    :param asset: asset id.
    :param position: settled bottom-centre (m, world).
    :param yaw_deg: settled yaw (degrees).
    :param aabb_min: world axis-aligned bounding box, lower corner (m).
    :param aabb_max: upper corner (m).
    :param support: id of what it stands on: a furniture id or ``"object:<asset>"``; ``None`` if
        nothing holds it.
    :param visible_pixels: pixels of this object in the segmentation.
    :param centroid_px: (column, row) mean of those pixels, ``None`` if none are visible.
    """

    asset: str
    position: tuple[float, float, float]
    yaw_deg: float
    aabb_min: tuple[float, float, float]
    aabb_max: tuple[float, float, float]
    support: str | None
    visible_pixels: int
    centroid_px: tuple[float, float] | None


@dataclass(frozen=True)
class Observation:
    """What a backend returns for one spec.

    :param image: ``(H, W, 3)`` uint8 RGB. A backend may skip rendering a scene it already knows to
        be invalid from geometry alone; its image is then all zeros and its segmentation all -1.
    :param segmentation: ``(H, W)`` int16: index into ``spec.objects`` for object pixels, -1 elsewhere.
    :param objects: one :class:`ObjectState` per ``spec.objects`` entry, same order.
    :param valid: every validity rule holds (see ``invalid_reason`` otherwise).
    :param invalid_reason: first rule broken, e.g. ``"overlap: green-cup/plate"``; ``None`` if valid.
    :param renderer: which renderer made the image (``"pybullet-tiny"``, ``"pybullet-egl"``, ``"unity"``).
    """

    spec: SceneSpec
    image: np.ndarray
    segmentation: np.ndarray
    objects: tuple[ObjectState, ...]
    valid: bool
    invalid_reason: str | None
    renderer: str


class Backend(abc.ABC):
    """A simulator that renders SceneSpecs. Use as ``with Backend(...) as b: b.observe(spec)``."""

    #: registry name of the backend
    name: str = ""

    @property
    @abc.abstractmethod
    def renderer(self) -> str:
        """The renderer in use; recorded with every run."""

    @abc.abstractmethod
    def observe(self, spec: SceneSpec) -> Observation:
        """Place, settle, check and render ``spec``.

        Never raises for an infeasible scene (overlap, nothing to stand on, hidden object): that is
        an ordinary outcome for generators (the RL agent is rewarded for avoiding it), reported as
        ``valid=False`` with ``invalid_reason``. Callers that need a valid scene (the CLI's
        ``render``) turn it into a PlacementError.
        """

    @classmethod
    def check_options(cls, image_size: int = 128, renderer: str | None = None, **options) -> None:
        """Raise the UserError the constructor would raise for these arguments, starting nothing.

        Cheap, so a sweep runs it before it makes any cell folder. Backends with more options extend it.
        """
        check_image_size(image_size)
        try:
            inspect.signature(cls.__init__).bind(None, image_size, renderer, **options)
        except TypeError as exc:
            raise UserError(
                f"the {cls.name} backend does not take these options ({exc}); see `rls3-bench run --help`"
            ) from None

    def close(self) -> None:  # noqa: B027  (optional hook: the default does nothing)
        """Release the simulator (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
