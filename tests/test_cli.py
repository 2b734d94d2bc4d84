"""The CLI in-process: listings, render/preview/export outputs, and one-line errors with no output files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rls3_bench.cli import main


def test_ls_imports_no_torch_or_pybullet(tmp_path):
    code = (
        "import sys; from rls3_bench.cli import main; main(['ls']); "
        "assert 'torch' not in sys.modules and 'pybullet' not in sys.modules, "
        "sorted(m for m in sys.modules if m in ('torch', 'pybullet'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "embedded" in out.stdout and "green-cup" in out.stdout and "kitchen-b" in out.stdout


def test_render_seed_writes_png_and_captions(tmp_path, capsys):
    png, spec = tmp_path / "s.png", tmp_path / "s.json"
    assert main(["render", "--seed", "3", "-o", str(png), "--spec-out", str(spec), "--renderer", "tiny"]) == 0
    out = capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "The " in out and "pybullet-tiny" in out
    # rendering the written spec again gives the same image, byte for byte
    png2 = tmp_path / "s2.png"
    assert main(["render", "--spec", str(spec), "-o", str(png2), "--renderer", "tiny"]) == 0
    assert png2.read_bytes() == png.read_bytes()


def _spec_file(tmp_path, mutate):
    from rls3_bench.harness.seeds import rng_for
    from rls3_bench.scene.random_scenes import random_spec

    d = json.loads(random_spec(rng_for("preview", 0)).to_json())
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d) if not isinstance(d, str) else d)
    return p


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.update(room="garage"), "unknown room"),
        (lambda d: d["objects"][0].update(asset="toaster"), "unknown asset"),
        (lambda d: d["objects"][0].update(scale=-1), "scale"),
        # impossible placement: every object over the open floor, far from any furniture
        (lambda d: [o.update(position=[1.8 - 0.3 * i, -1.8, 0.2]) for i, o in enumerate(d["objects"])], "infeasible"),
    ],
)
def test_render_bad_input_one_line_no_file(tmp_path, capsys, mutate, fragment):
    out_png = tmp_path / "out.png"
    code = main(["render", "--spec", str(_spec_file(tmp_path, mutate)), "-o", str(out_png), "--renderer", "tiny"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("rls3-bench: error:") and fragment in err and err.count("\n") == 1
    assert not out_png.exists() and list(tmp_path.iterdir()) == [tmp_path / "bad.json"]


def test_malformed_json_and_missing_file(tmp_path, capsys):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    assert main(["render", "--spec", str(p), "-o", str(tmp_path / "o.png")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["render", "--spec", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unknown_backend_and_renderer(tmp_path, capsys):
    assert main(["render", "--seed", "1", "-o", str(tmp_path / "o.png"), "--backend", "embeded"]) == 2
    assert "did you mean 'embedded'" in capsys.readouterr().err
    assert main(["render", "--seed", "1", "-o", str(tmp_path / "o.png"), "--renderer", "vulkan"]) == 2
    assert "vulkan" in capsys.readouterr().err


def test_argparse_errors_exit_nonzero():
    for argv in (["render", "--seed", "-1", "-o", "x.png"], ["preview", "-n", "0", "-o", "x.png"], ["nonsense"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2


def test_preview_and_export(tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    assert main(["preview", "-n", "4", "--seed", "0", "-o", str(sheet), "--renderer", "tiny"]) == 0
    assert sheet.stat().st_size > 1000
    data = tmp_path / "d.parquet"
    assert main(["export", "-n", "5", "--seed", "0", "-o", str(data), "--renderer", "tiny"]) == 0
    from rls3_bench.data.parquet import read_table

    df = read_table(data).to_pandas(use_threads=False)  # a pandas frame, as a datasets user reads it
    assert len(df) == 5 and set(df.columns) >= {"caption", "negatives", "image", "terms", "spec"}


# --- run: what cannot start fails before any cell folder exists ------------------------------------


@pytest.mark.parametrize(
    "track, fragment",
    [
        ("clip-vit-b-32", "open_clip weights 'ViT-B-32' / 'openai' are not in the local cache"),
        ("paligemma-3b", "weights 'google/paligemma-3b-pt-224' are not in the local Hugging Face cache"),
    ],
)
def test_run_with_missing_weights_fails_before_any_cell(track, fragment, tmp_path, capsys, empty_caches, no_network):
    results = tmp_path / "runs"
    code = main(["run", "--track", track, "--device", "cpu", "--results", str(results), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("rls3-bench: error:") and fragment in err and "--weights" in err and err.count("\n") == 1
    assert not results.exists()  # no cell folder, no lock file, no progress bar


def test_run_on_a_missing_gpu_fails_before_any_cell(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    results = tmp_path / "runs"
    code = main(["run", "--track", "clip-tiny", "--preset", "smoke", "--device", "cuda", "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2 and "CUDA is not available; use --device cpu" in err and err.count("\n") == 1
    assert not results.exists()
