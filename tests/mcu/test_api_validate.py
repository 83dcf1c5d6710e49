"""`tinyc.validate`: the CLI prints exactly the result the API returns; its figures hold
together (flash and RAM are their parts, the arena is the compiled one, instructions per
MAC is the ratio); a quantized model is judged bit-exactly against the interpreter, and
`board` runs the portable kernels on the M4."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyc
from tinyc.mcu.validate import count_macs

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
DIGITS = MODELS / "digits_cnn.onnx"


def test_the_cli_prints_the_api_result(mcu_tools: None, tmp_path: Path) -> None:
    x = np.load(MODELS / "digits_test_x.npy")[:1]
    np.save(tmp_path / "x.npy", x)
    result = tinyc.validate(DIGITS, [x])
    assert isinstance(result, tinyc.ValidateResult)
    assert result.ok and result.reference == "onnxruntime" and result.notes == ()
    assert (result.target, result.machine) == ("cortex-m4", "mps2-an386")
    m = result.measurement
    compiled = tinyc.compile(DIGITS, tmp_path / "m4", target="cortex-m4")
    assert result.macs == count_macs(compiled.graph) > 0 and m.arena == compiled.arena_bytes
    assert result.instr_per_mac == pytest.approx(result.instructions / result.macs)
    assert result.flash == m.model.text + m.model.rodata + m.model.data
    assert result.ram == m.arena + m.other_static + m.stack
    assert m.io == x.nbytes + 10 * 4  # the image in, ten float scores out
    # every instruction costs at least a cycle on the M4; some read memory
    assert result.cycles is not None and result.cycles > result.instructions
    assert result.cycles_per_mac == pytest.approx(result.cycles / result.macs)
    assert result.data_reads is not None and 0 < result.data_reads < result.instructions
    proc = subprocess.run([sys.executable, "-m", "tinyc", "validate", str(DIGITS), "--input",
                           str(tmp_path / "x.npy"), "--quiet"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.splitlines() == [*result.lines(), "tinyc: validate ok"]


def test_int8_on_another_board_against_the_interpreter(mcu_tools: None, tmp_path: Path) -> None:
    calib = tmp_path / "calib.npy"
    np.save(calib, np.load(MODELS / "digits_train_x.npy")[:16].astype(np.float32))
    result = tinyc.validate(DIGITS, target="generic", board="cortex-m4", quantize="int8",
                            calib=calib, profile=True)
    assert result.ok and result.reference == "tinyc's interpreter"
    assert [c.tolerance for c in result.outputs] == ["rtol 0.0001, atol 1e-05"]  # float io
    assert result.target == "cortex-m4"
    assert sum(n.macs for n in result.profile) == result.macs > 0
    assert 0 < sum(n.instructions for n in result.profile) <= result.instructions
    assert all(n.cycles is not None and n.cycles >= n.instructions for n in result.profile)
    assert sum(n.cycles or 0 for n in result.profile) <= (result.cycles or 0)
    assert sum(n.data_reads or 0 for n in result.profile) <= (result.data_reads or 0)


def test_validate_refuses_a_target_without_a_board() -> None:
    with pytest.raises(tinyc.UsageError, match="has no board"):
        tinyc.validate(DIGITS, target="host")


def test_the_readme_validate_example_runs_as_written(mcu_tools: None, tmp_path: Path) -> None:
    readme = (MODELS.parents[1] / "README.md").read_text()
    snippet = readme.split("## Python API", 1)[1].split("```python\n")[2].split("```", 1)[0]
    assert "tinyc.validate(" in snippet
    (tmp_path / "kws.onnx").write_bytes((MODELS / "kws_dscnn.onnx").read_bytes())
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first.startswith("True onnxruntime ") and second.startswith("flash ")
    assert "tinyc: running on QEMU mps2-an386 ..." in proc.stderr.splitlines()
