"""The unity backend over the real ML-Agents protocol (mlagents-envs 0.28.0's UnityEnvironment, its gRPC
server, protobuf and PNG decoding, side channels) against the stand-in player, in a thread and as a
fake player binary; with ``-m unity`` and ``UNITY_PLAYER=...`` the same checks run against real Unity
where they make sense (see tests/unity_standin/__init__.py)."""

from __future__ import annotations

import json
import struct
import uuid
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlagents_envs")

from unity_standin import FAKE_PLAYER, free_port, open_unity, port_is_free, use_this_python  # noqa: E402
from unity_standin.standin import SideChannels, StandinPlayer, scene_graph  # noqa: E402

from rls3_bench.backends.embedded import EmbeddedBackend  # noqa: E402
from rls3_bench.backends.unity import (  # noqa: E402
    SCENE_GRAPH_CHANNEL,
    SCENE_REQUEST_CHANNEL,
    UnityBackend,
    UnityBackendError,
    decode_segmentation,
    encode_request,
    encode_segmentation,
    observation_from_graph,
)
from rls3_bench.errors import UserError  # noqa: E402
from rls3_bench.labels.captions import make_sample  # noqa: E402
from rls3_bench.labels.relations import label_scene  # noqa: E402
from rls3_bench.scene.random_scenes import random_spec  # noqa: E402
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec  # noqa: E402

SIZE = 64
CAMERA = CameraPose(eye=(0.0, -1.35, 1.7), target=(0.0, 0.2, 0.87), fov_deg=54.0)


def specs() -> list[SceneSpec]:
    """Random scenes over every room (some infeasible), plus one overlap, one unsupported, one out of view."""
    rng = np.random.default_rng(7)
    out = [
        random_spec(rng, room)
        for room in ("bedroom", "dining-area", "kitchen-a", "kitchen-b", "living-room")
        for _ in range(2)
    ]
    out += [
        SceneSpec(
            "kitchen-a", CAMERA, (PlacedObject("plate", (0.0, 0.2, 0.9)), PlacedObject("vase", (0.01, 0.2, 0.9)))
        ),
        SceneSpec(
            "kitchen-a", CAMERA, (PlacedObject("plate", (0.0, -0.9, 0.0)), PlacedObject("vase", (0.3, 0.2, 0.9)))
        ),
        SceneSpec(
            "kitchen-a", CAMERA, (PlacedObject("blender", (1.5, 0.2, 0.0)), PlacedObject("vase", (0.3, 0.2, 0.9)))
        ),
    ]
    return out


def captions_of(obs) -> list[tuple]:
    """Every label of the scene and the caption + negatives of each captionable pair."""
    labels = label_scene(obs)
    return [(p.a, p.b, p.vertical, p.depth, p.lateral, p.captionable) for p in labels] + [
        (make_sample(obs, p).caption, make_sample(obs, p).negatives) for p in labels if p.captionable and obs.valid
    ]


@pytest.fixture(scope="module")
def embedded():
    with EmbeddedBackend(image_size=SIZE, renderer="tiny") as b:
        yield b


@pytest.fixture(scope="module")
def reference(embedded):
    return [(s, embedded.observe(s)) for s in specs()]


# --- the stand-in gives what the embedded backend gives, through the whole protocol -----------------
@pytest.mark.parametrize("mode", ["thread", "exe"])
def test_observations_labels_and_captions_equal_the_embedded_backend(mode, reference):
    with open_unity(mode, SIZE) as unity:
        assert unity.renderer == "unity/standin-pybullet-tiny"
        assert (
            unity.player_info["communication_version"] == "1.5.0"
            and unity.player_info["package_version"] == "2.2.1-exp.1"
        )
        # twice over, in another order: each answer depends on its spec only
        for spec, ref in reference + reference[::-1]:
            obs = unity.observe(spec)
            assert obs.spec == spec and obs.image.dtype == np.uint8 and obs.image.shape == (SIZE, SIZE, 3)
            assert np.array_equal(obs.image, ref.image) and np.array_equal(obs.segmentation, ref.segmentation)
            assert obs.objects == ref.objects
            assert (obs.valid, obs.invalid_reason) == (ref.valid, ref.invalid_reason)
            assert captions_of(obs) == captions_of(ref)
    assert {r.valid for _, r in reference} == {True, False}
    assert any(r.invalid_reason.startswith("overlap") for _, r in reference if not r.valid)


