"""`tinyc` on .tflite files as a user runs it: compile, plan, verify; and the one-line errors
for what the frontend refuses (an unsupported builtin or custom op names it and its index)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tflite.BuiltinOperator import BuiltinOperator

from tests.clirun import assert_one_line, cli
from tests.tflite.tiny_models import relu_model, unary_model
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
