"""`--const NAME=VALUE` (tinyc/frontend/consts.py) and errors inside a run-time `If`.

The model is shaped like the voice-activity model shipped on PyPI: an int64 scalar input
`sr`, and `If(sr == 16000, <16 kHz net>, <8 kHz net>)` where the 8 kHz net cannot take the
bound 512 samples. Without --const both branches are imported and the 8 kHz one fails:
exit 4 naming the If. With `--const sr=16000` the If folds to the 16 kHz net, and
`tinyc verify` feeds onnxruntime the same sr."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.clirun import cli, strip_progress
from tinyc.compiler import Options, load_model
from tinyc.errors import UsageError
from tinyc.frontend.consts import parse_const_bindings
from tinyc.mcu.validate import reference_outputs

RNG = np.random.default_rng(3)


def _net(tag: str, samples: int, kernel: int, stride: int) -> onnx.GraphProto:
    """Frames of `samples` -> Conv1d(4 filters) -> Relu -> mean over time: [1, 4]."""
    init = [numpy_helper.from_array(np.asarray([1, 1, samples], np.int64), f"{tag}_shape"),
            numpy_helper.from_array(RNG.standard_normal((4, 1, kernel)).astype(np.float32),
                                    f"{tag}_w"),
            numpy_helper.from_array(np.asarray([2], np.int64), f"{tag}_axes")]
    nodes = [
        helper.make_node("Reshape", ["x", f"{tag}_shape"], [f"{tag}_frames"],
                         name=f"{tag}_reshape"),
        helper.make_node("Conv", [f"{tag}_frames", f"{tag}_w"], [f"{tag}_conv"],
                         strides=[stride], name=f"{tag}_conv"),
        helper.make_node("Relu", [f"{tag}_conv"], [f"{tag}_relu"], name=f"{tag}_relu"),
        helper.make_node("ReduceMean", [f"{tag}_relu", f"{tag}_axes"], [f"{tag}_y"],
                         keepdims=0, name=f"{tag}_mean"),
    ]
    return helper.make_graph(nodes, f"net_{tag}", [], [helper.make_tensor_value_info(
        f"{tag}_y", TensorProto.FLOAT, [1, 4])], init)


def vad_model(path: Path) -> Path:
    """x: f32[1, 512], sr: i64 scalar, gain: f32[3] -> y = If(sr == 16000, ...) * gain[0]."""
    nodes = [
        helper.make_node("Constant", [], ["k16000"],
                         value=numpy_helper.from_array(np.asarray(16000, np.int64))),
        helper.make_node("Equal", ["sr", "k16000"], ["is16k"], name="is16k"),
        helper.make_node("If", ["is16k"], ["net"], name="rate_switch",
                         then_branch=_net("k16", 512, 64, 32),
                         else_branch=_net("k8", 256, 32, 16)),
        helper.make_node("ReduceSum", ["gain"], ["g"], keepdims=1, name="gain_sum"),
        helper.make_node("Mul", ["net", "g"], ["y"], name="scale"),
    ]
    graph = helper.make_graph(
        nodes, "vad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, []),
         helper.make_tensor_value_info("gain", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    out = path / "vad.onnx"
    onnx.save(model, str(out))
    return out


@pytest.fixture
def vad(tmp_path: Path) -> Path:
    return vad_model(tmp_path)


def error_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyc: error: "), proc.stderr
    return lines[0]


def test_without_const_the_untakeable_branch_is_exit_4_naming_the_if(vad: Path,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "out"
    line = error_line(cli("compile", str(vad), "-o", str(out)), 4)
    assert "in branch else_branch of If 'rate_switch'" in line
    assert "--const" in line
    assert not out.exists()


def test_with_const_the_if_folds_and_verify_matches_onnxruntime(vad: Path) -> None:
    graph = load_model(vad, Options(consts=parse_const_bindings(["sr=16000", "gain=0.5,1,-2"])))
    assert [v.name for v in graph.inputs] == ["x"]
    assert {n.op for n in graph.nodes}.isdisjoint({"If", "Where", "Equal", "ReduceSum"})
    proc = cli("verify", str(vad), "--const", "sr=16000", "--const", "gain=0.5,1,-2",
               "--sanitize")
    assert proc.returncode == 0, proc.stderr
    assert "vs onnxruntime (rtol 0.0001, atol 1e-05): ok" in proc.stdout
    assert strip_progress(proc.stderr) == ""


def test_const_values_reach_onnxruntime_as_given(vad: Path, tmp_path: Path) -> None:
    """The reference `verify` and `validate` use: onnxruntime fed the --const values,
    against the same model run by onnxruntime directly."""
    np.save(tmp_path / "gain.npy", np.asarray([2.0, 0.25, 1.0], np.float32))
    options = Options(consts=parse_const_bindings(["sr=16000", f"gain={tmp_path / 'gain.npy'}"]))
    graph = load_model(vad, options)
    x = RNG.standard_normal((1, 512)).astype(np.float32)
    name, (got,) = reference_outputs(str(vad), graph, [x], options)
    sess = ort.InferenceSession(str(vad), providers=["CPUExecutionProvider"])
    (want,) = sess.run(None, {"x": x, "sr": np.asarray(16000, np.int64),
                              "gain": np.asarray([2.0, 0.25, 1.0], np.float32)})
    assert name == "onnxruntime"
    np.testing.assert_array_equal(got, want)


def test_taken_branch_errors_keep_their_node_and_exit_code(vad: Path) -> None:
    """sr=8000 takes the 8 kHz net, which does run: the model is malformed (exit 3)."""
    line = error_line(cli("ir", str(vad), "--const", "sr=8000", "--const", "gain=1,1,1"), 3)
    assert "k8_reshape" in line and "If" not in line


@pytest.mark.parametrize(("spec", "message"), [
    ("rate=16000", "--const names no graph input: rate"),
    ("sr=1,2", "2 value(s) for an input of shape []"),
    ("sr=16000.5", "the input is int64, the value is not an integer"),
    ("sr=sixteen", "'sixteen' is not a number"),
    ("sr", "bad --const 'sr'"),
    ("sr=", "bad --const 'sr='"),
    ("gain=1,2", "2 value(s) for an input of shape [3]"),
    ("x=1", "1 value(s) for an input of shape [1, 512]"),
    ("sr=missing.npy", "--const sr: no such file: missing.npy"),
])
def test_bad_const_is_a_one_line_usage_error(vad: Path, spec: str, message: str) -> None:
    line = error_line(cli("ir", str(vad), "--const", spec), 2)
    assert message in line


def test_npy_of_the_wrong_shape_and_repeated_names_are_refused(vad: Path,
                                                               tmp_path: Path) -> None:
    np.save(tmp_path / "g.npy", np.ones((2, 3), np.float32))
    line = error_line(cli("plan", str(vad), "--const", f"gain={tmp_path / 'g.npy'}"), 2)
    assert "holds shape [2, 3], the input is [3]" in line
    line = error_line(cli("ir", str(vad), "--const", "sr=1", "--const", "sr=2"), 2)
    assert "--const sr is given twice" in line


def test_out_of_range_values_are_refused() -> None:
    vi = helper.make_tensor_value_info("q", TensorProto.INT8, [2])
    from tinyc.frontend.consts import bind_input

    with pytest.raises(UsageError, match="out of range for the input's type int8"):
        bind_input(parse_const_bindings(["q=1,300"])["q"], vi)
    flag = helper.make_tensor_value_info("f", TensorProto.BOOL, [])
    assert bind_input(parse_const_bindings(["f=true"])["f"], flag).dtype == np.bool_
    with pytest.raises(UsageError, match="out of range"):
        bind_input(parse_const_bindings(["f=2"])["f"], flag)


def test_const_is_for_onnx_models_only(tmp_path: Path) -> None:
    tir = tmp_path / "m.tir"
    tir.write_text("graph @m(%x: f32[2]) -> (%y: f32[2]) {\n"
                   "  %y = Relu(%x) : f32[2]\n  return %y\n}\n")
    line = error_line(cli("ir", str(tir), "--const", "x=1,2"), 2)
    assert "--const applies to ONNX models" in line


def test_api_consts_fold_the_if_and_the_c_matches_onnxruntime(vad: Path, tmp_path: Path) -> None:
    """`tinyc.compile(..., consts=...)` is `--const`: numbers, lists and arrays."""
    import tinyc
    from tinyc.harness import build_host, run_host

    gain = np.asarray([0.5, 1.0, -2.0], np.float32)
    result = tinyc.compile(vad, tmp_path / "out", consts={"sr": 16000, "gain": gain})
    assert [v.name for v in result.graph.inputs] == ["x"]
    exe = build_host(result.out_dir, result.graph, result.name)
    x = RNG.standard_normal((1, 512)).astype(np.float32)
    (got,) = run_host(exe, result.graph, [x])
    sess = ort.InferenceSession(str(vad), providers=["CPUExecutionProvider"])
    (want,) = sess.run(None, {"x": x, "sr": np.asarray(16000, np.int64), "gain": gain})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    listed = tinyc.compile(vad, tmp_path / "out2", consts={"sr": 16000, "gain": [0.5, 1, -2]})
    assert [v.name for v in listed.graph.inputs] == ["x"]
    with pytest.raises(tinyc.UsageError, match="consts\\['sr'\\]"):
        tinyc.compile(vad, tmp_path / "out3", consts={"sr": "16000"})
    assert not (tmp_path / "out3").exists()


def test_api_verify_takes_consts_and_feeds_onnxruntime_the_same(vad: Path) -> None:
    import tinyc

    x = RNG.standard_normal((1, 512)).astype(np.float32)
    check = tinyc.verify(vad, [x], consts={"sr": 16000, "gain": [0.5, 1, -2]})
    assert check.ok and check.reference == "onnxruntime", check.lines()