def test_episode_ends_neither_lose_nor_shift_observations(reference):
    """Agent.MaxStep = 3: every third answer comes as a terminal step beside the next decision step."""
    with open_unity("thread", SIZE, knobs={"max_step": 3}) as unity:
        for spec, ref in reference[:8]:
            obs = unity.observe(spec)
            assert np.array_equal(obs.image, ref.image) and obs.objects == ref.objects


@pytest.mark.unity
def test_real_player_observations_are_well_formed_deterministic_and_agree_with_embedded(reference):
    """Against real Unity: images differ (another renderer), geometry and labels should mostly agree."""
    with open_unity("real", SIZE) as unity:
        agree = 0
        for spec, ref in reference:
            a, b = unity.observe(spec), unity.observe(spec)
            assert np.array_equal(a.image, b.image) and a.objects == b.objects, "same spec, same answer"
            assert a.image.shape == (SIZE, SIZE, 3) and a.segmentation.shape == (SIZE, SIZE)
            assert [o.asset for o in a.objects] == [o.asset for o in spec.objects]
            agree += a.valid == ref.valid and (not a.valid or captions_of(a)[:3] == captions_of(ref)[:3])
        assert agree >= 0.7 * len(reference), f"only {agree} of {len(reference)} scenes agree with the embedded backend"


# --- protocol pieces ---------------------------------------------------------------------------------
def test_side_channel_framing_is_the_one_mlagents_uses():
    """The stand-in frames and parses side channels like mlagents-envs (and C#'s SideChannelManager)."""
    from mlagents_envs.side_channel.outgoing_message import OutgoingMessage
    from mlagents_envs.side_channel.raw_bytes_channel import RawBytesChannel
    from mlagents_envs.side_channel.side_channel_manager import SideChannelManager

    py = RawBytesChannel(SCENE_REQUEST_CHANNEL)
    py.send_raw_data(bytearray(b'{"a": "\xc3\xa9"}'))
    other = RawBytesChannel(uuid.UUID("11111111-2222-3333-4444-555555555555"))
    other.send_raw_data(bytearray(b"later"))
    wire = bytes(SideChannelManager([py, other]).generate_side_channel_messages())

    got, late = [], []
    sc = SideChannels()
    sc.register(SCENE_REQUEST_CHANNEL, got.append)
    sc.process(wire)
    assert got == [b'{"a": "\xc3\xa9"}'] and len(sc.cached) == 1  # unknown id: cached, as C# does
    sc.register(other.channel_id, late.append)
    sc.process(b"")
    assert late == [b"later"] and not sc.cached

    sc.queue(SCENE_GRAPH_CHANNEL, b"graph")
    back = RawBytesChannel(SCENE_GRAPH_CHANNEL)
    SideChannelManager([back]).process_side_channel_message(sc.pack())
    assert back.get_and_clear_received_messages() == [b"graph"]
    with pytest.raises(ValueError):
        sc.process(wire[:-3])
    m = OutgoingMessage()
    m.write_int32(2)
    m.write_float32(100.0)
    assert struct.unpack("<if", bytes(m.buffer)) == (2, 100.0)  # EngineConfigurationChannel's time scale


def test_request_is_utf8_json_of_the_spec(reference):
    spec = reference[0][0]
    msg = json.loads(encode_request(5, spec, 0.002).decode("utf-8"))
    assert (
        msg["request_id"] == 5
        and SceneSpec.from_dict(msg["spec"]) == spec
        and msg["settings"] == {"min_visible_fraction": 0.002}
    )


def test_segmentation_round_trip_and_malformed_graphs(reference):
    spec, ref = next((s, r) for s, r in reference if r.valid)
    seg = ref.segmentation
    assert np.array_equal(decode_segmentation(encode_segmentation(seg), SIZE, len(spec.objects)), seg)
    graph = scene_graph(ref, 1)
    assert observation_from_graph(spec, graph, ref.image, "x").objects == ref.objects
    broken = {
        "objects out of order": lambda g: g["objects"].reverse(),
        "pixel count": lambda g: g["objects"][0].update(visible_pixels=g["objects"][0]["visible_pixels"] + 1),
        "validity": lambda g: g.update(valid=False),
        "position": lambda g: g["objects"][0].update(position=[0, "a", 0]),
        "segmentation size": lambda g: g.update(segmentation=encode_segmentation(seg[:-1])),
        "segmentation index": lambda g: g.update(segmentation=encode_segmentation(np.full_like(seg, 7))),
    }
    for damage in broken.values():
        g = json.loads(json.dumps(graph))
        damage(g)
        with pytest.raises(ValueError):
            observation_from_graph(spec, g, ref.image, "x")


