"""quantize-int8: static post-training quantization of a float graph to int8 integer kernels.

Algorithm:

1. prepare: activations that are not a clamp (HardSwish, Sigmoid, LeakyRelu, HardSigmoid)
   are split out of the op they were fused into, so both values can be calibrated and the
   activation becomes a lookup table; Relu/Clip stay fused (they become the int8 clamp).
2. calibrate (done by the caller, `tinyc.quant.calibration`): the float graph runs on the
   sample inputs and every float activation gets an observed range (min-max, percentile or
   MSE-optimal).
3. choose parameters: int8 asymmetric per tensor from each range; data movement and pools
   reuse their input's parameters (so they stay exact and free), Softmax/Sigmoid outputs get
   scale 1/256 and zero point -128, Tanh 1/128 and 0 (the full output range).
4. insert QuantizeLinear -> DequantizeLinear pairs on every float activation edge: the graph
   is now a QDQ graph, exactly like one produced by onnxruntime's quantizer.
5. lower it with `tinyc.quant.lower` (the same code that imports QDQ models): each float op
   between DQ and Q becomes an integer op; weights are quantized symmetric per output
   channel, biases to int32 at s_x * s_w. What has no integer kernel stays float between a
   DequantizeLinear and a QuantizeLinear (listed in the compile output), and so do the
   `float_layers` (per-layer precision: `--layer-precision`, `--quantize auto`); the
   round trips this leaves between float ops are dropped again.
6. interface: by default the graph keeps float inputs and outputs (QuantizeLinear /
   DequantizeLinear run at the boundary in C); `io=int8` exposes the int8 tensors instead.

With `activations=DType.I16` (`--quantize int16x8`, TFLite's 16x8 mode) every activation is
int16 with symmetric parameters (zero point 0, scale max|x| / 32767, `symmetric_params`);
weights stay int8 per channel and biases become int64. No fixed output parameters apply
(Softmax, Sigmoid, Tanh have no int16 kernel: they stay float between DQ and Q).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tinyc.errors import UsageError
from tinyc.ir import DType, Graph, Node, QuantParams, TensorType, Value
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass
from tinyc.quant.calibration import float_activations
from tinyc.quant.lower import (
    MOVEMENT_OPS,
    Lowering,
    LowerReport,
    _adopt,
    int8_value,
    make_dq,
    make_q,
)
from tinyc.quant.lower_rnn import RECURRENT_OPS, cell_state_key
from tinyc.quant.params import act_limits, params_from_range, symmetric_params

#: ops whose output reuses the input's quantization parameters
SHARED_PARAMS_OPS = MOVEMENT_OPS | {
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Pad", "Dropout", "Gather",
}
#: fixed output parameters of ops with a known output range
FIXED_PARAMS = {
    "Softmax": QuantParams((1.0 / 256.0,), (-128,)),
    "Sigmoid": QuantParams((1.0 / 256.0,), (-128,)),
    "Tanh": QuantParams((1.0 / 128.0,), (0,)),
}
#: fused activations (attribute form) and how their parameters map back to node attributes
_UNFUSE = {
    "HardSwish": (),
    "Sigmoid": (),
    "LeakyRelu": ("alpha",),
    "HardSigmoid": ("alpha", "beta"),
}
QUANTIZED_KEY = "tinyc quantization"


def prepare_for_quantization(graph: Graph) -> int:
    """Split non-clamp fused activations into their own nodes (idempotent). Returns how
    many were split."""
    split = 0
    for node in list(graph.nodes):
        act = node.attrs.get("activation", "")
        if not act or act in ("Relu", "Clip") or act not in _UNFUSE:
            continue
        params = list(node.attrs.get("activation_params", []))
        node.attrs["activation"] = ""
        node.attrs["activation_params"] = []
        y = node.outputs[0]
        pre = Value(graph.unique_name(f"{y.name}_pre_{act.lower()}"), TensorType(y.dtype, y.shape))
        _adopt(node, [pre, *node.outputs[1:]])
        attrs = dict(zip(_UNFUSE[act], params, strict=False))
        act_node = Node(act, [pre], [], attrs, name=f"{node.name}_{act.lower()}")
        _adopt(act_node, [y])
        graph.insert_after(node, act_node)
        split += 1
    return split


def choose_params(
    graph: Graph, ranges: Mapping[str, tuple[float, float]], activations: DType = DType.I8
) -> dict[str, QuantParams]:
    """Per float activation value name, its int8 (or int16) parameters (see the module
    docstring)."""
    from_range = symmetric_params if activations is DType.I16 else params_from_range
    fixed = {} if activations is DType.I16 else FIXED_PARAMS
    params: dict[str, QuantParams] = {}
    for v in graph.inputs:
        if v.dtype.is_float and v.name in ranges:
            params[v.name] = from_range(*ranges[v.name])
    for node in graph.nodes:
        first = node.inputs[0] if node.inputs else None
        for out in node.outputs:
            if not out.dtype.is_float:
                continue
            if node.op in SHARED_PARAMS_OPS and first is not None and first.name in params \
                    and _value_fits(node, params[first.name], ranges.get(first.name),
                                    activations):
                params[out.name] = params[first.name]
            elif node.op in RECURRENT_OPS and len(node.outputs) > 1 \
                    and out is node.outputs[1] and node.outputs[0].name in params:
                # Y_h is Y's last step
                params[out.name] = params[node.outputs[0].name]
            elif node.op in fixed:
                params[out.name] = fixed[node.op]
            elif out.name in ranges:
                params[out.name] = from_range(*ranges[out.name])
    return params


def _value_fits(node: Node, params: QuantParams, observed: tuple[float, float] | None,
                activations: DType = DType.I8) -> bool:
    """A Pad's constant lies inside the input's parameters' range and inside the range they
    were fitted to (the input's calibrated range, widened to 0), so the output can share
    them. Otherwise the output gets its own range, which holds the constant: an all-zero
    input range gets scale 1 whatever the data (`params_from_range`), and sharing it would
    round a pad value 1.5 to 2."""
    if node.op != "Pad":
        return True
    value = float(node.attrs.get("value", 0.0))
    s, z = params.scale[0], params.zero_point[0]
    lo, hi = act_limits(activations)
    if observed is not None and not min(observed[0], 0.0) <= value <= max(observed[1], 0.0):
        return False
    return s * (lo - z) <= value <= s * (hi - z)


def insert_qdq(graph: Graph, params: Mapping[str, QuantParams],
               activations: DType = DType.I8) -> int:
    """A QuantizeLinear -> DequantizeLinear pair (to `activations`, int8 or int16) after every
    float activation that has parameters; all its former uses (and graph outputs) read the
    dequantized value."""
    inserted = 0
    head = 0
    for v in float_activations(graph):
        p = params.get(v.name)
        if p is None or v.dtype is not DType.F32:
            continue
        uses = list(v.uses)
        vq = int8_value(graph, f"{v.name}_q", v.shape, p, activations)
        vd = Value(graph.unique_name(f"{v.name}_dq"), TensorType(DType.F32, v.shape))
        q = make_q(graph, v, vq, p, v.name)
        dq = make_dq(graph, vq, vd, p, v.name)
        if v.producer is not None:
            graph.insert_after(v.producer, q)
        else:
            graph.nodes.insert(head, q)
            head += 1
        graph.insert_after(q, dq)
        if v.producer is None:
            head += 1
        for use in uses:
            use.node.set_input(use.index, vd)
        if any(o is v for o in graph.outputs):
            if v.producer is not None:  # the interface keeps the model's output names
                v.name, vd.name = graph.unique_name(f"{v.name}_float"), v.name
            graph.outputs = [vd if o is v else o for o in graph.outputs]
        inserted += 1
    return inserted


def expose_int8_io(graph: Graph) -> None:
    """Make quantized graph inputs/outputs the interface: a float input read only by one
    QuantizeLinear is replaced by that node's int8 output, and an output produced by a
    DequantizeLinear of an int8 value by that value."""
    for i, v in enumerate(list(graph.inputs)):
        users = v.users()
        if v.dtype is not DType.F32 or len(users) != 1 or users[0].op != "QuantizeLinear":
            raise UsageError(f"--io int8: input '{v.name}' is not quantized at the boundary")
        q = users[0]
        vq = q.outputs[0]
        q.drop_inputs()
        graph.nodes = [n for n in graph.nodes if n is not q]
        vq.producer = None
        graph.inputs[i] = vq
        v.name, vq.name = f"{v.name}_float", v.name  # the interface keeps the model's names
    for i, v in enumerate(list(graph.outputs)):
        dq = v.producer
        src = dq.inputs[0] if dq is not None and dq.op == "DequantizeLinear" else None
        if src is None or src.dtype is not DType.I8 or src.const is not None:
            raise UsageError(f"--io int8: output '{v.name}' is not an int8 tensor")
        graph.outputs[i] = src
        if not any(o is src for o in graph.outputs[:i]) and src not in graph.inputs:
            v.name, src.name = graph.unique_name(f"{v.name}_float"), v.name
    _drop_unused(graph)


def drop_float_round_trips(graph: Graph) -> int:
    """Undo `DQ(movement*(Q(x)))` left where no integer kernel took the int8 value: e.g. a
    float input that only reaches a float op through a Reshape. The round trip would only add
    rounding error and an int8 copy to the arena. (tinyc's own quantization only: in an
    imported QDQ model such a pair is part of what the model computes.) Returns how many."""
    dropped = 0
    for q in [n for n in graph.nodes if n.op == "QuantizeLinear"]:
        x = q.inputs[0]
        if x is None or x.const is not None or x.dtype is not DType.F32:
            continue
        chain: list[Node] = []
        v = q.outputs[0]
        while not any(o is v for o in graph.outputs) and len(v.uses) == 1:
            user = v.users()[0]
            if user.op == "DequantizeLinear" or (user.op in MOVEMENT_OPS and len(user.outputs) == 1
                                                  and user.inputs[0] is v):
                chain.append(user)
                v = user.outputs[0]
                if user.op == "DequantizeLinear":
                    break
            else:
                break
        if not chain or chain[-1].op != "DequantizeLinear" \
                or any(o is chain[-1].outputs[0] for o in graph.outputs):
            continue
        dq, moves = chain[-1], chain[:-1]
        src = x
        for move in moves:
            move.set_input(0, src)
            out = move.outputs[0]
            out.type = TensorType(DType.F32, out.shape)
            src = out
        dq.outputs[0].replace_all_uses_with(src)
        dq.drop_inputs()
        q.drop_inputs()
        graph.nodes = [n for n in graph.nodes if n is not dq and n is not q]
        dropped += 1
    if dropped:
        graph.remove_unused_constants()
    return dropped


def _drop_unused(graph: Graph) -> None:
    outputs = {id(v) for v in graph.outputs}
    changed = True
    while changed:
        changed = False
        for node in reversed(list(graph.nodes)):
            if all(not o.uses and id(o) not in outputs for o in node.outputs):
                graph.erase(node)
                changed = True
    graph.remove_unused_constants()


def record(ctx: PassContext, graph: Graph, report: LowerReport, how: str) -> None:
    graph.metadata[QUANTIZED_KEY] = how
    for key, n in sorted(report.counts.items()):
        ctx.count(f"lower:{key}", n)


@register_pass
@dataclass(frozen=True)
class QuantizeInt8(Pass):
    """Static int8 quantization with calibrated ranges (see the module docstring).

    Preconditions: a float graph and `ranges` for its activations, computed on the graph as
    `prepare_for_quantization` leaves it (the compiler's `--quantize int8 --calib` does both).
    Refuses to run without ranges; does nothing on a graph it has already quantized."""

    name = "quantize-int8"
    summary = "static int8 quantization from calibration ranges (--quantize int8 --calib)"
    ranges: Mapping[str, tuple[float, float]] | None = None
    """value name -> observed (low, high), from `tinyc.quant.calibration.calibrate`"""
    description: str = "int8 static"
    """recorded in the graph metadata (and the generated C's provenance comment)"""
    weight_bits: int = 8
    """conv/fc weight bits: 8, or 4 (packed two per byte, `tinyc.ops.qint4`)"""
    weight_clip: str | None = None
    """per-channel weight scale: from max |w| or the MSE-optimal clip (`quantize_weights`);
    None: the default of the weights' bits (`default_weight_clip`)"""
    float_layers: frozenset[str] = frozenset()
    """names of nodes kept in float between their DequantizeLinear and QuantizeLinear
    (per-layer precision, `tinyc.quant.driver`)"""
    layer_weight_bits: Mapping[str, int] = field(default_factory=dict)
    """node name -> weight bits overriding `weight_bits` on that layer (per-layer
    precision: int4 or int8)"""
    activations: DType = DType.I8
    """the activations' dtype: int8, or int16 for int16x8"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if QUANTIZED_KEY in graph.metadata:
            return PassResult(graph, False)
        if not self.ranges:
            raise UsageError("quantize-int8 needs calibration data: --quantize int8 --calib X.npy")
        prepare_for_quantization(graph)
        lowering = Lowering(graph, weight_bits=self.weight_bits, weight_clip=self.weight_clip)
        lowering.hints = {id(n): self.ranges[cell_state_key(n)][1] for n in graph.nodes
                          if n.op == "LSTM" and cell_state_key(n) in self.ranges}
        lowering.keep_float = {id(n) for n in graph.nodes if n.name in self.float_layers}
        lowering.layer_weight_bits = {id(n): self.layer_weight_bits[n.name] for n in graph.nodes
                                      if n.name in self.layer_weight_bits}
        insert_qdq(graph, choose_params(graph, self.ranges, self.activations), self.activations)
        report = lowering.run()
        dropped = drop_float_round_trips(graph)
        for _ in range(dropped):
            report.count("float-round-trip")
        record(ctx, graph, report, self.description)
        return PassResult(graph, True)
