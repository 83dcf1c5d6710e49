"""Lowering of a Quantize/Dequantize ("QDQ") graph to tinyc's integer ops.

Algorithm. A QDQ graph computes in float between `DequantizeLinear` (DQ) and
`QuantizeLinear` (Q) nodes; this is the form onnxruntime's `quantize_static` writes, the
form of PyTorch QAT exports, and the form tinyc's own static quantizer produces before
calling this module. One forward walk over the nodes, in topological order, applies:

1. DQ(x) -> op -> Q  ==>  Qop(x) (`QConv`, `QGemm`, `QAdd`, ...), when every activation input
   of the float op comes from a DQ of an int8 per-tensor value, its weights and bias are
   constants (float, or a DQ of an integer constant), and every use of its result is a Q with
   the same per-tensor int8 parameters. A Relu/Clip fused in the op or standing between the
   op and its Q becomes the integer clamp. The Q's output value is kept (name and users).
2. DQ(x) -> reshape-like op  ==>  reshape-like op on x -> DQ: data movement (and a Gather
   with constant indices) commutes with per-tensor dequantization, so the next op sees a
   DQ again.
3. Q(DQ(x))  ==>  x (same parameters) or `QRequantize(x)`.

Anything else stays float between its DQ and Q (a "float island", reported to the user).

Activations are int8, or int16 with zero point 0 (int16x8, TFLite's 16x8 mode): a rule
applies when its activation inputs and its result have the same dtype (`finish` checks);
an int16 layer's bias is int64. QLut, QSoftmax and the recurrent ops are int8-only.
Then DQs of constants still feeding float ops are folded to float constants, u8 activation
edges have been retyped to int8 (zp - 128, exact), and dead Q/DQ nodes are removed.

The operator forms QLinearConv / QLinearMatMul with constant parameters are first expanded
into DQ -> Conv/MatMul -> Q, so they reach the same integer kernels with the model's own
scales.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tinyc.ir import DType, Graph, Node, QuantParams, TensorType, Value
from tinyc.ops import get_op, has_op
from tinyc.ops.qint4 import WEIGHT_BITS
from tinyc.ops.qinteger import no_clamp, softmax_exp_table
from tinyc.ops.quant import const_quant_params
from tinyc.quant import semantics, tflite_fixedpoint
from tinyc.quant.lower_rnn import RECURRENT_OPS, lower_recurrent
from tinyc.quant.params import (
    ACT_DTYPES,
    QMAX,
    QMIN,
    act_limits,
    axis_shape,
    channel_scales,
    default_weight_clip,
    dequantize_array,
    params_from_range,
    quantize_array,
    quantize_bias,
    quantize_weights,
    same_params,
    symmetric_params,
)

#: ops whose result is a rearrangement of their first input's elements
MOVEMENT_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity"})
#: unary float ops computed through a 256-entry lookup table
LUT_OPS = frozenset({
    "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "LeakyRelu", "Elu", "Selu", "Celu", "Gelu",
    "Exp", "Log", "Sqrt", "Softplus", "Softsign", "Erf", "Neg", "Abs", "Reciprocal", "Sin",
    "Cos", "Mish", "ThresholdedRelu", "Swish",
})
CLAMP_OPS = frozenset({"Relu", "Clip"})
#: bound on |sum of products| + |bias| that keeps the kernels' accumulators safe: int32
#: (int8 activations), and the 64-bit requantization's 2^47 (int16x8)
ACC_LIMIT = {DType.I8: 2**31 - 1, DType.I16: 2**47 - 1}


@dataclass
class LowerReport:
    """What the lowering did: rule counts, and the float ops left between DQ and Q."""

    counts: dict[str, int] = field(default_factory=dict)
    float_ops: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1


# -- small graph helpers -------------------------------------------------------------------


def _remove_node(graph: Graph, node: Node) -> None:
    """Drop `node` from the graph without checking its outputs (they were re-homed)."""
    node.drop_inputs()
    graph.nodes = [n for n in graph.nodes if n is not node]


def _replace_value(graph: Graph, old: Value, new: Value) -> None:
    old.replace_all_uses_with(new)
    graph.outputs = [new if v is old else v for v in graph.outputs]


def _is_output(graph: Graph, v: Value) -> bool:
    return any(o is v for o in graph.outputs)


def _adopt(node: Node, outputs: list[Value]) -> None:
    node.outputs = list(outputs)
    for i, out in enumerate(outputs):
        out.producer = node
        out.index = i


def _scalar_const(graph: Graph, hint: str, data: np.ndarray) -> Value:
    return graph.add_const(graph.unique_name(hint), np.asarray(data))


def _zero_point(graph: Graph, hint: str, params: QuantParams, dtype: DType) -> Value:
    """The zero-point constant of a Q/DQ: its dtype is the integer side's (ONNX's rule)."""
    return _scalar_const(graph, f"{hint}_zero_point",
                         np.asarray(params.zero_point[0], dtype.np))


def make_q(graph: Graph, x: Value, out: Value, params: QuantParams, hint: str) -> Node:
    scale = _scalar_const(graph, f"{hint}_scale", np.float32(params.scale[0]))
    zp = _zero_point(graph, hint, params, out.dtype)
    node = Node("QuantizeLinear", [x, scale, zp], [], {"axis": 0}, name=f"{hint}_quantize")
    _adopt(node, [out])
    return node


def make_dq(graph: Graph, x: Value, out: Value, params: QuantParams, hint: str) -> Node:
    scale = _scalar_const(graph, f"{hint}_scale", np.float32(params.scale[0]))
    zp = _zero_point(graph, hint, params, x.dtype)
    node = Node("DequantizeLinear", [x, scale, zp], [], {"axis": 0}, name=f"{hint}_dequantize")
    _adopt(node, [out])
    return node


def int8_value(graph: Graph, hint: str, shape: tuple[int, ...], params: QuantParams,
               dtype: DType = DType.I8) -> Value:
    """A new quantized activation value (int8, or int16 for int16x8)."""
    return Value(graph.unique_name(hint), TensorType(dtype, shape, params))


def int8_const(graph: Graph, hint: str, data: np.ndarray, params: QuantParams | None) -> Value:
    c = graph.add_const(graph.unique_name(hint), np.asarray(data, np.int8))
    c.type = TensorType(DType.I8, c.shape, params)
    return c


# -- the lowering ----------------------------------------------------------------------------


class Lowering:
    """One application of the QDQ lowering to `graph` (see the module docstring)."""

    def __init__(self, graph: Graph, integer_semantics: str = semantics.FIXEDPOINT,
                 weight_bits: int = 8, weight_clip: str | None = None) -> None:
        self.graph = graph
        #: bits and scale choice of the conv/fc weights quantized from float (`--weight-bits`,
        #: `quantize_weights`; no clip: the bits' default); 4 makes QConv/QGemm store them
        #: packed (`tinyc.ops.qint4`)
        self.weight_bits = weight_bits
        self.weight_clip = weight_clip
        #: id(node) -> weight bits of the layers that override `weight_bits` (per-layer
        #: precision: int4 or int8 weights on that layer only)
        self.layer_weight_bits: dict[int, int] = {}
        #: the integer ops' arithmetic (`tinyc.quant.semantics`)
        self.semantics = integer_semantics
        self.report = LowerReport()
        self._dead: set[int] = set()
        #: id(LSTM node) -> calibrated bound of its cell state (`tinyc.quant.lower_rnn`)
        self.hints: dict[int, float] = {}
        #: ids of the uint8 activations `retype_u8_edges` made int8
        self.u8_values: set[int] = set()
        #: ids of the nodes to leave in float between their DQ and Q (per-layer precision)
        self.keep_float: set[int] = set()

    def run(self) -> LowerReport:
        self.expand_operator_forms()
        self.retype_u8_edges()
        for node in list(self.graph.nodes):
            if id(node) in self._dead or id(node) in self.keep_float:
                continue
            rule = RULES.get(node.op)
            if rule is not None and rule(self, node):
                self.report.count(node.op)
        self.fold_constant_dequantize()
        self.remove_dead()
        semantics.mark(self.graph, self.semantics)
        self.report.float_ops = float_ops(self.graph)
        return self.report

    def bits_of(self, node: Node) -> int:
        """The bits of `node`'s weights when they are quantized from float."""
        return self.layer_weight_bits.get(id(node), self.weight_bits)

    # -- producers and consumers --------------------------------------------------------
    def dq_source(self, v: Value | None) -> Value | None:
        """The int8 per-tensor activation behind a DequantizeLinear, annotated with its
        parameters; None when `v` is not such a DQ output."""
        if v is None or v.producer is None or v.producer.op != "DequantizeLinear":
            return None
        dq = v.producer
        x = dq.inputs[0]
        if x is None or x.const is not None or x.dtype not in ACT_DTYPES:
            return None
        params = const_quant_params(dq, 1, None)
        if params is None or len(params.scale) != 1 or not self.act_ok(x.dtype, params):
            return None
        params = QuantParams(params.scale, params.zero_point)
        if x.type.quant is None:
            x.type = TensorType(x.dtype, x.shape, params)
        elif not same_params(x.type.quant, params):
            return None
        return x

    def q_sink(self, v: Value) -> tuple[Value, list[Node]] | None:
        """When every use of float `v` is a QuantizeLinear to the same int8 per-tensor
        parameters: (the int8 value to produce instead, those Q nodes)."""
        if _is_output(self.graph, v) or not v.uses:
            return None
        users = v.users()
        if any(u.op != "QuantizeLinear" or u.inputs[0] is not v for u in users):
            return None
        params = [const_quant_params(u, 1, None) for u in users]
        first = params[0]
        dtype = users[0].outputs[0].dtype
        if first is None or len(first.scale) != 1 or dtype not in ACT_DTYPES \
                or not self.act_ok(dtype, first):
            return None
        if any(not same_params(p, first) or u.outputs[0].dtype is not dtype
               for p, u in zip(params[1:], users[1:], strict=True)):
            return None
        out = users[0].outputs[0]
        out.type = TensorType(dtype, out.shape, QuantParams(first.scale, first.zero_point))
        return out, users

    def sink_with_clamp(
        self, v: Value
    ) -> tuple[Value, list[Node], list[Node], float, float] | None:
        """`q_sink`, looking through one float Relu/Clip between the op and its Qs. Returns
        (int value, Q nodes, clamp nodes to drop, clamp low, clamp high) in real units."""
        sunk = self.q_sink(v)
        if sunk is not None:
            return sunk[0], sunk[1], [], -np.inf, np.inf
        users = v.users()
        if len(users) != 1 or users[0].op not in CLAMP_OPS or _is_output(self.graph, v):
            return None
        act = users[0]
        sunk = self.q_sink(act.outputs[0])
        if sunk is None:
            return None
        lo, hi = clamp_bounds(act.op, act.attrs)
        return sunk[0], sunk[1], [act], lo, hi

    def act_ok(self, dtype: DType, params: QuantParams) -> bool:
        """An activation the integer ops take: int8, or int16 with zero point 0 in tinyc's
        own (fixedpoint) arithmetic -- onnxruntime's float rules are int8-only, so an
        imported int16 QDQ model stays float."""
        if dtype is not DType.I16:
            return True
        return self.semantics == semantics.FIXEDPOINT and _zero_point_ok(dtype, params)

    def finish(self, node: Node, new: Node, out: Value, qs: list[Node], extra: list[Node]) -> bool:
        """Put `new` (producing `out`) where `node` was; drop node, its Qs and `extra`.
        Refused (False, nothing changed) when an activation input's dtype is not `out`'s
        (int8 and int16 do not mix in one integer op)."""
        if any(v is not None and v.const is None and v.dtype is not out.dtype
               for v in new.inputs):
            new.drop_inputs()
            return False
        _adopt(new, [out])
        self.graph.insert_before(node, new)
        for q in qs:
            if q.outputs[0] is not out:
                _replace_value(self.graph, q.outputs[0], out)
            self._drop(q)
        for n in extra:
            self._drop(n)
        self._drop(node)
        return True

    def _drop(self, node: Node) -> None:
        self._dead.add(id(node))
        _remove_node(self.graph, node)

    # -- constants ---------------------------------------------------------------------
    def weight_source(self, v: Value | None, out_axis: int, transpose: bool, *,
                      bits: int) -> Value | None:
        """An int8 symmetric weight constant in kernel layout (output channel first), from a
        float constant (quantized to `bits`) or a DQ of an integer constant; None if `v` is
        neither."""
        if v is None:
            return None
        if v.const is not None and v.dtype.is_float:
            data = v.const.astype(np.float32)
            data = data.T if transpose else data
            clip = self.weight_clip or default_weight_clip(bits)
            q, params = quantize_weights(data, 0, bits, clip)
            return int8_const(self.graph, f"{v.name}_q", q, params)
        if v.producer is None or v.producer.op != "DequantizeLinear":
            return None
        dq = v.producer
        c = dq.inputs[0]
        if c is None or c.const is None or c.dtype not in (DType.I8, DType.U8):
            return None
        params = const_quant_params(dq, 1, dq.attrs.get("axis", 1))
        if params is None:
            return None
        n_params = len(params.scale)
        ints = c.const.astype(np.int64)
        if n_params > 1:
            if params.axis != out_axis:
                return None
            shape = axis_shape(ints.ndim, out_axis, n_params)
            centered = ints - np.asarray(params.zero_point, np.int64).reshape(shape)
        else:
            centered = ints - params.zero_point[0]
        centered = centered.T if transpose else centered
        if centered.min(initial=0) >= -128 and centered.max(initial=0) <= 127:
            kernel_params = QuantParams(params.scale, (0,) * n_params, 0 if n_params > 1 else None)
            return int8_const(self.graph, f"{c.name}_w", centered, kernel_params)
        # asymmetric weights that do not fit int8 once centred: requantize (lossy)
        self.report.notes.append(f"weights {c.name} requantized to symmetric int8")
        real = centered.astype(np.float64) * (
            np.asarray(params.scale).reshape(axis_shape(centered.ndim, 0, n_params))
            if n_params > 1 else params.scale[0])
        q, kp = quantize_weights(real.astype(np.float32), 0)
        return int8_const(self.graph, f"{c.name}_w", q, kp)

    def bias_source(self, v: Value | None, n: int, scales: np.ndarray,
                    wide: bool = False) -> tuple[bool, Value | None]:
        """(ok, int32 bias constant [n] with scale s_x * s_w[c]) from a float constant or a DQ
        of an int32 constant; (True, None) when there is no bias. `wide` (int16
        activations): an int64 constant."""
        if v is None:
            return True, None
        if v.const is not None and v.dtype.is_float:
            real = v.const.astype(np.float64)
        elif v.producer is not None and v.producer.op == "DequantizeLinear":
            dq = v.producer
            c = dq.inputs[0]
            params = const_quant_params(dq, 1, dq.attrs.get("axis", 0))
            if c is None or c.const is None or params is None:
                return False, None
            ints = c.const.astype(np.int64).reshape(-1)
            s = channel_scales(params, ints.size) if ints.size > 1 else np.asarray(params.scale)
            zp = np.asarray(params.zero_point, np.int64)
            exact = (ints.size == n and np.all(zp == 0)
                     and np.allclose(channel_scales(params, n), scales, rtol=1e-6, atol=0))
            if exact and c.dtype is DType.I32 and not wide:
                return True, self.graph.add_const(self.graph.unique_name(f"{c.name}_b"),
                                                  ints.astype(np.int32))
            real = dequantize_array(ints, s, zp).astype(np.float64)
        else:
            return False, None
        if real.size not in (1, n):
            return False, None
        real = np.broadcast_to(real.reshape(-1), (n,))
        q = quantize_bias(real, scales, wide)
        return True, self.graph.add_const(self.graph.unique_name(f"{v.name}_b"), q)

    def int8_operand(self, v: Value | None, dtype: DType = DType.I8) -> Value | None:
        """An int8 (`dtype`: or int16) per-tensor operand of an elementwise op: an activation
        behind a DQ, or a constant (quantized with its own min-max parameters; symmetric
        for int16)."""
        src = self.dq_source(v)
        if src is not None or v is None:
            return src
        if v.const is not None and v.dtype.is_float:
            data = v.const.astype(np.float32)
            lo, hi = float(data.min(initial=0)), float(data.max(initial=0))
            if dtype is DType.I16:
                params = symmetric_params(lo, hi)
                q = quantize_array(data, params.scale[0], 0, *act_limits(dtype))
                c = self.graph.add_const(self.graph.unique_name(f"{v.name}_q"),
                                         np.asarray(q, np.int16))
                c.type = TensorType(DType.I16, c.shape, params)
                return c
            params = params_from_range(lo, hi)
            q = quantize_array(data, params.scale[0], params.zero_point[0], QMIN, QMAX)
            return int8_const(self.graph, f"{v.name}_q", q, params)
        if v.producer is not None and v.producer.op == "DequantizeLinear":
            dq = v.producer
            c = dq.inputs[0]
            params = const_quant_params(dq, 1, None)
            if c is not None and c.const is not None and c.dtype is DType.I8 and params \
                    and len(params.scale) == 1:
                return int8_const(self.graph, f"{c.name}_q", c.const, params)
        return None

    # -- pre and post steps --------------------------------------------------------------
    def expand_operator_forms(self) -> None:
        """QLinearConv / QLinearMatMul with constant parameters -> DQ, float op, Q; data
        movement applied directly to 8-bit tensors -> DQ, float op, Q; and onnxruntime's
        dynamic pattern (DynamicQuantizeLinear -> ConvInteger/MatMulInteger -> Cast -> Mul
        -> Add) -> QDynConv / QDynGemm."""
        for node in list(self.graph.nodes):
            if node.op in ("QLinearConv", "QLinearMatMul"):
                if any(node.input(i) is None or node.input(i).const is None  # type: ignore[union-attr]
                       for i in (1, 2, 4, 5, 6, 7)):
                    continue
                expand_qlinear(self.graph, node)
                self.report.count(f"expand-{node.op}")
            elif node.op in INT8_MOVEMENT_OPS and floatify_movement(self.graph, node):
                self.report.count(f"expand-{node.op}")
            elif node.op in ("ConvInteger", "MatMulInteger"):
                from tinyc.quant.dynamic_import import fuse_dynamic

                if fuse_dynamic(self.graph, node):
                    self.report.count(f"fuse-{node.op}")

    def retype_u8_edges(self) -> None:
        """A uint8 activation between a Q and its DQs becomes int8 with zp - 128 (exact)."""
        for node in list(self.graph.nodes):
            if node.op != "QuantizeLinear" or node.outputs[0].dtype is not DType.U8:
                continue
            v = node.outputs[0]
            users = v.users()
            if _is_output(self.graph, v) or not users or any(
                u.op != "DequantizeLinear" for u in users
            ):
                continue
            if any(n.input(2) is None or n.input(2).const is None  # type: ignore[union-attr]
                   for n in [node, *users]):
                continue
            for n in [node, *users]:
                zp = n.inputs[2]
                assert zp is not None and zp.const is not None
                shifted = (zp.const.astype(np.int64) - 128).astype(np.int8)
                name = self.graph.unique_name(f"{zp.name}_s8")
                n.set_input(2, self.graph.add_const(name, shifted))
            params = const_quant_params(node, 1, node.attrs.get("axis"))
            v.type = TensorType(DType.I8, v.shape, params)
            self.u8_values.add(id(v))
            self.report.count("retype-u8")

    def fold_constant_dequantize(self) -> None:
        """DQs of constants that still feed float ops become float constants."""
        for node in list(self.graph.nodes):
            x = node.inputs[0] if node.inputs else None
            if node.op != "DequantizeLinear" or x is None or x.const is None:
                continue
            if any(v is not None and v.const is None for v in node.inputs):
                continue
            out = node.outputs[0]
            if not out.uses and not _is_output(self.graph, out):
                continue
            data = get_op(node.op).reference(node, [v.const if v is not None else None
                                                    for v in node.inputs])[0]
            const = self.graph.add_const(self.graph.unique_name(f"{out.name}_folded"),
                                         np.asarray(data, np.float32).reshape(out.shape))
            _replace_value(self.graph, out, const)
            self._drop(node)

    def remove_dead(self) -> None:
        """Nodes (pure, all results unused) and constants nothing reads."""
        changed = True
        while changed:
            changed = False
            for node in reversed(list(self.graph.nodes)):
                if all(not o.uses and not _is_output(self.graph, o) for o in node.outputs):
                    self._drop(node)
                    changed = True
        self.graph.remove_unused_constants()


