"""Low-precision element types end to end: ONNX models with bfloat16 / float8 / float4 /
4- and 2-bit tensors as graph inputs, outputs and constants (Cast with and without
`saturate`, QuantizeLinear / DequantizeLinear per tensor, per axis and blocked, the byte
moving ops), compiled to C, run under ASan/UBSan and compared bit for bit with the
interpreter (NaN matching NaN), which the ONNX reference pins in turn. The quantization
model gets finite inputs: ONNX's reference turns an infinite quotient into an integer the
platform picks, where tinyc saturates."""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.errors import UnsupportedError
from tinyc.frontend.onnx import import_model
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ops.cast import cast_defined

F32 = np.float32
X = np.array([[0.0, -0.0, 0.3, -1.7, 2.5, 3.5, -6.2, 447.0],
              [464.0, 500.0, -1e6, 1e-9, np.nan, np.inf, -np.inf, 7.99]], F32)
CAST_TARGETS = [TP.BFLOAT16, TP.FLOAT8E4M3FN, TP.FLOAT8E4M3FNUZ, TP.FLOAT8E5M2,
                TP.FLOAT8E5M2FNUZ, TP.FLOAT4E2M1, TP.INT4, TP.UINT4, TP.INT2, TP.UINT2]


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
           outputs: list[str], inits: list[onnx.TensorProto] | None = None) -> onnx.ModelProto:
    outs = [helper.make_empty_tensor_value_info(o) for o in outputs]
    graph = helper.make_graph(nodes, "g", inputs, outs, initializer=inits or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])
    return model


def _cast_model() -> onnx.ModelProto:
    nodes, outputs = [], []
    for to in CAST_TARGETS:
        name = TP.DataType.Name(to).lower()
        for sat in (1, 0) if name.startswith("float8") else (1,):
            y = f"{name}_s{sat}"
            nodes.append(helper.make_node("Cast", ["x"], [y], to=to, saturate=sat))
            nodes.append(helper.make_node("Cast", [y], [y + "_f"], to=TP.FLOAT))
            outputs += [y, y + "_f"]
    for mode in ("up", "down", "nearest"):
        for sat in (0, 1):
            y = f"e8m0_{mode}_{sat}"
            nodes.append(helper.make_node("Cast", ["x"], [y], to=TP.FLOAT8E8M0, saturate=sat,
                                          round_mode=mode))
            nodes.append(helper.make_node("Cast", [y], [y + "_f16"], to=TP.FLOAT16))
            outputs += [y, y + "_f16"]
    nodes.append(helper.make_node("Cast", ["q"], ["q_bf16"], to=TP.BFLOAT16))
    nodes.append(helper.make_node("Reshape", ["q_bf16", "shape"], ["q_r"]))
    nodes.append(helper.make_node("Identity", ["q_r"], ["q_id"]))
    nodes.append(helper.make_node("Cast", ["q"], ["q_i8"], to=TP.INT8))
    outputs += ["q_id", "q_i8"]
    inputs = [helper.make_tensor_value_info("x", TP.FLOAT, list(X.shape)),
              helper.make_tensor_value_info("q", TP.INT4, [2, 4])]
    shape = numpy_helper.from_array(np.array([4, 2], np.int64), "shape")
    return _model(nodes, inputs, outputs, [shape])


def _quant_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TP.FLOAT, [2, 8])
    scale_axis = numpy_helper.from_array(np.array([0.5, 0.25], F32), "s_axis")
    scale_blk = numpy_helper.from_array(np.array([[0.5, 1.0], [0.25, 2.0]], F32), "s_blk")
    inits, nodes, outputs = [scale_axis, scale_blk], [], []
    qtypes = [(ml_dtypes.int4, [1, -2]), (ml_dtypes.uint4, [8, 3]), (ml_dtypes.int2, [0, -1]),
              (ml_dtypes.uint2, [1, 2]), (ml_dtypes.float8_e4m3fn, [0, 0]),
              (ml_dtypes.float8_e5m2fnuz, [0, 0]), (ml_dtypes.float4_e2m1fn, [0.5, -1])]
    for dtype, zps in qtypes:
        name = np.dtype(dtype).name
        zp = np.array(zps, dtype)
        inits.append(numpy_helper.from_array(zp, f"zp_{name}"))
        inits.append(numpy_helper.from_array(np.stack([zp, zp], 1), f"zpb_{name}"))
        for sat in (1, 0) if name.startswith("float8") else (1,):
            q, qb = f"q_{name}_{sat}", f"qb_{name}_{sat}"
            nodes.append(helper.make_node("QuantizeLinear", ["x", "s_axis", f"zp_{name}"], [q],
                                          axis=0, saturate=sat))
            nodes.append(helper.make_node("QuantizeLinear", ["x", "s_blk", f"zpb_{name}"], [qb],
                                          axis=1, block_size=4, saturate=sat))
            nodes.append(helper.make_node("DequantizeLinear", [q, "s_axis", f"zp_{name}"],
                                          [q + "_dq"], axis=0))
            nodes.append(helper.make_node("DequantizeLinear", [qb, "s_blk", f"zpb_{name}"],
                                          [qb + "_dq"], axis=1, block_size=4))
            outputs += [q, qb, q + "_dq", qb + "_dq"]
    return _model(nodes, [x], outputs, inits)


