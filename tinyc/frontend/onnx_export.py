"""IR -> ONNX: write a (pruned) graph back as an ONNX model users can fine-tune.

`tinyc export` uses it after pruning; it is also how a pruned model goes back into a
training framework. Every node becomes its ONNX op at opset 17 (`EXPORT_OPSET`), undoing
the frontend's normalization:

- attribute-like operands the frontend turned into attributes become constant inputs
  again (Reshape's shape, Squeeze/Unsqueeze axes, Clip bounds, Pad pads and value, Slice
  starts/ends/axes/steps, Split sizes, ReduceSum axes);
- a fused activation (`activation` / `activation_params`) becomes its own node after the op;
- Cast's IR dtype becomes the ONNX element type number; Dropout becomes Identity;
- tinyc's SparseConv / SparseGemm become Conv / Gemm with the dense (zero-filled) weight;
  its MelSpectrogram becomes Pad?, STFT, ReduceSumSquare, MatMul, Add?, Reshape.

An attribute the ONNX schema does not know is refused rather than dropped: losing it
would silently change the meaning. Constants become initializers under their IR names and
values keep their names, so a round trip through `load_onnx` gives the same IR (checked by
`check_roundtrip`, which `tinyc export` runs). tinyc's integer ops (QConv, ...) are not
exported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tinyc import __version__
from tinyc.errors import UnsupportedError, VerifyError
from tinyc.ir import DType, Graph, Node, Value
from tinyc.ops.elementwise import Dropout

EXPORT_OPSET = 17

_ONNX_DTYPE = {
    DType.F32: TensorProto.FLOAT,
    DType.F64: TensorProto.DOUBLE,
    DType.F16: TensorProto.FLOAT16,
    DType.I8: TensorProto.INT8,
    DType.U8: TensorProto.UINT8,
    DType.I16: TensorProto.INT16,
    DType.U16: TensorProto.UINT16,
    DType.I32: TensorProto.INT32,
    DType.U32: TensorProto.UINT32,
    DType.I64: TensorProto.INT64,
    DType.U64: TensorProto.UINT64,
    DType.BOOL: TensorProto.BOOL,
}

#: attributes that are tinyc-internal and carry no meaning once exported
_INTERNAL = frozenset({"activation", "activation_params"})
#: per op, tinyc attributes the ONNX node's structure already implies
_IMPLIED = {"MaxPool": frozenset({"indices"})}  # the second output is there or not


class _Builder:
    """Collects ONNX nodes and initializers; makes unique helper names."""

    def __init__(self, graph: Graph) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.names = set(graph.value_names())

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name = f"{base}_{i}"
            i += 1
        self.names.add(name)
        return name

    def const(self, base: str, data: np.ndarray) -> str:
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(data), name))
        return name

    def ints(self, base: str, values: list[int]) -> str:
        return self.const(base, np.asarray(values, dtype=np.int64))

    def node(self, op: str, inputs: list[str], outputs: list[str], name: str = "",
             **attrs: Any) -> None:
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name or None, **attrs))


def _names(values: list[Value | None]) -> list[str]:
    return ["" if v is None else v.name for v in values]


def _neutral(key: str, value: Any) -> bool:
    """An attribute value that means the same as leaving the attribute out."""
    return key == "dilations" and isinstance(value, list) and all(v == 1 for v in value)


def _schema_attrs(op: str, attrs: dict[str, Any], node: Node) -> dict[str, Any]:
    """The attributes ONNX `op` knows; an unknown one is an error, not a silent drop."""
    try:
        schema = onnx.defs.get_schema(op, EXPORT_OPSET)
    except onnx.defs.SchemaError:
        raise UnsupportedError(f"export: no ONNX op {op} (node '{node.name}')") from None
    out = {}
    for key, value in attrs.items():
        if key in _INTERNAL or key.startswith("_") or key in _IMPLIED.get(node.op, ()):
            continue
        if key not in schema.attributes and _neutral(key, value):
            continue  # e.g. AveragePool dilations (opset 19) at their default
        if key not in schema.attributes:
            raise UnsupportedError(
                f"export: {node.op} node '{node.name}' has attribute '{key}', which ONNX "
                f"{op} (opset {EXPORT_OPSET}) does not know"
            )
        if isinstance(value, list) and not value:
            continue  # an empty list means "default" in tinyc's normalized form
        out[key] = value
    return out


def _activation(b: _Builder, node: Node, src: str, dst: str) -> None:
    """The fused activation of `node` as its own ONNX node from `src` to `dst`."""
    name = node.attrs["activation"]
    params = list(node.attrs.get("activation_params") or [])
    base = f"{node.name}_{name}" if node.name else ""
    if name == "Clip":
        lo = b.const(f"{dst}_min", np.asarray(params[0], np.float32))
        hi = b.const(f"{dst}_max", np.asarray(params[1], np.float32))
        b.node("Clip", [src, lo, hi], [dst], base)
    elif name == "LeakyRelu":
        b.node("LeakyRelu", [src], [dst], base, alpha=float(params[0]))
    elif name == "HardSigmoid":
        b.node("HardSigmoid", [src], [dst], base, alpha=float(params[0]), beta=float(params[1]))
    else:
        b.node(name, [src], [dst], base)


def _emit(b: _Builder, node: Node, op: str, inputs: list[str], attrs: dict[str, Any]) -> None:
    """`op` writing node's outputs, through its fused activation when it has one."""
    outs = [v.name for v in node.outputs]
    if node.attrs.get("activation"):
        tmp = b.fresh(f"{outs[0]}_preact")
        b.node(op, inputs, [tmp, *outs[1:]], node.name, **_schema_attrs(op, attrs, node))
        _activation(b, node, tmp, outs[0])
    else:
        b.node(op, inputs, outs, node.name, **_schema_attrs(op, attrs, node))


