"""onnxruntime QOperator models (com.microsoft QLinear* ops, QGemm) compile to the integer
kernels their QDQ twin gets, and the interpreter and the generated C are bit-exact with
onnxruntime.

The models are committed (`tests/models/qoperator/`, written by
`examples/exporters/ort_qoperator.py`); the tests never re-quantize. The per-op tests build
one-node com.microsoft models and run every input code (every pair of codes for the binary
ops), so each lookup table and requantization is compared with onnxruntime in full.

The models' random inputs rarely land on the near-ties where rounding rules differ, so the
per-op tests also feed every code (pair), tie-heavy (power-of-two) scales and a million
QGemm results: tinyc's fixed-point rounding fails those, the `onnxruntime` semantics
(`tinyc.quant.semantics`) passes them, in the interpreter, the host C and on QEMU.
QLinearSoftmax is checked on the models' own parameters (onnxruntime's normalization
depends on its host kernel; see the semantics module).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.clirun import assert_one_line, cli
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, STRICT_FLAGS
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.quant.lower import float_ops

MODELS = Path(__file__).resolve().parents[1] / "models" / "qoperator"
QOP = ["cnn_qop_s8.onnx", "cnn_qop_u8.onnx"]
#: random inputs per model in the bit-exactness check
SAMPLES = 3000
#: the integer node kinds the test CNN compiles to (a first QConv may be the fused boundary)
KINDS = {"QConv", "QAdd", "QMul", "QLut", "QAveragePool", "QConcat", "QGlobalAveragePool",
         "QGemm", "QSoftmax"}


def compiled_graph(path: Path, target: str = "host") -> Graph:
    options = Options(target=target)
    graph, _ = optimize(load_model(path, options), options)
    return graph


def kinds(graph: Graph) -> dict[str, int]:
    out: dict[str, int] = {}
    for op, n in graph.op_histogram().items():
        op = op.removesuffix("Boundary")
        out[op] = out.get(op, 0) + n
    return out


def ort_session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def random_inputs(shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    """n inputs of varying spread, so the activations reach both ends of their ranges."""
    rng = np.random.default_rng(seed)
    spread = rng.uniform(0.3, 2.5, (n,) + (1,) * len(shape)).astype(np.float32)
    return (rng.standard_normal((n, *shape)).astype(np.float32) * spread)


def batch_main(name: str) -> str:
    """A host harness that runs NAME_run over a file of inputs (one build, many inputs)."""
    upper = name.upper()
    return f"""#include <stdio.h>
