"""examples/firmware/host stands alone: copied out of the repository, its Makefile runs the
`tinyc` on PATH (here with PYTHON pointing nowhere, so only PATH can have found it), builds
the program with the strict flags, and `make run` classifies the held-out digits."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "examples" / "models"
EXAMPLE = REPO / "examples" / "firmware" / "host"


def test_host_example_copied_out_builds_and_runs(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    shutil.copytree(EXAMPLE, project)
    x = np.load(MODELS / "digits_test_x.npy").astype("<f4")
    y = np.load(MODELS / "digits_test_y.npy").astype("<i8")
    x.tofile(tmp_path / "images.f32")
    y.tofile(tmp_path / "labels.i64")
    scripts = Path(sys.executable).parent
    assert (scripts / "tinyc").exists()
    env = {**os.environ, "PATH": os.pathsep.join([str(scripts), os.environ.get("PATH", "")])}
    proc = subprocess.run(
        ["make", "-C", str(project), f"MODEL={MODELS / 'digits_cnn.onnx'}",
         "PYTHON=/nonexistent/python", "run", f"IMAGES={tmp_path / 'images.f32'}",
         f"LABELS={tmp_path / 'labels.i64'}"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "\ntinyc " in proc.stdout  # the tinyc on PATH, not the fallback
    predictions = [line for line in proc.stdout.splitlines() if line.startswith("sample ")]
    assert len(predictions) == 8
    correct, total = proc.stdout.split("accuracy: ")[1].split(" = ")[0].split("/")
    assert int(total) == len(y) and int(correct) >= 0.95 * len(y)
