"""`tinyc verify` says what it compared with and with which tolerances, and says so in one
line when onnxruntime is missing instead of switching to tinyc's interpreter silently."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.clirun import strip_progress
from tinyc.cli import main
from tinyc.reference import MISSING_ONNXRUNTIME

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


@pytest.fixture
def digit(tmp_path: Path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.load(MODELS / "digits_test_x.npy")[:1])
    return path


def test_verify_names_onnxruntime_and_the_tolerances(digit: Path, capsys) -> None:  # noqa: ANN001
    code = main(["verify", str(MODELS / "digits_cnn.onnx"), "--input", str(digit),
                 "--rtol", "0.001", "--atol", "2e-06"])
    out = capsys.readouterr().out
    assert code == 0
    result = [line for line in out.splitlines() if "max abs err" in line]
    assert len(result) == 1 and "max rel err" in result[0]
    assert result[0].endswith("vs onnxruntime (rtol 0.001, atol 2e-06): ok")
    assert "verify ok against onnxruntime" in out
    assert "interpreter" not in out


def test_without_onnxruntime_verify_says_it_uses_the_interpreter(
        digit: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    code = main(["verify", str(MODELS / "digits_cnn.onnx"), "--input", str(digit)])
    captured = capsys.readouterr()
    assert code == 0 and strip_progress(captured.err) == ""
    lines = captured.out.splitlines()
    assert lines.count(MISSING_ONNXRUNTIME) == 1
    assert MISSING_ONNXRUNTIME == ("tinyc: onnxruntime is not installed: comparing with "
                                   "tinyc's interpreter")
    result = [line for line in lines if "max abs err" in line]
    assert result and result[0].endswith(
        "vs tinyc's interpreter (rtol 0.0001, atol 1e-05): ok")
    assert "verify ok against tinyc's interpreter" in captured.out
    assert "onnxruntime:" not in captured.out.replace(MISSING_ONNXRUNTIME, "")


def test_a_mismatch_names_the_reference_and_tolerances(digit: Path, capsys) -> None:  # noqa: ANN001
    """A negative tolerance cannot pass: the error says against what and with what."""
    code = main(["verify", str(MODELS / "digits_cnn.onnx"), "--input", str(digit),
                 "--rtol", "0", "--atol", "-1"])
    captured = capsys.readouterr()
    assert code == 5
    assert "vs onnxruntime (rtol 0, atol -1): MISMATCH" in captured.out
    assert strip_progress(captured.err) == ("tinyc: error: outputs differ from onnxruntime "
                                            "(rtol 0, atol -1)\n")


@pytest.mark.parametrize("command", ["verify", "validate"])
def test_tolerances_have_help(command: str, capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--rtol RTOL relative tolerance" in text and "--atol ATOL absolute tolerance" in text