#include "{name}.h"
static float x[{upper}_INPUT0_SIZE], y[{upper}_OUTPUT0_SIZE];
int main(int argc, char **argv) {{
  FILE *in, *out;
  if (argc != 3) return 2;
  in = fopen(argv[1], "rb");
  out = fopen(argv[2], "wb");
  if (!in || !out) return 3;
  while (fread(x, sizeof x, 1, in) == 1) {{
    if ({name}_run(x, y) != 0) return 4;
    if (fwrite(y, sizeof y, 1, out) != 1) return 5;
  }}
  fclose(in);
  return fclose(out) != 0;
}}
"""


def run_c_batch(graph: Graph, xs: np.ndarray, tmp: Path) -> np.ndarray:
    compiled = compile_graph(graph, Options(), "m")
    compiled.code.write(tmp)
    (tmp / "batch_main.c").write_text(batch_main("m"))
    exe = tmp / "batch"
    sources = sorted(str(p) for p in tmp.glob("*.c"))
    subprocess.run(["cc", *STRICT_FLAGS, "-O1", *SANITIZE_FLAGS, "-I", str(tmp), *sources,
                    "-o", str(exe), "-lm"], check=True, capture_output=True)
    xs.astype(np.float32).tofile(tmp / "x.bin")
    subprocess.run([str(exe), str(tmp / "x.bin"), str(tmp / "y.bin")], check=True)
    out = graph.outputs[0]
    return np.fromfile(tmp / "y.bin", np.float32).reshape((len(xs), *out.shape))


@pytest.mark.parametrize("name", QOP)
def test_qoperator_model_gets_the_qdq_twins_integer_kernels(name: str) -> None:
    contrib = {n.op_type for n in onnx.load(str(MODELS / name)).graph.node
               if n.domain == "com.microsoft"}
    assert contrib == {"QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu",
                       "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearConcat",
                       "QGemm", "QLinearSoftmax"}
    qop = compiled_graph(MODELS / name)
    twin = compiled_graph(MODELS / "cnn_qdq_s8.onnx")
    assert float_ops(qop) == [] and float_ops(twin) == []
    assert kinds(qop) == kinds(twin)
    assert KINDS <= set(kinds(qop))


@pytest.mark.parametrize("name", QOP)
def test_qoperator_model_bit_exact_with_onnxruntime(name: str, tmp_path: Path) -> None:
    path = MODELS / name
    graph = compiled_graph(path)
    xs = random_inputs(graph.inputs[0].shape[1:], SAMPLES, seed=len(name))[:, None]
    sess = ort_session(path)
    want = np.stack([sess.run(None, {"x": x})[0] for x in xs])
    ours = np.stack([run_graph(graph, {"x": x})[0] for x in xs])
    np.testing.assert_array_equal(ours, want)
    np.testing.assert_array_equal(run_c_batch(graph, xs, tmp_path), want)
    # the inputs exercise the model: many distinct outputs, not a saturated constant
    assert len(np.unique(want)) > 20


def contrib_model(op: str, dtype: int, params: list[tuple[float, int]],
                  attrs: dict[str, object]) -> onnx.ModelProto:
    """One com.microsoft node over [256, 256] inputs; params = (scale, zero point) of each
    input, then of the output."""
    np_type = np.int8 if dtype == TensorProto.INT8 else np.uint8
    inits, names = [], []
    for i, (scale, zp) in enumerate(params):
        inits += [numpy_helper.from_array(np.float32(scale), f"s{i}"),
                  numpy_helper.from_array(np_type(zp), f"z{i}")]
        names.append((f"s{i}", f"z{i}"))
    xs = ["a", "b"][: len(params) - 1]
    ins = [n for x, (s, z) in zip(xs, names, strict=False) for n in (x, s, z)] + list(names[-1])
    node = helper.make_node(op, ins, ["y"], domain="com.microsoft", **attrs)
    graph = helper.make_graph(
        [node], op, [helper.make_tensor_value_info(x, dtype, [256, 256]) for x in xs],
        [helper.make_tensor_value_info("y", dtype, [256, 256])], inits)
    return helper.make_model(graph, ir_version=8, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])


@pytest.mark.parametrize("op,attrs,arity", [
    ("QLinearAdd", {}, 2), ("QLinearMul", {}, 2), ("QLinearSigmoid", {}, 1),
    ("QLinearLeakyRelu", {"alpha": 0.1}, 1),
])
def test_contrib_op_every_code_bit_exact(op: str, attrs: dict[str, object], arity: int,
                                         tmp_path: Path) -> None:
    """int8 interface (a uint8 graph input stays float in tinyc; the uint8 model above
    covers these ops behind a QuantizeLinear)."""
    codes = np.arange(-128, 128)
    a = np.repeat(codes, 256).reshape(256, 256).astype(np.int8)
    b = np.tile(codes, 256).reshape(256, 256).astype(np.int8)
    rng = np.random.default_rng(arity)
    for trial in range(8 if arity == 2 else 3):
        params = [(float(rng.uniform(0.004, 0.2)), int(rng.integers(-128, 128)))
                  for _ in range(arity + 1)]
        if arity == 2 and trial < 2:
            # power-of-two scale ratios: many results land exactly on a tie
            sy = params[2][0]
            scales = (sy / 2, sy / 4) if op == "QLinearAdd" else (0.0625, sy * 8)
            params = [(scales[0], params[0][1]), (scales[1], params[1][1]), params[2]]
        path = tmp_path / f"{op}{trial}.onnx"
        onnx.save(contrib_model(op, TensorProto.INT8, params, attrs), str(path))
        graph = compiled_graph(path)
        assert [n.op for n in graph.nodes] == ["QLut" if arity == 1 else f"Q{op[7:]}"]
        feeds = dict(zip(["a", "b"], [a, b][:arity], strict=False))
        want = ort_session(path).run(None, feeds)[0]
        np.testing.assert_array_equal(run_graph(graph, feeds)[0], want, err_msg=str(params))
        if trial == 0:
            (tmp_path / "c").mkdir()
            np.testing.assert_array_equal(run_c_once(graph, list(feeds.values()), tmp_path / "c"),
                                          want)


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("scalar", ["a", "b"])
def test_broadcast_binary_op_every_code_pair_bit_exact(op: str, scalar: str,
                                                       tmp_path: Path) -> None:
    """One operand a single value per row ([256, 1]): onnxruntime's broadcast loop then
    calls its kernel with that operand second, which changes Add's float32 rounding order
    (`QAdd.swapped`)."""
    codes = np.arange(-128, 128).astype(np.int8)
    row, col = np.tile(codes, (256, 1)), codes[:, None].copy()
    feeds = {"a": col, "b": row} if scalar == "a" else {"a": row, "b": col}
    rng = np.random.default_rng(len(op) + len(scalar))
    for trial in range(6):
        params = [(float(rng.uniform(0.004, 0.2)), int(rng.integers(-128, 128)))
                  for _ in range(3)]
        model = contrib_model(op, TensorProto.INT8, params, {})
        for vi, x in zip(model.graph.input, feeds.values(), strict=True):
            vi.CopyFrom(helper.make_tensor_value_info(vi.name, TensorProto.INT8, list(x.shape)))
        path = tmp_path / f"{trial}.onnx"
        onnx.save(model, str(path))
        graph = compiled_graph(path)
        want = ort_session(path).run(None, feeds)[0]
        np.testing.assert_array_equal(run_graph(graph, feeds)[0], want, err_msg=str(params))
        if trial == 0:
            (tmp_path / "c").mkdir()
            np.testing.assert_array_equal(run_c_once(graph, list(feeds.values()), tmp_path / "c"),
                                          want)


def test_unsupported_contrib_op_is_refused_naming_op_node_and_domain(tmp_path: Path) -> None:
    node = helper.make_node("QLinearReduceMean", ["x", "s", "z", "s", "z"], ["y"],
                            name="mean0", domain="com.microsoft", axes=[1], keepdims=1)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 1])],
        [numpy_helper.from_array(np.float32(0.1), "s"), numpy_helper.from_array(np.int8(0), "z")])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, ir_version=8, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]), str(path))
    line = assert_one_line(cli(str(path), "-o", str(tmp_path / "out")), 4)
    assert "QLinearReduceMean" in line and "mean0" in line and "com.microsoft" in line
    assert not (tmp_path / "out").exists()


def test_channels_last_pool_is_refused(tmp_path: Path) -> None:
    model = contrib_model("QLinearGlobalAveragePool", TensorProto.INT8, [(0.1, 0), (0.1, 0)],
                          {"channels_last": 1})
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    line = assert_one_line(cli(str(path), "-o", str(tmp_path / "out")), 4)
    assert "channels_last" in line and "QLinearGlobalAveragePool" in line


@pytest.mark.slow
def test_qoperator_model_on_cortex_m4_bit_exact(tmp_path: Path) -> None:
    from tinyc.mcu.harness import missing_tools
    from tinyc.mcu.validate import run_on_mcu

    assert not missing_tools(), missing_tools()
    path = MODELS / "cnn_qop_s8.onnx"
    options = Options(target="cortex-m4")
    graph = compiled_graph(path, "cortex-m4")
    xs = random_inputs(graph.inputs[0].shape[1:], 2, seed=4)[:, None]
    result, host = run_on_mcu(graph, options, "net", list(xs[:1]), tmp_path, host_check=True)
    want = ort_session(path).run(None, {"x": xs[0]})[0]
    assert host is not None
    np.testing.assert_array_equal(result.run.outputs[0], want)
    np.testing.assert_array_equal(host[0], want)
    np.testing.assert_array_equal(run_graph(graph, {"x": xs[0]})[0], want)


def test_qgemm_with_float_output_matches_onnxruntime(tmp_path: Path) -> None:
    """QGemm without y_scale writes float: imported as DequantizeLinear -> Gemm."""
    rng = np.random.default_rng(11)
    w = rng.integers(-127, 128, (6, 16)).astype(np.int8)
    inits = [numpy_helper.from_array(np.float32(0.05), "xs"),
             numpy_helper.from_array(np.int8(3), "xz"),
             numpy_helper.from_array(w, "w"),
             numpy_helper.from_array(rng.uniform(0.001, 0.01, 6).astype(np.float32), "ws"),
             numpy_helper.from_array(np.zeros(6, np.int8), "wz"),
             numpy_helper.from_array(rng.integers(-500, 500, 6).astype(np.int32), "b")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QGemm", ["xq", "xs", "xz", "w", "ws", "wz", "b"], ["y"],
                              domain="com.microsoft", transB=1)]
    graph = helper.make_graph(nodes, "qgemm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6])],
                              inits)
    path = tmp_path / "qgemm.onnx"
    onnx.save(helper.make_model(graph, ir_version=8, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]), str(path))
    graph_ir = compiled_graph(path)
    sess = ort_session(path)
    for x in random_inputs((2, 16), 5, seed=2):
        np.testing.assert_allclose(run_graph(graph_ir, {"x": x})[0],
                                   sess.run(None, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_legacy_softmax_over_flattened_axes_is_refused(tmp_path: Path) -> None:
    """QLinearSoftmax with opset < 13 flattens from `axis`; only the last axis is lowered."""
    model = contrib_model("QLinearSoftmax", TensorProto.INT8, [(0.1, 0), (1 / 256, -128)],
                          {"axis": 0, "opset": 12})
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    line = assert_one_line(cli(str(path), "-o", str(tmp_path / "out")), 4)
    assert "QLinearSoftmax" in line and "opset 12" in line


def _save(tmp: Path, nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
          out: onnx.ValueInfoProto, inits: list[onnx.TensorProto]) -> Path:
    path = tmp / "op.onnx"
    graph = helper.make_graph(nodes, "op", inputs, [out], inits)
    onnx.save(helper.make_model(graph, ir_version=8, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]), str(path))
    return path


def _requant_model(tmp: Path, op: str, rng: np.random.Generator,
                   ties: bool = False) -> tuple[Path, tuple[int, ...]]:
    """One int8 node that requantizes a sum: QLinearConv, QGemm, QLinearAveragePool,
    QLinearGlobalAveragePool, with random parameters; `ties`: power-of-two scales, so many
    results land exactly halfway between two codes."""
    def p(name: str, scale: float, zp: int) -> list[onnx.TensorProto]:
        return [numpy_helper.from_array(np.float32(scale), f"{name}_s"),
                numpy_helper.from_array(np.int8(zp), f"{name}_z")]
    inits = p("x", 0.0625 if ties else rng.uniform(0.01, 0.1), int(rng.integers(-20, 20)))
    inits += p("y", 0.125 if ties else rng.uniform(0.02, 0.3), int(rng.integers(-20, 20)))
    shape: tuple[int, ...] = (64, 8, 6, 6)
    attrs: dict[str, object] = {}
    if op in ("QLinearConv", "QGemm"):
        m = 8
        wshape = (m, 8, 3, 3) if op == "QLinearConv" else (m, 16)
        inits += [numpy_helper.from_array(rng.integers(-127, 128, wshape).astype(np.int8), "w"),
                  numpy_helper.from_array(
                      np.full(m, 2.0**-6, np.float32) if ties else
                      rng.uniform(0.002, 0.02, m).astype(np.float32), "w_s"),
                  numpy_helper.from_array(np.zeros(m, np.int8), "w_z"),
                  numpy_helper.from_array(rng.integers(-3000, 3000, m).astype(np.int32), "b")]
        if op == "QLinearConv":
            ins = ["x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z", "b"]
            out_shape: tuple[int, ...] = (64, m, 6, 6)
            attrs = {"pads": [1, 1, 1, 1]}
        else:
            shape, out_shape = (64, 16), (64, m)
            ins = ["x", "x_s", "x_z", "w", "w_s", "w_z", "b", "y_s", "y_z"]
            attrs = {"transB": 1}
    else:
        ins = ["x", "x_s", "x_z", "y_s", "y_z"]
        if op == "QLinearAveragePool":
            attrs = {"kernel_shape": [2, 2], "strides": [2, 2]}
            out_shape = (64, 8, 3, 3)
        else:
            out_shape = (64, 8, 1, 1)
    node = helper.make_node(op, ins, ["y"], domain="" if op == "QLinearConv" else "com.microsoft",
                            **attrs)
    path = _save(tmp, [node], [helper.make_tensor_value_info("x", TensorProto.INT8, shape)],
                 helper.make_tensor_value_info("y", TensorProto.INT8, out_shape), inits)
    return path, shape


@pytest.mark.parametrize("op", ["QLinearConv", "QGemm", "QLinearAveragePool",
                                "QLinearGlobalAveragePool"])
def test_requantizing_op_bit_exact_with_onnxruntime_on_many_inputs(op: str,
                                                                   tmp_path: Path) -> None:
    """Each op fed random int8 inputs directly, the first model with power-of-two scales
    (ties, where tinyc's fixed point rounds half up and onnxruntime half to even): the
    interpreter and the host C equal onnxruntime."""
    rng = np.random.default_rng(sum(map(ord, op)))
    for trial in range(3):
        path, shape = _requant_model(tmp_path, op, rng, ties=trial == 0)
        graph = compiled_graph(path)
        assert all(n.attrs.get("semantics") == "onnxruntime" for n in graph.nodes), trial
        x = rng.integers(-128, 128, shape).astype(np.int8)
        want = ort_session(path).run(None, {"x": x})[0]
        np.testing.assert_array_equal(run_graph(graph, {"x": x})[0], want)
        if trial == 0:
            (tmp_path / "c").mkdir()
            np.testing.assert_array_equal(run_c_once(graph, [x], tmp_path / "c"), want)


def run_c_once(graph: Graph, xs: list[np.ndarray], tmp: Path) -> np.ndarray:
    """The host C of a graph (int8 or float inputs `xs`, one output), run once."""
    compiled = compile_graph(graph, Options(), "m")
    compiled.code.write(tmp)
    ctype = {np.dtype(np.int8): "int8_t", np.dtype(np.float32): "float"}
    decls = "".join(f"static {ctype[x.dtype]} x{i}[M_INPUT{i}_SIZE];\n"
                    for i, x in enumerate(xs))
    reads = " || ".join(f"fread(x{i}, sizeof x{i}, 1, stdin) != 1" for i in range(len(xs)))
    args = ", ".join(f"x{i}" for i in range(len(xs)))
    out_type = graph.outputs[0].dtype.np
    (tmp / "main.c").write_text(f"""#include <stdio.h>
#include "m.h"
{decls}static {ctype[np.dtype(out_type)]} y[M_OUTPUT0_SIZE];
int main(void) {{
  if ({reads} || m_run({args}, y) != 0) return 1;
  return fwrite(y, sizeof y, 1, stdout) != 1;
}}
""")
    exe = tmp / "run"
    sources = sorted(str(p) for p in tmp.glob("*.c"))
    subprocess.run(["cc", *STRICT_FLAGS, "-O1", *SANITIZE_FLAGS, "-I", str(tmp), *sources,
                    "-o", str(exe), "-lm"], check=True, capture_output=True)
    data = b"".join(x.tobytes() for x in xs)
    out = subprocess.run([str(exe)], input=data, check=True, capture_output=True).stdout
    return np.frombuffer(out, out_type).reshape(graph.outputs[0].shape)


def test_qgemm_every_code_with_1024_channels_bit_exact(tmp_path: Path) -> None:
    """QGemm with one input feature: every input code times 1,024 random channel scales and
    biases (4 models, 1M results). tinyc's fixed-point rounding differed from onnxruntime
    on 1 of these; the onnxruntime semantics differs on none."""
    rng = np.random.default_rng(5)
    x = np.arange(-128, 128).astype(np.int8)[:, None]
    for _ in range(4):
        m = 1024
        inits = [numpy_helper.from_array(np.float32(rng.uniform(0.01, 0.1)), "x_s"),
                 numpy_helper.from_array(np.int8(rng.integers(-20, 20)), "x_z"),
                 numpy_helper.from_array(np.float32(rng.uniform(0.05, 0.3)), "y_s"),
                 numpy_helper.from_array(np.int8(rng.integers(-20, 20)), "y_z"),
                 numpy_helper.from_array(rng.integers(-127, 128, (m, 1)).astype(np.int8), "w"),
                 numpy_helper.from_array(rng.uniform(0.002, 0.02, m).astype(np.float32), "w_s"),
                 numpy_helper.from_array(np.zeros(m, np.int8), "w_z"),
                 numpy_helper.from_array(rng.integers(-3000, 3000, m).astype(np.int32), "b")]
        node = helper.make_node("QGemm", ["x", "x_s", "x_z", "w", "w_s", "w_z", "b", "y_s", "y_z"],
                                ["y"], domain="com.microsoft", transB=1)
        path = _save(tmp_path, [node], [helper.make_tensor_value_info("x", TensorProto.INT8,
                                                                      [256, 1])],
                     helper.make_tensor_value_info("y", TensorProto.INT8, [256, m]), inits)
        graph = compiled_graph(path)
        np.testing.assert_array_equal(run_graph(graph, {"x": x})[0],
                                      ort_session(path).run(None, {"x": x})[0])


def test_qlinear_concat_every_code_bit_exact_with_ties(tmp_path: Path) -> None:
    """QLinearConcat requantizes through quantize(dequantize(x)) tables, rounding half to
    even; an input scale half the output's puts every odd code on a tie."""
    codes = np.arange(-128, 128).astype(np.int8)[None]
    rng = np.random.default_rng(9)
    for trial in range(6):
        sy = float(rng.uniform(0.01, 0.2))
        sa = sy / 2 if trial % 2 == 0 else float(rng.uniform(0.01, 0.2))
        params = [(sa, int(rng.integers(-128, 128))), (sy * 4, int(rng.integers(-20, 20))),
                  (sy, int(rng.integers(-20, 20)))]
        inits = []
        for i, (s, z) in enumerate(params):
            inits += [numpy_helper.from_array(np.float32(s), f"s{i}"),
                      numpy_helper.from_array(np.int8(z), f"z{i}")]
        node = helper.make_node("QLinearConcat", ["s2", "z2", "a", "s0", "z0", "b", "s1", "z1"],
                                ["y"], domain="com.microsoft", axis=1)
        path = _save(tmp_path, [node], [helper.make_tensor_value_info(x, TensorProto.INT8,
                                                                      [1, 256]) for x in "ab"],
                     helper.make_tensor_value_info("y", TensorProto.INT8, [1, 512]), inits)
        graph = compiled_graph(path)
        assert [n.op for n in graph.nodes] == ["QConcat"]
        feeds = {"a": codes, "b": codes}
        want = ort_session(path).run(None, feeds)[0]
        np.testing.assert_array_equal(run_graph(graph, feeds)[0], want, err_msg=str(params))
        if trial == 0:
            (tmp_path / "c").mkdir()
            np.testing.assert_array_equal(run_c_once(graph, [codes, codes], tmp_path / "c"),
                                          want)


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
def test_uint8_binary_op_every_code_pair_bit_exact(op: str, tmp_path: Path) -> None:
    """uint8 QLinearAdd/Mul behind QuantizeLinear (tinyc stores the codes as int8): onnxruntime
    computes on the uint8 codes, whose float32 roundings differ from the int8 ones
    (`u8_codes`); every code pair, the first two models with power-of-two scale ratios."""
    codes = np.arange(256)
    grid = {"fa": np.repeat(codes, 256).reshape(256, 256), "fb": np.tile(codes, (256, 1))}
    rng = np.random.default_rng(len(op))
    for trial in range(10):
        params = [(float(rng.uniform(0.004, 0.2)), int(rng.integers(0, 256))) for _ in range(3)]
        if trial < 2:
            sy = params[2][0]
            scales = (sy / 2, sy / 4) if op == "QLinearAdd" else (0.0625, sy * 8)
            params = [(scales[0], params[0][1]), (scales[1], params[1][1]), params[2]]
        inits = [numpy_helper.from_array(np.float32(s), f"s{i}") for i, (s, _) in
                 enumerate(params)]
        inits += [numpy_helper.from_array(np.uint8(z), f"z{i}") for i, (_, z) in
                  enumerate(params)]
        nodes = [helper.make_node("QuantizeLinear", ["fa", "s0", "z0"], ["a"]),
                 helper.make_node("QuantizeLinear", ["fb", "s1", "z1"], ["b"]),
                 helper.make_node(op, ["a", "s0", "z0", "b", "s1", "z1", "s2", "z2"], ["y"],
                                  domain="com.microsoft"),
                 helper.make_node("DequantizeLinear", ["y", "s2", "z2"], ["out"])]
        path = _save(tmp_path, nodes, [helper.make_tensor_value_info(x, TensorProto.FLOAT,
                                                                     [256, 256]) for x in grid],
                     helper.make_tensor_value_info("out", TensorProto.FLOAT, [256, 256]), inits)
        feeds = {k: ((v - z) * np.float32(s)).astype(np.float32)
                 for (k, v), (s, z) in zip(grid.items(), params, strict=False)}
        graph = compiled_graph(path)
        assert f"Q{op[7:]}" in kinds(graph)
        want = ort_session(path).run(None, feeds)[0]
        np.testing.assert_array_equal(run_graph(graph, feeds)[0], want, err_msg=str(params))
        if trial < 2:
            (tmp_path / f"c{trial}").mkdir()
            np.testing.assert_array_equal(
                run_c_once(graph, list(feeds.values()), tmp_path / f"c{trial}"), want)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m0plus"])
def test_tie_heavy_add_on_mcu_bit_exact(target: str, tmp_path: Path) -> None:
    """QLinearAdd on every int8 code pair with scale ratios 1/2 and 1/4 (a tie on one
    result in eight) on QEMU: the M4 through its FPU's VFMA, the M0+ through the exact
    double-precision fmaf (soft-float), both equal onnxruntime."""
    from tinyc.mcu.harness import missing_tools
    from tinyc.mcu.validate import run_on_mcu

    assert not missing_tools(), missing_tools()
    sy = 0.05
    path = tmp_path / "add.onnx"
    onnx.save(contrib_model("QLinearAdd", TensorProto.INT8,
                            [(sy / 2, 17), (sy / 4, -90), (sy, 5)], {}), str(path))
    codes = np.arange(-128, 128)
    a = np.repeat(codes, 256).reshape(256, 256).astype(np.int8)
    b = np.tile(codes, 256).reshape(256, 256).astype(np.int8)
    graph = compiled_graph(path, target)
    assert graph.nodes[0].attrs.get("semantics") == "onnxruntime"
    (tmp_path / "mcu").mkdir()
    result, _ = run_on_mcu(graph, Options(target=target), "net", [a, b], tmp_path / "mcu")
    np.testing.assert_array_equal(result.run.outputs[0],
                                  ort_session(path).run(None, {"a": a, "b": b})[0])


@pytest.mark.parametrize("name", ["cnn_qop_s8.onnx", "cnn_qop_u8.onnx", "cnn_qdq_s8.onnx"])
def test_models_softmax_on_random_logits_bit_exact(name: str, tmp_path: Path) -> None:
    """The test models' Softmax (their own logits and output parameters) on 8,192 random
    int8 logit rows: onnxruntime's QLinearSoftmax and tinyc's onnxruntime-semantics QSoftmax
    agree. (Over random parameters they differ on about 3 rows in 100,000: onnxruntime's
    normalization depends on its host kernel; see tinyc.quant.semantics.)"""
    model = onnx.load(str(MODELS / name))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    params = [(float(inits["logits_scale"]), int(inits["logits_zero_point"])),
              (float(inits["probs_scale"]), int(inits["probs_zero_point"]))]
    dtype = TensorProto.INT8 if inits["logits_zero_point"].dtype == np.int8 else TensorProto.UINT8
    shift = 0 if dtype == TensorProto.INT8 else 128
    classes = inits["w4_quantized"].shape[0] if "w4_quantized" in inits else 10
    nodes = [helper.make_node("QuantizeLinear", ["f", "s0", "z0"], ["x"]),
             helper.make_node("QLinearSoftmax", ["x", "s0", "z0", "s1", "z1"], ["y"],
                              domain="com.microsoft", axis=-1, opset=13),
             helper.make_node("DequantizeLinear", ["y", "s1", "z1"], ["out"])]
    np_type = np.int8 if dtype == TensorProto.INT8 else np.uint8
    ins = [numpy_helper.from_array(np.float32(s), f"s{i}") for i, (s, _) in enumerate(params)]
    ins += [numpy_helper.from_array(np_type(z), f"z{i}") for i, (_, z) in enumerate(params)]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("f", TensorProto.FLOAT,
                                                                 [8192, classes])],
                 helper.make_tensor_value_info("out", TensorProto.FLOAT, [8192, classes]), ins)
    rng = np.random.default_rng(len(name))
    codes = rng.integers(-128, 128, (8192, classes)) + shift
    codes[::2] //= 4  # close logits, many rows where the largest ones nearly tie
    (s0, z0) = params[0]
    feeds = {"f": ((codes - z0) * np.float32(s0)).astype(np.float32)}
    graph = compiled_graph(path)
    assert kinds(graph)["QSoftmax"] == 1
    want = ort_session(path).run(None, feeds)[0]
    np.testing.assert_array_equal(run_graph(graph, feeds)[0], want)
    (tmp_path / "c").mkdir()
    np.testing.assert_array_equal(run_c_once(graph, [feeds["f"]], tmp_path / "c"), want)


def test_unknown_semantics_in_text_ir_is_a_one_line_error(tmp_path: Path) -> None:
    """The attribute round-trips through the text IR; a value tinyc does not know is exit 3."""
    from tinyc.ir.text import load_text_ir, save_text_ir

    graph = compiled_graph(MODELS / "cnn_qop_s8.onnx")
    good = tmp_path / "good.tir"
    save_text_ir(graph, good)
    assert [n.attrs.get("semantics") for n in load_text_ir(good).nodes] == \
        [n.attrs.get("semantics") for n in graph.nodes]
    bad = tmp_path / "bad.tir"
    bad.write_text(good.read_text().replace('semantics = "onnxruntime"', 'semantics = "gemmlowp"'))
    for sibling in tmp_path.glob("good.*"):  # the constants' data file
        if sibling != good:
            sibling.with_name("bad" + sibling.suffix).write_bytes(sibling.read_bytes())
    line = assert_one_line(cli(str(bad), "-o", str(tmp_path / "out")), 3)
    assert "gemmlowp" in line and "semantics" in line
    assert not (tmp_path / "out").exists()
