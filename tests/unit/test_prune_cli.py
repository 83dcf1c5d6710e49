"""The pruning command line: `--prune` on a compile (table on stdout, sparsity.json in the
output), `--prune-layers`, bad specs as one-line errors, `tinyc export` and
`tinyc prune-report`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import onnx
import pytest

from tests.clirun import cli
from tinyc.cli import main

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
DIGITS = str(MODELS / "digits_cnn.onnx")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return cli(*args, cwd=cwd)


def test_compile_with_unstructured_pruning(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli(DIGITS, "-o", str(out), "--prune", "unstructured:0.8",
                   "--prune-layers", "*,!/conv1/Conv")
    assert proc.returncode == 0, proc.stderr
    assert "kernel" in proc.stdout and "sparse" in proc.stdout
    costs = {c["layer"]: c for c in json.loads((out / "sparsity.json").read_text())}
    assert costs["/conv1/Conv"]["density"] == 1.0  # excluded
    assert costs["/fc/Gemm"]["choice"] == "sparse"
    assert (out / "digits_cnn_tinyc_sparse.c").exists()
    # deterministic
    again = tmp_path / "again"
    run_cli(DIGITS, "-o", str(again), "--prune", "unstructured:0.8",
            "--prune-layers", "*,!/conv1/Conv")
    def body(d: Path) -> list[str]:
        return [ln for ln in (d / "digits_cnn.c").read_text().splitlines() if "Command:" not in ln]

    assert body(again) == body(out)


def test_dense_compile_prints_no_pruning_table(tmp_path: Path) -> None:
    proc = run_cli(DIGITS, "-o", str(tmp_path / "out"))
    assert proc.returncode == 0 and "kernel" not in proc.stdout
    assert not (tmp_path / "out" / "sparsity.json").exists()


def test_bad_prune_spec_is_a_one_line_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for spec in ("random:0.5", "unstructured:1.5", "channels:0.5:l7", "unstructured"):
        assert main([DIGITS, "-o", str(tmp_path / "out"), "--prune", spec]) == 2, spec
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("tinyc: error:"), err
        assert not (tmp_path / "out").exists()


def test_export_pruned_channels(tmp_path: Path) -> None:
    path = tmp_path / "pruned.onnx"
    proc = run_cli("export", str(MODELS / "kws_dscnn.onnx"), "-o", str(path),
                   "--prune", "channels:0.5")
    assert proc.returncode == 0, proc.stderr
    model = onnx.load(str(path))
    widths = {i.name: list(i.dims) for i in model.graph.initializer}
    assert max(d[0] for d in widths.values() if len(d) == 4) == 32  # 64 channels halved
    assert [o.name for o in model.graph.output] == ["output"]


def test_prune_report(tmp_path: Path) -> None:
    proc = run_cli("prune-report", DIGITS, "--eval", str(MODELS / "digits_test_x.npy"),
                   str(MODELS / "digits_test_y.npy"), "--limit", "40",
                   "--sparsities", "0,0.5,0.9", "--json", "r.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "(all layers)" in proc.stdout and "90%" in proc.stdout
    assert (tmp_path / "digits_cnn_sensitivity.svg").read_text().startswith("<svg")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["metric"] == "accuracy" and data["sparsities"] == [0.0, 0.5, 0.9]
    proc = run_cli("prune-report", DIGITS, "--eval", "nope.npy", "nope.npy", cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_export_shows_a_hostile_output_name_inert(tmp_path: Path) -> None:
    """The file name comes from the command line: its escape must not reach the terminal."""
    path = tmp_path / "a\x1b[31mred.onnx"
    proc = run_cli("export", DIGITS, "-o", str(path))
    assert proc.returncode == 0, proc.stderr
    assert path.exists()
    assert "\x1b" not in proc.stdout and "\\x1b[31mred.onnx" in proc.stdout
