"""SceneSpec: JSON round trip, validation with clear errors, digests."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rls3_bench.errors import SpecError
from rls3_bench.harness.seeds import rng_for
from rls3_bench.scene.random_scenes import random_spec
from rls3_bench.scene.spec import SceneSpec


def test_round_trip_and_digest_for_random_specs():
    rng = rng_for("preview", 0)
    for _ in range(50):
        spec = random_spec(rng)
        again = SceneSpec.from_json(spec.to_json())
        assert again == spec and again.digest() == spec.digest()
        assert again.to_json() == spec.to_json()


def test_same_seed_same_specs():
    a = [random_spec(rng_for("generator", 7)).to_json() for _ in range(3)]
    b = [random_spec(rng_for("generator", 7)).to_json() for _ in range(3)]
    assert a == b and random_spec(rng_for("generator", 8)).to_json() != a[0]


def _good() -> dict:
    return json.loads(random_spec(np.random.default_rng(0)).to_json())


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.update(room="garage"), "unknown room 'garage'"),
        (lambda d: d["objects"][0].update(asset="toaster"), "unknown asset 'toaster'"),
        (lambda d: d["objects"][0].update(position=[0, 0]), "must be a list of 3 numbers"),
        (lambda d: d["objects"][0].update(position=[9, 0, 1]), "outside the room"),
        (lambda d: d["objects"][0].update(position=[0, 0, float("nan")]), "finite numbers"),
        (lambda d: d["objects"][0].update(scale=5), "scale 5.0"),
        (lambda d: d["objects"][0].update(colour=[2, 0, 0]), "RGB in [0, 1]"),
        (lambda d: d["objects"][1].update(asset=d["objects"][0]["asset"]), "repeat"),
        (lambda d: d.update(objects=[]), "1 to 8"),
        (lambda d: d["camera"].update(fov_deg=170), "fov_deg"),
        (lambda d: d["camera"].update(target=list(d["camera"]["eye"])), "straight up or down"),
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d.update(extra=1), "unknown: ['extra']"),
        (lambda d: d["objects"][0].update(mass=1), "may have"),
    ],
)
def test_bad_specs_raise_one_clear_line(mutate, fragment):
    d = _good()
    mutate(d)
    with pytest.raises(SpecError) as err:
        SceneSpec.from_dict(d)
    msg = str(err.value)
    assert fragment in msg and "\n" not in msg


def test_malformed_json():
    for text in ("{", "[]", "null", '"x"', "{" * 5000 + "}" * 5000):
        with pytest.raises(SpecError):
            SceneSpec.from_json(text)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
        lambda c: (
            st.lists(c, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["room", "camera", "objects", "eye", "target", "asset", "position", "scale", "schema_version", "x"]
                ),
                c,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_fuzzed_specs_either_parse_or_raise_spec_error(data):
    try:
        spec = SceneSpec.from_dict(data)
    except SpecError as exc:
        assert "\n" not in str(exc)
    else:
        assert SceneSpec.from_json(spec.to_json()) == spec
