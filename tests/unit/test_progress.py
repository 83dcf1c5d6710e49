"""Progress of slow steps (tinyc.progress): off a terminal, one plain line per step on
stderr, in order, before a failure's one error line, and nothing on stdout, which stays the
command's result; `--quiet` and the API's default print none; on a terminal (a pty), one
line redrawn in place and erased at the end."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyc
from tinyc.cli import main
from tinyc.progress import is_progress_line

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
DIGITS = MODELS / "digits_cnn.onnx"

VERIFY_STEPS = [
    "tinyc: generating the C of digits_cnn ...",
    "tinyc: building the C with the host cc ...",
    "tinyc: running the C ...",
    "tinyc: computing the reference outputs ...",
]


@pytest.fixture
def calib(tmp_path: Path) -> Path:
    path = tmp_path / "calib.npy"
    np.save(path, np.load(MODELS / "digits_train_x.npy")[:16].astype(np.float32))
    return path


def test_off_a_terminal_each_step_is_a_line_then_the_one_line_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(DIGITS), "--atol", "-1"]) == 5
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [*VERIFY_STEPS, "tinyc: error: outputs differ from "
                                         "onnxruntime (rtol 0.0001, atol -1)"]
    out = captured.out.splitlines()
    assert len(out) == 1 and out[0].startswith("output: max abs err")
    assert not is_progress_line(out[0])


def test_calibration_and_quantize_report_steps(calib: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    compile_args = [str(DIGITS), "-o", str(tmp_path / "out"), "--quantize", "int8",
                    "--calib", str(calib)]
    assert main(compile_args) == 0
    captured = capsys.readouterr()
    assert captured.err == "tinyc: calibrating (minmax) on 16 samples ...\n"
    assert captured.out.startswith("tinyc: wrote ")
    assert main([*compile_args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["quantize-report", str(DIGITS), "--calib", str(calib), "--eval",
                 str(MODELS / "digits_test_x.npy"), "--limit", "8"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "tinyc: evaluating the float model on 8 samples ...",
        "tinyc: calibrating (minmax) on 16 samples ...",
        "tinyc: evaluating int8 (minmax) on 8 samples ...",
        "tinyc: measuring the SNR of each layer on 8 samples ...",
    ]
    assert captured.out.startswith("accuracy on 8 samples:")


def test_the_api_is_quiet_unless_asked(calib: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    tinyc.compile(DIGITS, tmp_path / "out", quantize="int8", calib=calib)
    assert capsys.readouterr().err == ""
    assert tinyc.verify(DIGITS, progress=True).ok
    captured = capsys.readouterr()
    assert captured.err.splitlines() == VERIFY_STEPS and captured.out == ""


def test_on_a_terminal_the_line_is_redrawn_then_erased(calib: Path, tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyc", str(DIGITS), "-o", str(tmp_path / "out"), "--quantize",
         "int8", "--calib", str(calib)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower, text=True,
    )  # fmt: skip
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert stdout.startswith("tinyc: wrote ")
    text = drawn.decode()
    assert text.startswith("\rtinyc: calibrating (minmax) on 16 samples [")
    assert "/16 " in text and " s" in text
    assert "\n" not in text.replace("\r\n", "")  # redrawn in place, never a plain line
    last = text.rsplit("\r", 2)
    assert last[-1] == "" and last[-2].strip() == ""  # the line ends erased