# -- per-op converters -------------------------------------------------------------------

Converter = Callable[[_Builder, Node], None]


def _default(b: _Builder, node: Node) -> None:
    _emit(b, node, node.op, _names(node.inputs), dict(node.attrs))


def _reshape(b: _Builder, node: Node) -> None:
    attrs = {k: v for k, v in node.attrs.items() if k != "shape"}
    shape = node.inputs[1].name if node.input(1) is not None else b.ints(  # type: ignore[union-attr]
        f"{node.outputs[0].name}_shape", list(node.attrs["shape"]))
    _emit(b, node, "Reshape", [_names(node.inputs)[0], shape], attrs)


def _axes_input(b: _Builder, node: Node) -> None:
    """Squeeze / Unsqueeze: axes as an input since opset 13."""
    attrs = {k: v for k, v in node.attrs.items() if k != "axes"}
    axes = node.inputs[1].name if node.input(1) is not None else b.ints(  # type: ignore[union-attr]
        f"{node.outputs[0].name}_axes", list(node.attrs["axes"]))
    _emit(b, node, node.op, [_names(node.inputs)[0], axes], attrs)


def _clip(b: _Builder, node: Node) -> None:
    ins = [_names(node.inputs)[0]]
    for key in ("min", "max"):
        ins.append(b.const(f"{node.outputs[0].name}_{key}",
                           np.asarray(node.attrs[key], node.outputs[0].dtype.np)))
    attrs = {k: v for k, v in node.attrs.items() if k not in ("min", "max")}
    _emit(b, node, "Clip", ins, attrs)


def _pad(b: _Builder, node: Node) -> None:
    if not node.attrs.get("pads") or len(node.inputs) > 1:
        raise UnsupportedError(f"export: Pad node '{node.name}' with run-time pads")
    y = node.outputs[0]
    pads = b.ints(f"{y.name}_pads", list(node.attrs["pads"]))
    value = b.const(f"{y.name}_value", np.asarray(node.attrs.get("value", 0), y.dtype.np))
    _emit(b, node, "Pad", [_names(node.inputs)[0], pads, value], {"mode": node.attrs["mode"]})


def _cast(b: _Builder, node: Node) -> None:
    attrs = dict(node.attrs)
    attrs["to"] = _ONNX_DTYPE[DType(node.attrs["to"])]
    _emit(b, node, "Cast", _names(node.inputs), attrs)


