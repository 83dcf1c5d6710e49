"""The Python API: `tinyc.compile` writes what the CLI writes, the C it writes builds and
matches onnxruntime, and bad input raises the TinycError subclass of the CLI's exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import tinyc
from tinyc.harness import build_host, run_host
from tinyc.interp import run_graph

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
DIGITS = MODELS / "digits_cnn.onnx"


def test_compiled_c_matches_onnxruntime(tmp_path: Path) -> None:
    result = tinyc.compile(DIGITS, tmp_path / "out", name="digits")
    assert isinstance(result, tinyc.CompileResult)
    assert result.name == "digits" and result.out_dir == (tmp_path / "out").resolve()
    assert result.source in result.files and result.header in result.files
    assert all(p.is_file() for p in result.files)
    assert sorted(p.name for p in result.out_dir.iterdir() if p.name != ".tinyc-manifest") == \
        [p.name for p in result.files]
    assert result.arena_bytes == result.plan.size > 0 and result.weight_bytes > 0

    x = np.load(MODELS / "digits_test_x.npy")[:1]
    exe = build_host(result.out_dir, result.graph, result.name)
    (got,) = run_host(exe, result.graph, [x])
    sess = ort.InferenceSession(str(DIGITS), providers=["CPUExecutionProvider"])
    (want,) = sess.run(None, {sess.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_the_api_and_the_cli_write_the_same_files(tmp_path: Path) -> None:
    """One pipeline: only the provenance line naming the command differs."""
    api = tinyc.compile(DIGITS, tmp_path / "api", target="cortex-m4")
    proc = subprocess.run([sys.executable, "-m", "tinyc.cli", str(DIGITS), "-o",
                           str(tmp_path / "cli"), "--target", "cortex-m4"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"arena {api.arena_bytes} B, weights {api.weight_bytes} B" in proc.stdout

    def contents(out: Path) -> dict[str, list[str]]:
        return {p.name: [line for line in p.read_text().splitlines() if "Command:" not in line]
                for p in out.iterdir() if p.name != ".tinyc-manifest"}

    assert contents(tmp_path / "api") == contents(tmp_path / "cli")
    assert "tinyc.compile(" in api.source.read_text()


def test_int8_compile_runs_bit_exact_with_the_interpreter(tmp_path: Path) -> None:
    calib = tmp_path / "calib.npy"
    np.save(calib, np.load(MODELS / "digits_train_x.npy")[:32])
    flt = tinyc.compile(DIGITS, tmp_path / "f32")
    q = tinyc.compile(DIGITS, tmp_path / "int8", quantize="int8", calib=calib)
    assert q.weight_bytes < flt.weight_bytes / 2
    x = np.load(MODELS / "digits_test_x.npy")[:1]
    (got,) = run_host(build_host(q.out_dir, q.graph, q.name), q.graph, [x])
    (want,) = run_graph(q.graph, {q.graph.inputs[0].name: x})
    np.testing.assert_array_equal(got, want)


def test_load_gives_the_graph_onnxruntime_runs() -> None:
    graph = tinyc.load(DIGITS)
    x = np.load(MODELS / "digits_test_x.npy")[:1]
    (got,) = run_graph(graph, {graph.inputs[0].name: x})
    sess = ort.InferenceSession(str(DIGITS), providers=["CPUExecutionProvider"])
    (want,) = sess.run(None, {graph.inputs[0].name: x})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _unknown_op_model(tmp_path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")
    graph = helper.make_graph([node], "g", [x], [y])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    path = tmp_path / "frobnicate.onnx"
    onnx.save(helper.make_model(graph, opset_imports=opsets), path)
    return path


@pytest.mark.parametrize(("call", "error"), [
    (lambda t: tinyc.compile(t / "missing.onnx", t / "out"), tinyc.UsageError),
    (lambda t: tinyc.compile(DIGITS, t / "out", target="z80"), tinyc.UsageError),
    (lambda t: tinyc.compile(DIGITS, t / "out", name="1bad"), tinyc.UsageError),
    (lambda t: tinyc.compile(DIGITS, t / "out", quantize="int8"), tinyc.UsageError),
    (lambda t: tinyc.compile(DIGITS, t / "out", arena="heap"), tinyc.UsageError),
    (lambda t: tinyc.compile(DIGITS, t / "out", shapes={"x": ["a"]}), tinyc.UsageError),
    (lambda t: tinyc.load(_garbage(t)), tinyc.ModelError),
    (lambda t: tinyc.compile(_unknown_op_model(t), t / "out"), tinyc.UnsupportedError),
])
def test_errors_raise_the_right_class_and_write_nothing(tmp_path: Path, call, error) -> None:  # noqa: ANN001
    with pytest.raises(error) as info:
        call(tmp_path)
    assert isinstance(info.value, tinyc.TinycError) and str(info.value)
    assert not (tmp_path / "out").exists()


def _garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x08\x07not a model")
    return path


def test_import_is_cheap() -> None:
    """`import tinyc` loads neither numpy nor onnx (they load on the first call)."""
    code = "import sys, tinyc; print(sorted({'numpy', 'onnx'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_verify_compares_with_onnxruntime_and_reports_a_mismatch() -> None:
    x = np.load(MODELS / "digits_test_x.npy")[:1]
    result = tinyc.verify(DIGITS, [x])
    assert result.ok and result.reference == "onnxruntime" and result.notes == ()
    (out,) = result.outputs
    assert out.tolerance == "rtol 0.0001, atol 1e-05" and out.max_abs_err < 1e-4
    strict = tinyc.verify(DIGITS, [x], rtol=0, atol=-1)
    assert not strict.ok and strict.lines()[-1].endswith("(rtol 0, atol -1): MISMATCH")


def test_verify_without_onnxruntime_says_so(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    result = tinyc.verify(DIGITS)
    assert result.ok and result.reference == "tinyc's interpreter"
    assert result.notes == ("tinyc: onnxruntime is not installed: comparing with tinyc's "
                            "interpreter",)


def test_verify_refuses_inputs_of_the_wrong_size() -> None:
    with pytest.raises(tinyc.UsageError, match="the model needs"):
        tinyc.verify(DIGITS, [np.zeros(3, np.float32)])


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    readme = (MODELS.parents[1] / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "kws.onnx").write_bytes((MODELS / "kws_dscnn.onnx").read_bytes())
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "kws.c" in proc.stdout and "onnxruntime True" in proc.stdout
    assert (tmp_path / "out" / "kws.h").is_file()
