"""The unity backend's package: registered by its ``module:Class`` string, importable without
mlagents-envs, its option checks made before anything starts, and no private names reached across
modules (the geometry both backends share is public, in rls3_bench.backends.geometry)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import rls3_bench
from rls3_bench.errors import UserError

PACKAGE = Path(rls3_bench.__file__).parent


def test_the_registry_entry_loads_the_backend():
    from rls3_bench.backends import get_backend_class
    from rls3_bench.backends.unity.backend import UnityBackend

    assert get_backend_class("unity") is UnityBackend


def test_the_package_imports_no_mlagents_until_a_backend_starts():
    code = (
        "import sys, rls3_bench.backends.unity as u; u.catalogue_digest(); "
        "assert not any(m.startswith('mlagents') for m in sys.modules), "
        "sorted(m for m in sys.modules if 'mlagents' in m)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def _private_names_used_across_modules(path: Path) -> list[str]:
    """``from x import _name`` and ``module._name`` where ``module`` is an imported rls3_bench module."""
    tree = ast.parse(path.read_text())
    imported_modules = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rls3_bench"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"from {node.module} import {alias.name}")
                imported_modules.add(alias.asname or alias.name)
        if isinstance(node, ast.Import):
            imported_modules.update(a.asname or a.name for a in node.names if a.name.startswith("rls3_bench"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in imported_modules
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "backends").rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_backends_use_no_private_names_of_other_modules(path):
    assert _private_names_used_across_modules(path) == []


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"player": "/nonexistent/Room.x86_64"}, "does not exist"),
        ({"base_port": 65500}, "leaves no room for worker ports"),
        ({"timeout_s": float("nan")}, "time-out must be a number of seconds"),
        ({"player_args": ["-nographics"]}, "-nographics disables"),
        ({"worker_id": 3}, "the Unity Editor listens on one port"),
        ({"colour": "red"}, "unexpected keyword argument 'colour'"),
    ],
)
def test_unity_options_are_checked_without_starting_anything(options, fragment):
    from rls3_bench.backends.unity import UnityBackend

    with pytest.raises(UserError, match=fragment.replace("(", r"\(")):
        UnityBackend.check_options(128, None, **options)


def test_base_check_options_refuses_arguments_the_constructor_does_not_take():
    from rls3_bench.backends.embedded import EmbeddedBackend

    with pytest.raises(UserError, match="image_size must be an integer in \\[16, 2048\\]"):
        EmbeddedBackend.check_options(100000, "tiny")
    with pytest.raises(UserError, match="unknown renderer"):
        EmbeddedBackend.check_options(128, "vulkan")
    EmbeddedBackend.check_options(128, "tiny")
