"""`tinyc` on .tflite files as a user runs it: compile, plan, verify (against TFLite Micro, or
LiteRT for the models TFLite Micro refuses); and the one-line errors
for what the frontend refuses (an unsupported builtin or custom op names it and its index)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from tflite.BuiltinOperator import BuiltinOperator

from tests.clirun import assert_one_line, cli, strip_progress
from tests.tflite.tiny_models import relu_model, unary_model
from tinyc.cli import main
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.errors import TinycError

MODELS = Path(__file__).parent.parent / "models" / "tflite"


def test_compile_plan_verify_kws(tmp_path: Path) -> None:
    model = str(MODELS / "kws_ref_model.tflite")
    out = tmp_path / "out"
    proc = cli(model, "-o", str(out), "--report")
    assert proc.returncode == 0, proc.stderr
    assert (out / "kws_ref_model.c").is_file() and (out / "report.json").is_file()
    plan = cli("plan", model)
    assert plan.returncode == 0 and "arena" in plan.stdout, plan.stderr
    verify = cli("verify", model)
    assert verify.returncode == 0, verify.stderr
    assert "verify ok" in verify.stdout + verify.stderr


def test_float_model_verifies_against_tflite_micro(tmp_path: Path) -> None:
    proc = cli("verify", str(relu_model(tmp_path / "relu.tflite")))
    assert proc.returncode == 0, proc.stderr
    assert "verify ok against TFLite Micro" in proc.stdout + proc.stderr


@pytest.mark.parametrize("stem", ["wide_hybrid", "wide_fp16"])
def test_model_tflite_micro_refuses_verifies_against_litert(stem: str, capfd) -> None:  # noqa: ANN001
    """TFLite Micro has no hybrid kernels and no float16 DEQUANTIZE: `verify` says so in one
    line (TFLite Micro's own message in it, not on stderr) and compares with LiteRT, within
    the float tolerance."""
    assert main(["verify", str(MODELS / f"{stem}.tflite")]) == 0
    captured = capfd.readouterr()  # file descriptors: TFLite Micro's C++ writes to fd 2
    assert strip_progress(captured.err) == ""
    lines = captured.out.splitlines()
    assert lines[0].startswith("tinyc: TFLite Micro cannot run the model (tensorflow/lite/")
    assert lines[0].endswith("): comparing with LiteRT")
    assert lines[1].endswith("vs LiteRT (rtol 0.0001, atol 1e-05): ok")
    assert "verify ok against LiteRT" in lines[-1]


def test_without_litert_verify_says_it_uses_the_interpreter(capsys, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # its import fails
    assert main(["verify", str(MODELS / "wide_hybrid.tflite")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tinyc: TFLite Micro cannot run the model (")
    assert lines[0].endswith(", and ai-edge-litert is not installed: comparing with "
                             "tinyc's interpreter")
    assert "verify ok against tinyc's interpreter" in lines[-1]


def test_unsupported_builtin_is_exit_4(tmp_path: Path) -> None:
    model = unary_model(tmp_path / "cumsum.tflite", BuiltinOperator.CUMSUM)
    line = assert_one_line(cli(str(model), "-o", str(tmp_path / "out")), 4)
    assert "operator 0 (CUMSUM)" in line
    assert not (tmp_path / "out").exists()


def test_custom_op_is_exit_4(tmp_path: Path) -> None:
    model = unary_model(tmp_path / "custom.tflite", BuiltinOperator.CUSTOM, custom="MyOp")
    line = assert_one_line(cli(str(model), "-o", str(tmp_path / "out")), 4)
    assert "custom operator 0 (MyOp)" in line


def test_not_a_flatbuffer_is_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"this is not a model")
    line = assert_one_line(cli(str(bad), "-o", str(tmp_path / "out")), 3)
    assert "not a TFLite flatbuffer" in line
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes((MODELS / "kws_ref_model.tflite").read_bytes()[:4000])
    assert_one_line(cli(str(truncated), "-o", str(tmp_path / "out")), 3)


def test_shape_flag_is_usage_error(tmp_path: Path) -> None:
    model = str(MODELS / "kws_ref_model.tflite")
    assert_one_line(cli(model, "-o", str(tmp_path / "o"), "--shape", "x=1x2"), 2)


def test_operator_missing_its_weights_is_exit_3(tmp_path: Path) -> None:
    model = unary_model(tmp_path / "conv.tflite", BuiltinOperator.CONV_2D)
    line = assert_one_line(cli(str(model), "-o", str(tmp_path / "out")), 3)
    assert "operator 0 (CONV_2D): needs 2 input tensor(s)" in line


def test_corrupt_bytes_give_tinyc_errors_only(tmp_path: Path) -> None:
    """Random byte changes in a small int8 model: each result compiles or is a one-line
    TinycError (malformed, unsupported), never another exception."""
    source = (MODELS / "ops_int8.tflite").read_bytes()
    rng = np.random.default_rng(7)
    path = tmp_path / "m.tflite"
    for _ in range(60):
        data = bytearray(source)
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(8, len(data))] = rng.integers(0, 256)
        path.write_bytes(bytes(data))
        try:
            graph, _ = optimize(load_model(path, Options()), Options())
            compile_graph(graph, Options(), "m")
        except TinycError:
            pass