def _dropout(b: _Builder, node: Node) -> None:
    y = node.outputs[0]
    b.node("Identity", [_names(node.inputs)[0]], [y.name], node.name)
    if len(node.outputs) > 1 and node.outputs[1].uses:
        mask = b.const(f"{y.name}_mask", Dropout().mask(node, y.shape))
        b.node("Identity", [mask], [node.outputs[1].name])


def _slice(b: _Builder, node: Node) -> None:
    if not node.attrs.get("starts") or len(node.inputs) > 1:
        raise UnsupportedError(f"export: Slice node '{node.name}' with run-time bounds")
    y = node.outputs[0]
    starts, steps, count = node.attrs["starts"], node.attrs["steps"], node.attrs["shape"]
    ends = []
    for s, t, n in zip(starts, steps, count, strict=True):
        end = s + t * n
        ends.append(end if end >= 0 else -(2**63))  # past the front, for negative steps
    ins = [_names(node.inputs)[0], b.ints(f"{y.name}_starts", list(starts)),
           b.ints(f"{y.name}_ends", ends), b.ints(f"{y.name}_axes", list(range(len(starts)))),
           b.ints(f"{y.name}_steps", list(steps))]
    _emit(b, node, "Slice", ins, {})


def _split(b: _Builder, node: Node) -> None:
    attrs = {k: v for k, v in node.attrs.items() if k != "split"}
    sizes = b.ints(f"{node.outputs[0].name}_split", list(node.attrs["split"]))
    _emit(b, node, "Split", [_names(node.inputs)[0], sizes], attrs)


def _reduce_sum(b: _Builder, node: Node) -> None:
    attrs = {k: v for k, v in node.attrs.items() if k != "axes"}
    ins = [_names(node.inputs)[0]]
    if node.attrs.get("axes"):
        ins.append(b.ints(f"{node.outputs[0].name}_axes", list(node.attrs["axes"])))
    _emit(b, node, "ReduceSum", ins, attrs)


def _softmax(b: _Builder, node: Node) -> None:
    if node.attrs.get("flatten"):
        raise UnsupportedError(f"export: Softmax node '{node.name}' in its opset < 13 form")
    _default(b, node)


def _sparse_conv(b: _Builder, node: Node) -> None:
    from tinyc.ops.sparse import dense_weight

    w = b.const(f"{node.inputs[1].name.removesuffix('_values')}", dense_weight(node))  # type: ignore[union-attr]
    ins = [_names(node.inputs)[0], w] + _names(node.inputs[4:5])
    attrs = {k: v for k, v in node.attrs.items() if k != "weight_shape"}
    _emit(b, node, "Conv", ins, attrs)


def _sparse_gemm(b: _Builder, node: Node) -> None:
    from tinyc.ops.sparse import dense_weight

    w = b.const(f"{node.inputs[1].name.removesuffix('_values')}", dense_weight(node))  # type: ignore[union-attr]
    ins = [_names(node.inputs)[0], w] + _names(node.inputs[4:5])
    _emit(b, node, "Gemm", ins, {"alpha": node.attrs["alpha"], "transB": 1})