def clamp_bounds(op: str, attrs: dict[str, object]) -> tuple[float, float]:
    """Real-valued [low, high] of a Relu or Clip (node attributes or fused activation)."""
    if op == "Relu":
        return 0.0, np.inf
    lo, hi = attrs.get("min", -np.inf), attrs.get("max", np.inf)
    return float(lo), float(hi)  # type: ignore[arg-type]


def act_range(v: Value, lo: float, hi: float) -> tuple[int, int]:
    """The clamp [act_min, act_max] representing real [lo, hi] in the quantized value `v`
    (its parameters and dtype)."""
    params = v.type.quant
    assert params is not None
    s, z = params.scale[0], params.zero_point[0]
    vmin, vmax = act_limits(v.dtype)
    qlo = vmin if lo == -np.inf else int(quantize_array(np.float32(lo), s, z, vmin, vmax))
    qhi = vmax if hi == np.inf else int(quantize_array(np.float32(hi), s, z, vmin, vmax))
    return qlo, qhi


def _zero_point_ok(dtype: DType, params: QuantParams) -> bool:
    """int16 activations are symmetric (zero point 0: the int16 kernels have no offsets)."""
    return dtype is not DType.I16 or all(z == 0 for z in params.zero_point)


def fused_clamp(node: Node) -> tuple[float, float] | None:
    """The clamp a float op carries as its fused activation; None for any other activation."""
    act = node.attrs.get("activation", "")
    if not act:
        return -np.inf, np.inf
    if act == "Relu":
        return 0.0, np.inf
    if act == "Clip":
        p = node.attrs.get("activation_params", [])
        return float(p[0]), float(p[1])
    return None