def _bf16_model() -> onnx.ModelProto:
    """bfloat16 arithmetic, computed through float32 (tinyc/frontend/lowp.py)."""
    nodes = [helper.make_node("Cast", ["x"], ["b"], to=TP.BFLOAT16),
             helper.make_node("Mul", ["b", "b"], ["sq"]),
             helper.make_node("Celu", ["sq"], ["celu"], alpha=0.5),
             helper.make_node("Sub", ["celu", "b"], ["d"]),
             helper.make_node("ReduceSum", ["d"], ["s"], keepdims=1),
             helper.make_node("Less", ["d", "b"], ["lt"]),
             helper.make_node("Transpose", ["d"], ["t"], perm=[1, 0])]
    x = helper.make_tensor_value_info("x", TP.FLOAT, list(X.shape))
    return _model(nodes, [x], ["d", "s", "lt", "t"])


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    if got.dtype != want.dtype or got.shape != want.shape:
        return False
    wide = np.float64 if np.dtype(want.dtype).kind in "fV" and "int" not in want.dtype.name \
        else np.int64
    g, w = got.astype(wide), want.astype(wide)
    return bool(np.array_equal(g, w, equal_nan=wide is np.float64))


@pytest.mark.parametrize("build", [_cast_model, _quant_model, _bf16_model],
                         ids=["cast", "quant", "bf16"])
def test_lowp_model_c_matches_reference(build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = build()
    x = np.nan_to_num(X, posinf=9.0, neginf=-9.0) if build is _quant_model else X
    feeds_onnx = {"x": x, "q": np.array([[-8, -1, 0, 7], [3, -3, 5, -5]], ml_dtypes.int4)}
    options = Options(name="m")
    graph, _ = optimize(import_model(model, {}), options)
    compiled = compile_graph(graph, options, "m")
    compiled.code.write(tmp_path)
    if any(v.dtype.is_lowp for v in graph.inputs + graph.outputs):
        assert "never packed" in (tmp_path / "m.h").read_text()
    exe = build_host(tmp_path, graph, "m", [*SANITIZE_FLAGS, "-O0"])
    feeds = {v.name: feeds_onnx[v.name] for v in graph.inputs}
    got = run_host(exe, graph, [feeds[v.name] for v in graph.inputs])
    with np.errstate(all="ignore"):
        want = run_graph(graph, feeds)
        onnx_want = ReferenceEvaluator(model).run(None, feeds)
    names = [v.name for v in graph.outputs]
    bad = [n for n, g, w in zip(names, got, want, strict=True) if not _same(g, w)]
    assert not bad, f"C differs from the interpreter: {bad}"
    defined = [_defined(graph, n, feeds) for n in names]
    bad = [n for n, g, w, d in zip(names, want, onnx_want, defined, strict=True)
           if not _same(np.where(d, g, w), w)]
    assert not bad, f"interpreter differs from onnx's reference: {bad}"


def _defined(graph, name: str, feeds: dict[str, np.ndarray]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Elements of output `name` that ONNX defines: a float cast to a sub-byte integer out
    of range is undefined (and onnx's reference differs between ml_dtypes versions there);
    the casts back to float of those inherit it."""
    for node in graph.nodes:
        x = node.inputs[0] if node.inputs else None
        y = node.outputs[0]
        if node.op == "Cast" and x is not None and x.name in feeds and y.dtype.is_lowp:
            if name.startswith(y.name):
                return cast_defined(feeds[x.name], y.dtype)
    return np.ones((), bool)


@pytest.mark.parametrize("op,elem,dtype", [("Relu", TP.FLOAT8E4M3FN, "f8e4m3fn"),
                                           ("Relu", TP.INT4, "i4"),
                                           ("MatMul", TP.BFLOAT16, "bf16")])
def test_compute_ops_refuse_lowp_types(op: str, elem: int, dtype: str) -> None:
    x = helper.make_tensor_value_info("x", elem, [4, 4])
    model = _model([helper.make_node(op, ["x"] * (2 if op == "MatMul" else 1), ["y"])], [x],
                   ["y"])
    with pytest.raises(UnsupportedError, match=f"{dtype} is not supported"):
        import_model(model, {})
