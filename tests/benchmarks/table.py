"""Run the benchmarks and print one markdown table: name, mean ms, items per call, items/s.

    python tests/benchmarks/table.py [-k EXPR] [other pytest arguments]

Arguments go to ``pytest tests/benchmarks -m benchmark``; its own output goes to stderr, the table to
stdout. Items per call come from the ``<unit>_per_s`` rate a benchmark records in ``extra_info``
(``bench_scenes.report_rate``): items = rate x mean; a benchmark without one counts 1 call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def rows(report: dict) -> list[tuple[str, float, float, str]]:
    """(name, mean seconds, items per call, unit) per benchmark, in the order run."""
    out = []
    for b in report["benchmarks"]:
        mean = b["stats"]["mean"]
        rates = [(k[: -len("_per_s")], v) for k, v in b["extra_info"].items() if k.endswith("_per_s")]
        unit, rate = rates[0] if rates else ("calls", 1.0 / mean)
        path, _, test = b["fullname"].partition("::")
        out.append((f"{Path(path).stem.removeprefix('test_')}::{test}", mean, rate * mean, unit))
    return out


def table(report: dict) -> str:
    import torch

    head = (
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()} (benchmarks set their own), "
        f"python {sys.version.split()[0]}, torch {torch.__version__}"
    )
    lines = [head, "", "| benchmark | mean ms | items per call | items/s |", "|---|---:|---:|---:|"]
    for name, mean, items, unit in rows(report):
        ms = f"{mean * 1e3:,.2f}" if mean >= 1e-3 else f"{mean * 1e3:.3f}"
        unit = unit[:-1] if round(items) == 1 else unit  # "1 scene", "128 samples"
        lines.append(f"| {name} | {ms} | {items:,.0f} {unit} | {items / mean:,.1f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [sys.executable, "-m", "pytest", "tests/benchmarks", "-m", "benchmark", f"--benchmark-json={out}", *argv]
        rc = subprocess.run(cmd, cwd=root, stdout=sys.stderr).returncode
        if out.is_file():
            print(table(json.loads(out.read_text())))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