def _mel_spectrogram(b: _Builder, node: Node) -> None:
    """The chain fuse-mel-spectrogram replaced: Pad?, STFT, ReduceSumSquare over (re, im),
    MatMul by the dense matrix, Add of the bias?, Reshape to the output's dims."""
    from tinyc.ops import get_op

    x, window, values = node.inputs[:3]
    assert x is not None and window is not None and values is not None
    if values.const is None:
        raise UnsupportedError(f"export: MelSpectrogram node '{node.name}' with run-time values")
    a, y, bias = node.attrs, node.outputs[0].name, node.input(3)
    signal = x.name
    if a["pad_begin"] or a["pad_end"]:
        signal = b.fresh(f"{y}_padded")
        b.node("Pad", [x.name, b.ints(f"{y}_pads", [0, a["pad_begin"], 0, 0, a["pad_end"], 0]),
                       b.const(f"{y}_pad_value", np.asarray(a["pad_value"], np.float32))],
               [signal])
    spectrum, power, mel = b.fresh(f"{y}_spectrum"), b.fresh(f"{y}_power"), b.fresh(f"{y}_mel")
    b.node("STFT", [signal, b.const(f"{y}_step", np.asarray(a["step"], np.int64)), window.name],
           [spectrum], node.name)
    b.node("ReduceSumSquare", [spectrum], [power], axes=[3], keepdims=0)
    weight = get_op("MelSpectrogram").weight(node, values.const)  # type: ignore[attr-defined]
    b.node("MatMul", [power, b.const(f"{values.name}_matrix", weight.astype(np.float32))], [mel])
    if bias is not None:
        biased = b.fresh(f"{y}_biased")
        b.node("Add", [mel, bias.name], [biased])
        mel = biased
    b.node("Reshape", [mel, b.ints(f"{y}_shape", list(a["shape"]))], [y])


CONVERTERS: dict[str, Converter] = {
    "Reshape": _reshape,
    "Squeeze": _axes_input,
    "Unsqueeze": _axes_input,
    "Clip": _clip,
    "Pad": _pad,
    "Cast": _cast,
    "Dropout": _dropout,
    "Slice": _slice,
    "Split": _split,
    "ReduceSum": _reduce_sum,
    "Softmax": _softmax,
    "SparseConv": _sparse_conv,
    "SparseGemm": _sparse_gemm,
    "MelSpectrogram": _mel_spectrogram,
}


def _value_info(value: Value) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(value.name, _ONNX_DTYPE[value.dtype], list(value.shape))


def export_onnx(graph: Graph, path: str | Path | None = None) -> onnx.ModelProto:
    """The ONNX model of `graph` (checked by the ONNX checker); written to `path` if given."""
    b = _Builder(graph)
    for node in graph.nodes:
        if node.op.startswith("Q") and node.op not in CONVERTERS and node.op[1:2].isupper():
            raise UnsupportedError(f"export: tinyc integer op {node.op} (node '{node.name}')")
        CONVERTERS.get(node.op, _default)(b, node)
    # constants the ONNX nodes read (a sparse weight's three arrays are replaced by one)
    read = {name for n in b.nodes for name in n.input} | {v.name for v in graph.outputs}
    b.initializers += [numpy_helper.from_array(c.const, c.name) for c in graph.constants
                       if c.name in read and c.const is not None]
    onnx_graph = helper.make_graph(
        b.nodes, graph.name, [_value_info(v) for v in graph.inputs],
        [_value_info(v) for v in graph.outputs], b.initializers,
    )
    model = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", EXPORT_OPSET)],
        producer_name="tinyc", producer_version=__version__,
    )
    model.ir_version = min(model.ir_version, 8)  # readable by older onnxruntime releases
    for key in sorted(graph.metadata):
        if key not in ("onnx opset", "producer"):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, graph.metadata[key]
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, str(path))
    return model


def check_roundtrip(graph: Graph, path: str | Path, rtol: float = 1e-5,
                    atol: float = 1e-6) -> float:
    """Re-import the exported file and compare its interpreter outputs with `graph`'s on one
    seeded random input; returns the largest absolute difference, raises VerifyError."""
    from tinyc.frontend.onnx import load_onnx
    from tinyc.interp import run_graph

    back = load_onnx(Path(path), {})
    rng = np.random.default_rng(0)
    feeds = {v.name: rng.standard_normal(v.shape).astype(v.dtype.np) if v.dtype.is_float
             else rng.integers(0, 3, v.shape).astype(v.dtype.np) for v in graph.inputs}
    worst = 0.0
    for want, got in zip(run_graph(graph, feeds), run_graph(back, feeds), strict=True):
        diff = np.abs(want.astype(np.float64) - got.astype(np.float64))
        worst = max(worst, float(diff.max()) if diff.size else 0.0)
        if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            raise VerifyError(f"export: {path} computes something else than the IR "
                              f"(max abs diff {worst:.3g})")
    return worst