def float_ops(graph: Graph) -> list[str]:
    """Float compute nodes (not Q/DQ or data movement) of a graph that has integer ops."""
    skip = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"} | MOVEMENT_OPS
    has_int = any(n.op in INTEGER_OPS for n in graph.nodes)
    if not has_int:
        return []
    return [f"{n.op} '{n.name}'" for n in graph.nodes
            if n.op not in skip and n.op not in INTEGER_OPS
            and any(o.dtype.is_float for o in n.outputs)]


INTEGER_OPS = frozenset({
    "QConv", "QGemm", "QAdd", "QSub", "QMul", "QRequantize", "QConcat", "QLut", "QMaxPool",
    "QAveragePool", "QGlobalAveragePool", "QSoftmax", "QDynConv", "QDynGemm", "QConvBoundary",
    "QGemmBoundary", "QBanded", *RECURRENT_OPS.values(),
})


# -- rules -------------------------------------------------------------------------------------


def _combine_clamps(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return max(a[0], b[0]), min(a[1], b[1])


def _acc_fits(weights: np.ndarray, bias: Value | None, dtype: DType = DType.I8,
              per_row_axis: int = 0) -> bool:
    """Worst case |sum (x - zp) w| + |b| fits the kernels' accumulator: int32 for int8
    activations (|x - zp| <= 255), |acc| < 2^47 for int16 ones (|x| <= 32768)."""
    w = np.abs(weights.astype(np.int64))
    rows = np.moveaxis(w, per_row_axis, 0).reshape(w.shape[per_row_axis], -1).sum(axis=1)
    b = np.abs(bias.const.astype(np.int64)) if bias is not None and bias.const is not None else 0
    span = 255 if dtype is DType.I8 else 32768
    return bool(np.all(rows * span + b <= ACC_LIMIT[dtype]))


def _weight_bits(lw: Lowering, node: Node, w: Value) -> dict[str, int]:
    """`weight_bits` 4 for weights the lowering quantized to int4 (imported integer weights
    keep their 8 bits); nothing for int8."""
    fits = w.const is not None and (not w.const.size or (
        int(w.const.min()) >= -8 and int(w.const.max()) <= 7))
    return {WEIGHT_BITS: 4} if lw.bits_of(node) == 4 and fits else {}


def lower_conv(lw: Lowering, node: Node) -> bool:
    """``Q(Conv(DQ(x), W, B)) -> QConv(x, Wq, Bq)``"""
    x = lw.dq_source(node.inputs[0])
    clamp = fused_clamp(node)
    if x is None or clamp is None or node.inputs[0].type.rank not in (3, 4):  # type: ignore[union-attr]
        return False
    sink = lw.sink_with_clamp(node.outputs[0])
    if sink is None:
        return False
    w = lw.weight_source(node.inputs[1], 0, transpose=False, bits=lw.bits_of(node))
    if w is None:
        return False
    assert x.type.quant is not None and w.type.quant is not None
    m = w.shape[0]
    scales = x.type.quant.scale[0] * channel_scales(w.type.quant, m)
    ok, b = lw.bias_source(node.input(2), m, scales, x.dtype is DType.I16)
    if not ok or not _acc_fits(w.const, b, x.dtype):  # type: ignore[arg-type]
        return False
    out, qs, extra, lo, hi = sink
    assert out.type.quant is not None
    act_min, act_max = act_range(out, *_combine_clamps(clamp, (lo, hi)))
    attrs = {k: node.attrs[k] for k in ("dilations", "group", "kernel_shape", "pads", "strides")}
    new = Node("QConv", [x, w, b], [],
               {**attrs, "act_min": act_min, "act_max": act_max, **_weight_bits(lw, node, w)},
               name=node.name)
    return lw.finish(node, new, out, qs, extra)


def _lower_fc(lw: Lowering, node: Node, a: Value | None, w: Value | None, bias_in: Value | None,
              alpha: float, beta: float) -> bool:
    x = lw.dq_source(a)
    clamp = fused_clamp(node)
    if x is None or w is None or clamp is None:
        return False
    sink = lw.sink_with_clamp(node.outputs[0])
    if sink is None:
        return False
    assert x.type.quant is not None and w.type.quant is not None
    if alpha != 1.0:
        q = w.type.quant
        w.type = TensorType(w.dtype, w.shape, QuantParams(
            tuple(float(np.float32(s * alpha)) for s in q.scale), q.zero_point, q.axis))
    n = w.shape[0]
    scales = x.type.quant.scale[0] * channel_scales(w.type.quant, n)
    if beta != 1.0 and bias_in is not None:
        if bias_in.const is None:
            return False
        bias_in = lw.graph.add_const(lw.graph.unique_name(f"{bias_in.name}_beta"),
                                     (bias_in.const.astype(np.float32) * np.float32(beta)))
    ok, b = lw.bias_source(bias_in, n, scales, x.dtype is DType.I16)
    if not ok or not _acc_fits(w.const, b, x.dtype):  # type: ignore[arg-type]
        return False
    out, qs, extra, lo, hi = sink
    assert out.type.quant is not None
    act_min, act_max = act_range(out, *_combine_clamps(clamp, (lo, hi)))
    new = Node("QGemm", [x, w, b], [],
               {"act_min": act_min, "act_max": act_max, **_weight_bits(lw, node, w)},
               name=node.name)
    return lw.finish(node, new, out, qs, extra)


def lower_gemm(lw: Lowering, node: Node) -> bool:
    """``Q(Gemm(DQ(a), W, C)) -> QGemm(a, Wq[n,k], Cq)`` (C a vector or scalar; with
    transA an int8 Transpose of a comes first)"""
    a = node.attrs
    c = node.input(2)
    n = node.outputs[0].shape[1]
    if c is not None and c.type.numel != 1 and not (c.type.numel == n and c.shape[-1] == n):
        return False
    w = lw.weight_source(node.inputs[1], 0 if a.get("transB") else 1,
                         transpose=not a.get("transB"), bits=lw.bits_of(node))
    x = node.inputs[0]
    if a.get("transA") and w is not None:
        src = lw.dq_source(x)
        if src is None or src.type.quant is None or lw.sink_with_clamp(node.outputs[0]) is None:
            return False
        xt = int8_value(lw.graph, f"{src.name}_t", src.shape[::-1], src.type.quant, src.dtype)
        t = Node("Transpose", [src], [], {"perm": [1, 0]}, name=f"{node.name}_transpose_a")
        _adopt(t, [xt])
        lw.graph.insert_before(node, t)
        x = Value(lw.graph.unique_name(f"{xt.name}_dq"), TensorType(DType.F32, xt.shape))
        lw.graph.insert_before(node, make_dq(lw.graph, xt, x, src.type.quant, xt.name))
    return _lower_fc(lw, node, x, w, c, float(a.get("alpha", 1.0)), float(a.get("beta", 1.0)))


def lower_matmul(lw: Lowering, node: Node) -> bool:
    """``Q(MatMul(DQ(a), W)) -> QGemm(a, Wq^T)`` for a constant 2-D W"""
    b = node.inputs[1]
    if b is None or b.type.rank != 2 or node.inputs[0] is None or node.inputs[0].type.rank < 1:
        return False
    w = lw.weight_source(b, 1, transpose=True, bits=lw.bits_of(node))
    return _lower_fc(lw, node, node.inputs[0], w, None, 1.0, 1.0)


def lower_binary(lw: Lowering, node: Node) -> bool:
    """``Q(Add(DQ(a), DQ(b))) -> QAdd(a, b)`` (and Mul; Sub in TFLite semantics, the only
    one with an integer Sub rule); constants are quantized"""
    if node.op == "Sub" and lw.semantics != semantics.TFLITE:
        return False
    clamp = fused_clamp(node)
    if clamp is None or node.outputs[0].dtype is not DType.F32:
        return False
    if lw.dq_source(node.inputs[0]) is None and lw.dq_source(node.inputs[1]) is None:
        return False
    sink = lw.sink_with_clamp(node.outputs[0])
    if sink is None:
        return False
    out, qs, extra, lo, hi = sink
    a, b = (lw.int8_operand(node.inputs[0], out.dtype),
            lw.int8_operand(node.inputs[1], out.dtype))
    if a is None or b is None:
        return False
    assert out.type.quant is not None
    act_min, act_max = act_range(out, *_combine_clamps(clamp, (lo, hi)))
    attrs = {"act_min": act_min, "act_max": act_max}
    if id(out) in lw.u8_values:
        attrs["u8_codes"] = 1  # onnxruntime adds uint8 codes (its float32 rounding differs)
    new = Node(f"Q{node.op}", [a, b], [], attrs, name=node.name)
    return lw.finish(node, new, out, qs, extra)


def lower_pool(lw: Lowering, node: Node) -> bool:
    """``Q(MaxPool(DQ(x))) -> QMaxPool(x)`` (and AveragePool)"""
    x = lw.dq_source(node.inputs[0])
    if x is None or x.type.rank not in (3, 4) or len(node.outputs) != 1 \
            or not _window_fits(x, int(np.prod(node.attrs["kernel_shape"]))):
        return False
    sink = lw.sink_with_clamp(node.outputs[0])
    if sink is None:
        if node.op == "MaxPool":  # no Q after it: max commutes with dequantization
            return _commute_through(lw, node, x, "QMaxPool",
                                    {**_pool_attrs(node), **no_clamp(x.dtype)})
        return False
    out, qs, extra, lo, hi = sink
    assert out.type.quant is not None
    act_min, act_max = act_range(out, lo, hi)
    attrs = {**_pool_attrs(node), "act_min": act_min, "act_max": act_max}
    if id(out) in lw.u8_values:
        attrs["u8_codes"] = 1  # onnxruntime's average pool rounds on uint8 codes
    new = Node("Q" + node.op, [x], [], attrs, name=node.name)
    return lw.finish(node, new, out, qs, extra)


def _window_fits(x: Value, taps: int) -> bool:
    """A pool's int32 window sum is exact: always for int8 (2^24 taps would be needed to
    overflow), below 2^16 taps for int16."""
    return x.dtype is not DType.I16 or taps < 2**16


def _pool_attrs(node: Node) -> dict[str, object]:
    keys = ("ceil_mode", "dilations", "kernel_shape", "pads", "strides")
    attrs: dict[str, object] = {k: node.attrs[k] for k in keys}
    attrs["count_include_pad"] = int(node.attrs.get("count_include_pad", 0))
    return attrs


def _commute_through(lw: Lowering, node: Node, x: Value, op: str,
                     attrs: dict[str, object]) -> bool:
    """``f(DQ(x)) -> DQ(Qf(x))`` for a monotonic f that keeps x's parameters (max, clamp):
    the integer op replaces `node`, a DequantizeLinear produces its old float result."""
    params = x.type.quant
    assert params is not None
    v = node.outputs[0]
    r = int8_value(lw.graph, f"{v.name}_q", v.shape, params, x.dtype)
    new = Node(op, [x], [], attrs, name=node.name)
    _adopt(new, [r])
    lw.graph.insert_before(node, new)
    dq = make_dq(lw.graph, r, v, params, r.name)
    lw.graph.insert_before(node, dq)
    lw._drop(node)
    return True


def lower_global_avgpool(lw: Lowering, node: Node) -> bool:
    """``Q(GlobalAveragePool(DQ(x))) -> QGlobalAveragePool(x)``"""
    x = lw.dq_source(node.inputs[0])
    if x is None or not _window_fits(x, int(np.prod(x.shape[2:]))):
        return False
    sink = lw.sink_with_clamp(node.outputs[0])
    if sink is None:
        return False
    out, qs, extra, lo, hi = sink
    assert out.type.quant is not None
    act_min, act_max = act_range(out, lo, hi)
    new = Node("QGlobalAveragePool", [x], [], {"act_min": act_min, "act_max": act_max},
               name=node.name)
    return lw.finish(node, new, out, qs, extra)


def lower_concat(lw: Lowering, node: Node) -> bool:
    """``Q(Concat(DQ(a), DQ(b), ...)) -> QConcat(a, b, ...)``"""
    if not any(lw.dq_source(v) is not None for v in node.inputs):
        return False
    sink = lw.q_sink(node.outputs[0])
    if sink is None:
        return False
    out, qs = sink
    ins = [lw.int8_operand(v, out.dtype) for v in node.inputs]
    if any(v is None for v in ins):
        return False
    new = Node("QConcat", ins, [], {"axis": node.attrs["axis"], **no_clamp(out.dtype)},
               name=node.name)
    return lw.finish(node, new, out, qs, [])


def lower_clamp(lw: Lowering, node: Node) -> bool:
    """``Q(Relu(DQ(x))) -> QRequantize{clamp}(x)`` (and Clip)"""
    x = lw.dq_source(node.inputs[0])
    if x is None:
        return False
    sink = lw.q_sink(node.outputs[0])
    if sink is None:  # no Q after it: a clamp commutes with dequantization
        assert x.type.quant is not None
        lo, hi = act_range(x, *clamp_bounds(node.op, node.attrs))
        return _commute_through(lw, node, x, "QRequantize", {"act_min": lo, "act_max": hi})
    out, qs = sink
    assert out.type.quant is not None
    act_min, act_max = act_range(out, *clamp_bounds(node.op, node.attrs))
    new = Node("QRequantize", [x], [], {"act_min": act_min, "act_max": act_max}, name=node.name)
    return lw.finish(node, new, out, qs, [])


def lower_lut(lw: Lowering, node: Node) -> bool:
    """``Q(f(DQ(x))) -> QLut(x, T)`` with T[q] = quantize(f(dequantize(q)))"""
    x = lw.dq_source(node.inputs[0])
    if x is None or x.dtype is not DType.I8 or len(node.inputs) != 1 or len(node.outputs) != 1:
        return False
    sink = lw.q_sink(node.outputs[0])
    if sink is None:
        return False
    out, qs = sink
    assert x.type.quant is not None and out.type.quant is not None
    table = None
    if lw.semantics == semantics.TFLITE:  # TFLite's integer kernel, where tinyc has its rule
        table = tflite_fixedpoint.lut_table(node.op, node.attrs, x.type.quant.scale[0],
                                            x.type.quant.zero_point[0], out.type.quant.scale[0],
                                            out.type.quant.zero_point[0])
    if table is None:
        grid = np.arange(QMIN, QMAX + 1, dtype=np.int64)
        real = dequantize_array(grid, x.type.quant.scale[0], x.type.quant.zero_point[0])
        with np.errstate(all="ignore"):
            fx = get_op(node.op).reference(node, [real])[0]
        table = quantize_array(np.asarray(fx, np.float32), out.type.quant.scale[0],
                               out.type.quant.zero_point[0], QMIN, QMAX)
    t = int8_const(lw.graph, f"{node.name or node.op}_lut", table.astype(np.int8), None)
    new = Node("QLut", [x, t], [], {}, name=node.name)
    return lw.finish(node, new, out, qs, [])


def lower_softmax(lw: Lowering, node: Node) -> bool:
    """``Q(Softmax(DQ(x))) -> QSoftmax(x, exp_table)``"""
    x = lw.dq_source(node.inputs[0])
    if x is None or x.dtype is not DType.I8:
        return False
    sink = lw.q_sink(node.outputs[0])
    if sink is None:
        return False
    out, qs = sink
    assert x.type.quant is not None
    attrs = {"axis": node.attrs["axis"], "flatten": int(node.attrs.get("flatten", 0))}
    length = (int(np.prod(x.shape[attrs["axis"]:])) if attrs["flatten"]
              else x.shape[attrs["axis"]])
    if lw.semantics == semantics.ONNXRUNTIME:
        table = semantics.softmax_table(x.type.quant.scale[0], length)
    elif lw.semantics == semantics.TFLITE:
        table = tflite_fixedpoint.softmax_exp_table(x.type.quant.scale[0])
    else:
        table = softmax_exp_table(x.type.quant.scale[0], length)
    t = lw.graph.add_const(lw.graph.unique_name(f"{node.name or 'softmax'}_exp"), table)
    new = Node("QSoftmax", [x, t], [], attrs, name=node.name)
    return lw.finish(node, new, out, qs, [])


def lower_movement(lw: Lowering, node: Node) -> bool:
    """``op(DQ(x)) -> DQ(op(x))`` for data movement (and Pad with a representable value,
    Gather with constant indices); ``Q(Pad(DQ(x)))`` with other parameters than x's ->
    ``Pad(QRequantize(x))``"""
    x = lw.dq_source(node.inputs[0])
    operands = [v for v in node.inputs[1:] if v is not None]
    if node.op == "Gather" and all(v.const is not None for v in operands):
        operands = []
    if x is None or len(node.outputs) != 1 or operands:
        return False
    params = x.type.quant
    assert params is not None
    if node.op == "Pad":
        sink = lw.q_sink(node.outputs[0])
        if sink is not None and not same_params(sink[0].type.quant, params):
            return _pad_requantized(lw, node, x, *sink)
        value = _pad_level(node, params, x.dtype)
        if value is None:
            return False
        node.attrs["value"] = value
    v = node.outputs[0]
    r = int8_value(lw.graph, f"{v.name}_q", v.shape, params, x.dtype)
    node.set_input(0, x)
    _adopt(node, [r])
    dq = make_dq(lw.graph, r, v, params, r.name)
    lw.graph.insert_after(node, dq)
    return True


def _pad_level(node: Node, params: QuantParams, dtype: DType) -> float | None:
    """A Pad's value as the nearest integer level of `params` (exact for 0, which is always
    one); None outside the representable range (the Pad then stays float)."""
    value = float(node.attrs.get("value", 0.0))
    s, z = params.scale[0], params.zero_point[0]
    vmin, vmax = act_limits(dtype)
    if not s * (vmin - z) - s / 2 <= value <= s * (vmax - z) + s / 2:
        return None
    return float(quantize_array(np.float32(value), s, z, vmin, vmax))


def _pad_requantized(lw: Lowering, node: Node, x: Value, out: Value, qs: list[Node]) -> bool:
    """``Q(Pad(DQ(x), v)) == Pad(Q(DQ(x)), Q(v))``: the input is requantized to the output's
    parameters and padded with v's level in those, the level the float graph's Q gives v.
    Padding in x's parameters instead would round v on x's grid first (when x's range is
    degenerate, all zeros, its scale is 1 and a value 1.5 became 2)."""
    assert out.type.quant is not None
    value = _pad_level(node, out.type.quant, out.dtype)
    if value is None or out.dtype is not x.dtype:
        return False
    mid = int8_value(lw.graph, f"{out.name}_unpadded", x.shape, out.type.quant, x.dtype)
    requantize = Node("QRequantize", [x], [], no_clamp(x.dtype), name=f"{node.name}_requantize")
    _adopt(requantize, [mid])
    lw.graph.insert_before(node, requantize)
    new = Node("Pad", [mid], [], {**node.attrs, "value": value}, name=node.name)
    return lw.finish(node, new, out, qs, [])


def lower_quantize(lw: Lowering, node: Node) -> bool:
    """``Q(DQ(x)) -> x`` (same parameters) or ``QRequantize(x)``"""
    x = lw.dq_source(node.inputs[0])
    out = node.outputs[0]
    if x is None or out.dtype is not x.dtype:
        return False
    params = const_quant_params(node, 1, None)
    if params is None or len(params.scale) != 1 or not lw.act_ok(out.dtype, params):
        return False
    params = QuantParams(params.scale, params.zero_point)
    out.type = TensorType(out.dtype, out.shape, params)
    if same_params(params, x.type.quant):
        keep_name = _is_output(lw.graph, out) and x.producer is not None \
            and not _is_output(lw.graph, x)
        _replace_value(lw.graph, out, x)
        if keep_name:  # a graph output keeps the model's name: it is the C interface
            x.name, out.name = out.name, lw.graph.unique_name(f"{out.name}_gone")
        lw._drop(node)
        return True
    new = Node("QRequantize", [x], [], no_clamp(x.dtype), name=node.name)
    return lw.finish(node, new, out, [], [])


def _int8_input(lw: Lowering, node: Node) -> bool:
    """The op's first input is an int8 activation (the int8-only rules' precondition)."""
    x = lw.dq_source(node.inputs[0] if node.inputs else None)
    return x is not None and x.dtype is DType.I8


RULES: dict[str, Callable[[Lowering, Node], bool]] = {
    "Conv": lower_conv,
    "Gemm": lower_gemm,
    "MatMul": lower_matmul,
    "Add": lower_binary,
    "Mul": lower_binary,
    "Sub": lower_binary,
    "MaxPool": lower_pool,
    "AveragePool": lower_pool,
    "GlobalAveragePool": lower_global_avgpool,
    "Concat": lower_concat,
    "Relu": lower_clamp,
    "Clip": lower_clamp,
    "Softmax": lower_softmax,
    "Pad": lower_movement,
    "QuantizeLinear": lower_quantize,
    **{op: lambda lw, n: _int8_input(lw, n) and lower_recurrent(lw, n)
       for op in RECURRENT_OPS},
    **{op: lower_movement for op in MOVEMENT_OPS | {"Gather"}},
    **{op: lower_lut for op in LUT_OPS if has_op(op)},
}


# -- operator forms -----------------------------------------------------------------------------

#: data movement that QOperator models apply to 8-bit tensors directly
INT8_MOVEMENT_OPS = MOVEMENT_OPS | {"MaxPool", "GlobalMaxPool"}


def floatify_movement(graph: Graph, node: Node) -> bool:
    """``op(x8) -> y8``  ==>  ``Q(op(DQ(x8)))`` with x8's parameters, so the usual rules see
    it (they turn it back into an int8 op with the int8 activations retyped)."""
    x = node.inputs[0] if node.inputs else None
    if x is None or x.dtype not in (DType.I8, DType.U8) or len(node.outputs) != 1:
        return False
    params = x.type.quant
    if params is None or len(params.scale) != 1 or any(v is not None for v in node.inputs[1:]):
        return False
    y = node.outputs[0]
    hint = node.name or y.name
    zp_data = np.asarray(params.zero_point[0], x.dtype.np)
    scale = _scalar_const(graph, f"{hint}_scale", np.float32(params.scale[0]))
    zp = _scalar_const(graph, f"{hint}_zero_point", zp_data)
    fx = Value(graph.unique_name(f"{hint}_in_float"), TensorType(DType.F32, x.shape))
    dq = Node("DequantizeLinear", [x, scale, zp], [], {"axis": 0}, name=f"{hint}_dq")
    _adopt(dq, [fx])
    graph.insert_before(node, dq)
    node.set_input(0, fx)
    fy = Value(graph.unique_name(f"{hint}_float"), TensorType(DType.F32, y.shape))
    _adopt(node, [fy])
    q = Node("QuantizeLinear", [fy, scale, zp], [], {"axis": 0}, name=f"{hint}_q")
    y.type = TensorType(y.dtype, y.shape, params)
    _adopt(q, [y])
    graph.insert_after(node, q)
    return True


def expand_qlinear(graph: Graph, node: Node) -> None:
    """QLinearConv / QLinearMatMul with constant parameters -> DQ -> Conv/MatMul -> Q."""
    conv = node.op == "QLinearConv"
    x, xs, xz, w, ws, wz, ys, yz = (node.input(i) for i in range(8))
    assert x is not None and w is not None and xs is not None and ws is not None
    assert ys is not None and yz is not None
    y = node.outputs[0]
    hint = node.name or y.name

    def dq(value: Value, scale: Value, zp: Value | None, axis: int, tag: str) -> Value:
        out = Value(graph.unique_name(f"{hint}_{tag}"), TensorType(DType.F32, value.shape))
        ins = [value, scale] + ([zp] if zp is not None else [])
        n = Node("DequantizeLinear", ins, [], {"axis": axis}, name=f"{hint}_{tag}")
        _adopt(n, [out])
        graph.insert_before(node, n)
        return out

    fx = dq(x, xs, xz, 1, "x")
    w_axis = 0 if conv else 1
    fw = dq(w, ws, wz, w_axis, "w")
    ins: list[Value | None] = [fx, fw]
    if conv and node.input(8) is not None:
        b = node.input(8)
        assert b is not None and xs.const is not None and ws.const is not None
        bscale = (np.float32(xs.const.reshape(())) * ws.const.astype(np.float32).reshape(-1))
        bscale = np.broadcast_to(bscale, (w.shape[0],)).astype(np.float32)
        sc = graph.add_const(graph.unique_name(f"{hint}_bias_scale"), bscale)
        ins.append(dq(b, sc, None, 0, "b"))
    fy = Value(graph.unique_name(f"{hint}_float"), TensorType(DType.F32, y.shape))
    if conv:
        keys = ("dilations", "group", "kernel_shape", "pads", "strides")
        attrs = {k: node.attrs[k] for k in keys}
        attrs.update(activation="", activation_params=[])
        op = Node("Conv", ins, [], attrs, name=hint)
    else:
        op = Node("MatMul", ins, [], {"activation": "", "activation_params": []}, name=hint)
    _adopt(op, [fy])
    graph.insert_before(node, op)
    q = Node("QuantizeLinear", [fy, ys, yz], [], {"axis": 1}, name=f"{hint}_y")
    node.drop_inputs()
    graph.nodes = [q if n is node else n for n in graph.nodes]
    _adopt(q, [y])