class GarblingPlayer(StandinPlayer):
    """A player whose scene graph is wrong (a C# bug): the backend must say so and shut down cleanly."""

    def on_action_received(self) -> None:
        super().on_action_received()
        if self.report and self.report.get("kind") == "scene":
            self.report["objects"][0]["visible_pixels"] += 1


class RefusingPlayer(StandinPlayer):
    def on_action_received(self) -> None:
        req, self.pending = self.pending, None
        if req is not None:
            self.report = {
                "protocol": 1,
                "kind": "error",
                "request_id": req["request_id"],
                "message": "no such asset here",
            }


@pytest.mark.parametrize(
    "cls, message",
    [
        (GarblingPlayer, "malformed scene graph for request 1"),
        (RefusingPlayer, "refused scene request 1: no such asset here"),
    ],
)
def test_bad_answers_are_one_clear_error_and_free_the_port(cls, message, reference):
    port = free_port()
    player = cls(port, image_size=SIZE).start_thread()
    backend = UnityBackend(image_size=SIZE, base_port=port, worker_id=0, timeout_s=30)
    with pytest.raises(UnityBackendError, match=message):
        backend.observe(reference[0][0])
    player.join()
    assert port_is_free(port)
    with pytest.raises(UserError, match="closed"):
        backend.observe(reference[0][0])


def test_server_listens_on_loopback_only():
    """mlagents-envs binds [::] (all interfaces); the backend's server binds localhost only."""
    port = free_port()
    player = StandinPlayer(port, image_size=SIZE).start_thread()
    with UnityBackend(image_size=SIZE, base_port=port, worker_id=0, timeout_s=30):
        listening = _listening_addresses(port)
    player.join()
    assert listening and all(
        a.is_loopback or (a.version == 6 and a.ipv4_mapped and a.ipv4_mapped.is_loopback) for a in listening
    ), listening


def _listening_addresses(port: int) -> list:
    import ipaddress

    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if int(p, 16) != port or state != "0A":  # 0A = LISTEN
                continue
            raw = bytes.fromhex(addr)
            # /proc prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            out.append(ipaddress.ip_address(raw))
    return out


def test_parallel_backends_take_their_own_ports(reference):
    """worker_id=None: a second backend on the same base port moves to the next one (parallel cells)."""
    use_this_python()
    base = free_port()
    with (
        UnityBackend(image_size=SIZE, player=FAKE_PLAYER, base_port=base, timeout_s=30) as a,
        UnityBackend(image_size=SIZE, player=FAKE_PLAYER, base_port=base, timeout_s=30) as b,
    ):
        assert (a.port, b.port) == (base, base + 1)
        spec, ref = reference[1]
        assert np.array_equal(a.observe(spec).image, ref.image) and np.array_equal(b.observe(spec).image, ref.image)
        with pytest.raises(UnityBackendError, match=f"port {base} is in use"):
            UnityBackend(image_size=SIZE, player=FAKE_PLAYER, base_port=base, worker_id=0, timeout_s=30)
    assert port_is_free(base) and port_is_free(base + 1)


def test_cli_render_through_the_stand_in_writes_the_embedded_image(tmp_path, capsys):
    from rls3_bench.cli import main

    use_this_python()
    assert main(["render", "--seed", "3", "--size", "64", "-o", str(tmp_path / "e.png")]) == 0
    embedded_out = capsys.readouterr().out
    assert (
        main(
            [
                "render",
                "--seed",
                "3",
                "--size",
                "64",
                "-o",
                str(tmp_path / "u.png"),
                "--backend",
                "unity",
                "--unity-player",
                str(FAKE_PLAYER),
                "--unity-port",
                str(free_port()),
            ]
        )
        == 0
    )
    unity_out = capsys.readouterr().out
    assert (tmp_path / "u.png").read_bytes() == (tmp_path / "e.png").read_bytes()
    assert "unity/standin-pybullet-tiny" in unity_out
    assert unity_out.splitlines()[1:] == embedded_out.splitlines()[1:]  # the captions
    assert main(["render", "--seed", "3", "-o", str(tmp_path / "x.png"), "--unity-player", "Room.x86_64"]) == 2
    assert "--unity-* options apply to --backend unity only" in capsys.readouterr().err
