"""The Unity project's sources: the C# compiles (Debian's mono C# compiler against stubs of the
UnityEngine, UnityEditor and ML-Agents Release 19 members it uses, laid out as Unity compiles them),
and its constants, catalogue and version pins agree with the Python side."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

UNITY = REPO / "unity"
SCRIPTS = UNITY / "Assets" / "Scripts"
STUBS = Path(__file__).parent / "unity_stubs"
MCS = shutil.which("mcs")
#: Unity 2020.3 accepts C# 8; compiling as 7.2 keeps the scripts inside what both accept.
LANG = "-langversion:7.2"


def _mcs(out: Path, sources, refs=(), extra=()) -> subprocess.CompletedProcess:
    cmd = [MCS, LANG, "-target:library", f"-out:{out}", *extra, *(f"-r:{r}" for r in refs), *map(str, sources)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def compile_project(scripts: Path, work: Path) -> subprocess.CompletedProcess:
    """Stub assemblies, then Assembly-CSharp (runtime scripts) and Assembly-CSharp-Editor (Editor/),
    as Unity splits them: runtime scripts cannot see UnityEditor. The first failure is returned."""
    engine, agents, editor = work / "UnityEngine.dll", work / "Unity.ML-Agents.dll", work / "UnityEditor.dll"
    game, tools = work / "Assembly-CSharp.dll", work / "Assembly-CSharp-Editor.dll"
    steps = [
        (engine, [STUBS / "UnityEngine.cs"], [], []),
        (agents, [STUBS / "MLAgents.cs"], [engine], []),
        (editor, [STUBS / "UnityEditor.cs"], [engine], []),
        (game, sorted(scripts.glob("*.cs")), [engine, agents], ["-warnaserror+"]),
        (
            tools,
            sorted((scripts / "Editor").glob("*.cs")),
            [engine, editor, agents, game],
            ["-warnaserror+", "-define:UNITY_EDITOR"],
        ),
    ]
    for out, sources, refs, extra in steps:
        result = _mcs(out, sources, refs, extra)
        if result.returncode != 0:
            return result
    return result


needs_mcs = pytest.mark.skipif(
    MCS is None, reason="mcs is not installed (Debian: apt-get install mono-mcs; CI installs it)"
)


@needs_mcs
def test_unity_scripts_compile_against_the_unity_and_mlagents_stubs(tmp_path):
    result = compile_project(SCRIPTS, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "Assembly-CSharp.dll").stat().st_size > 0 and (tmp_path / "Assembly-CSharp-Editor.dll").exists()


@needs_mcs
@pytest.mark.parametrize(
    "file, old, new, error",
    [
        (
            "RoomAgent.cs",
            "SceneCamera.fieldOfView = fovDeg;",
            "SceneCamera.fieldOfVeiw = fovDeg;",
            "CS1061",
        ),  # no such member
        (
            "ScenePlacer.cs",
            "var candidate = hit.point.y - bottom;",
            "var candidate = hit.point - bottom;",
            "CS0019",
        ),  # type error
        (
            "Rls3Bootstrap.cs",
            "using UnityEngine;",
            "using UnityEngine;\nusing UnityEditor;",
            "CS0246",
        ),  # editor API in the player
    ],
)
def test_the_check_catches_errors(tmp_path, file, old, new, error):
    broken = tmp_path / "Scripts"
    shutil.copytree(SCRIPTS, broken)
    text = (broken / file).read_text()
    assert text.count(old) == 1
    (broken / file).write_text(text.replace(old, new))
    result = compile_project(broken, tmp_path)
    assert result.returncode != 0 and error in result.stdout + result.stderr


# --- the C# side and the Python side agree --------------------------------------------------------------
def _cs(name: str) -> str:
    return (SCRIPTS / name).read_text()


def test_channel_ids_names_and_protocol_match_the_python_backend():
    from rls3_bench.backends import unity as py

    assert re.search(
        r'const string Id = "([0-9a-f-]+)"', _cs("SceneChannels.cs").split("class SceneGraphChannel")[0]
    ).group(1) == str(py.SCENE_REQUEST_CHANNEL)
    assert re.search(
        r'const string Id = "([0-9a-f-]+)"', _cs("SceneChannels.cs").split("class SceneGraphChannel")[1]
    ).group(1) == str(py.SCENE_GRAPH_CHANNEL)
    assert f"public const int Protocol = {py.SCENE_PROTOCOL};" in _cs("SceneRequest.cs")
    assert f"public const int Protocol = {py.SCENE_PROTOCOL};" in _cs("SceneGraphWriter.cs")
    assert f'BehaviorName = "{py.BEHAVIOR_NAME}";' in _cs("Rls3Bootstrap.cs")
    assert f'CameraSensorName = "{py.CAMERA_SENSOR}";' in _cs("Rls3Bootstrap.cs")
    assert f'ImageSizeFlag = "{py.IMAGE_SIZE_ARG}";' in _cs("CommandLine.cs")
    assert f'FileName = "{py.CATALOGUE_PATH.name}";' in _cs("Catalogue.cs")
    assert (
        "RenderWithShader" in _cs("SegmentationRenderer.cs")
        and (UNITY / "Assets/Resources/Rls3SegmentationId.shader").is_file()
    )


def test_the_exported_catalogue_is_current():
    """unity/ builds the objects and rooms the Python package defines; re-export after changing assets.py."""
    from rls3_bench.backends.unity import catalogue, catalogue_digest, catalogue_json

    path = REPO / "unity/Assets/StreamingAssets/rls3_catalogue.json"
    assert path.read_text() == catalogue_json(), "stale: run `python -m rls3_bench.backends.unity write-catalogue`"
    data = json.loads(path.read_text())
    assert data.pop("digest") == catalogue_digest() and data == catalogue()
    assert all(len(a["footprint"]) % 3 == 0 and len(a["com_xy"]) == 2 for a in data["assets"])


def test_write_catalogue_command(tmp_path, capsys):
    from rls3_bench.backends.unity import catalogue_digest, main

    assert main(["write-catalogue", str(tmp_path / "c.json")]) == 0
    assert (tmp_path / "c.json").read_text() == (REPO / "unity/Assets/StreamingAssets/rls3_catalogue.json").read_text()
    assert catalogue_digest()[:12] in capsys.readouterr().out


def test_version_pins_agree():
    """The Unity package, the Editor version and mlagents-envs are the Release 19 set."""
    from rls3_bench.backends.unity import PACKAGE_VERSION

    manifest = json.loads((UNITY / "Packages/manifest.json").read_text())
    assert manifest["dependencies"]["com.unity.ml-agents"] == PACKAGE_VERSION == "2.2.1-exp.1"
    assert re.match(r"m_EditorVersion: 20(20\.3|2[1-9]\.)", (UNITY / "ProjectSettings/ProjectVersion.txt").read_text())
    constraints = (REPO / "constraints.txt").read_text()
    assert "mlagents-envs==0.28.0" in constraints and "protobuf==3.20.3" in constraints
    assert "mono-mcs" in (REPO / ".ci/run").read_text()
