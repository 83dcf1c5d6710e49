"""fuse-qboundary: the first int8 layer reads the float input, the last one writes the
float output, so the arena holds no int8 copy of either.

A quantized model with the float interface quantizes its input with a QuantizeLinear and
dequantizes its output with a DequantizeLinear; each stages a whole int8 tensor in the
arena. On small-input models that copy is noise, but on an image model (vww: 27 KiB of
int8 input next to an 18 KiB first activation) or an autoencoder (640 int8 outputs after
128-wide layers) it is the peak. This pass rewrites

- `QuantizeLinear(graph input) -> QConv|QGemm` into `QConvBoundary|QGemmBoundary` with
  `x_quant` (the QuantizeLinear's per-tensor scale and zero point), when that layer is the
  int8 copy's only reader and, for a conv, it would run in bands (a conv whose one band
  stages the whole int8 input stays staged: the same bytes and work, and NAME_run calls
  the int8 conv itself, not through the boundary kernel's band loop -- KWS int8 stack on
  the M4 696 -> 480 B);
- `QConv|QGemm -> DequantizeLinear -> graph output` into the same ops with `y_quant`, when
  the int8 output would be the biggest int8 tensor of the model (otherwise the copy costs
  nothing and the staged form is kept: it is a plain memcpy-like loop).

Other readers (QAdd, pools, ...) keep the staged QuantizeLinear / DequantizeLinear.

Then it sizes each fused node's `tile` (how much its kernel stages in its workspace) so
the workspace stays under `max-workspace` bytes, by default a quarter of the largest int8
activation (at least 64): small enough not to raise the arena, big enough that the kernel
calls the int8 kernels on large pieces. (A conv whose whole quantized input fits that
budget would take one band: the staged form, so it is not fused.)

It needs the interface to be final, so `tinyc.compiler.optimize` runs it after the
quantization stage (`--quantize`, `--io`), wherever it sits in the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import DType, Graph, Node, Value
from tinyc.ops import get_op
from tinyc.ops.qboundary import conv_workspace, gemm_workspace
from tinyc.ops.qint4 import packs_int4
from tinyc.ops.quant import conv_geometry
from tinyc.ops.registry import REQUIRED
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass

#: integer op -> its fused boundary op
FUSED = {"QConv": "QConvBoundary", "QGemm": "QGemmBoundary"}
#: smallest default workspace budget in bytes
MIN_BUDGET = 64


def _per_tensor_int8(v: Value) -> tuple[float, int] | None:
    q = v.type.quant
    if v.dtype is not DType.I8 or q is None or len(q.scale) != 1:
        return None
    return float(q.scale[0]), int(q.zero_point[0])


def _plain_boundary(node: Node) -> bool:
    """A Quantize/DequantizeLinear with constant per-tensor parameters, not blocked."""
    return not node.attrs.get("block_size") and all(
        v is None or v.const is not None for v in node.inputs[1:]
    )


def _replace(graph: Graph, old: Node, op: str, inputs: list[Value | None],
             outputs: list[Value], attrs: dict[str, object]) -> Node:
    """A new node in `old`'s place of the node list (old's inputs dropped)."""
    defaults = {k: a.default for k, a in get_op(op).attrs.items() if a.default is not REQUIRED}
    new = Node(op, [], [], {**defaults, **attrs}, name=old.name)
    old.drop_inputs()
    new.set_inputs(inputs)
    new.outputs = list(outputs)
    for i, out in enumerate(outputs):
        out.producer, out.index = new, i
    graph.nodes[graph.nodes.index(old)] = new
    return new


def _drop(graph: Graph, node: Node) -> None:
    node.drop_inputs()
    graph.nodes.remove(node)


def int8_activations(graph: Graph) -> list[Value]:
    """int8 tensors the arena holds: node outputs that are not graph outputs."""
    outputs = {id(v) for v in graph.outputs}
    return [o for n in graph.nodes for o in n.outputs
            if o.dtype is DType.I8 and id(o) not in outputs and o.const is None]


def workspace_budget(graph: Graph, max_workspace: int, leaving_out: Value | None = None) -> int:
    """Bytes a fused kernel may stage at once: `max_workspace`, or (0) a quarter of the
    largest int8 activation (`leaving_out`: a copy the fusion would remove)."""
    if max_workspace:
        return max_workspace
    largest = max((v.type.nbytes for v in int8_activations(graph) if v is not leaving_out),
                  default=0)
    return max(MIN_BUDGET, largest // 4)


def _one_band_is_the_copy(conv: Node, xq: Value, budget: int) -> bool:
    """A float-input conv that would run as one band staging the whole int8 input: the
    staged form (QuantizeLinear, then the plain QConv) has the same arena bytes and work,
    and keeps the boundary kernel's band loop off the stack of NAME_run."""
    oh = conv.outputs[0].shape[2]
    one_band = conv_workspace(conv, oh, True, False)
    return one_band <= budget and one_band >= xq.type.nbytes


def _fuse_input(graph: Graph, q: Node, max_workspace: int) -> bool:
    v, xq = q.inputs[0], q.outputs[0]
    if v is None or not any(v is i for i in graph.inputs) or not _plain_boundary(q):
        return False
    params = _per_tensor_int8(xq)
    users = xq.users()
    if params is None or len(xq.uses) != 1 or any(xq is o for o in graph.outputs):
        return False
    user = users[0]
    if user.op not in FUSED or xq.uses[0].index != 0 or packs_int4(user):
        return False  # (the boundary kernels call the int8-weight kernels)
    if user.op == "QConv" and conv_workspace(user, 1, True, False) > xq.type.nbytes:
        return False  # even one band needs more than the int8 copy: staging is smaller
    if user.op == "QConv" and _one_band_is_the_copy(
            user, xq, workspace_budget(graph, max_workspace, xq)):
        return False
    attrs = {**user.attrs, "x_quant": [params[0], float(params[1])], "y_quant": [], "tile": 1}
    _replace(graph, user, FUSED[user.op], [v, *user.inputs[1:]], list(user.outputs), attrs)
    _drop(graph, q)
    return True


def _fuse_output(graph: Graph, dq: Node) -> bool:
    yq, yf = dq.inputs[0], dq.outputs[0]
    if yq is None or not any(yf is o for o in graph.outputs) or not _plain_boundary(dq):
        return False
    params = _per_tensor_int8(yq)
    producer = yq.producer
    if params is None or producer is None or len(yq.uses) != 1:
        return False
    if any(yq is o for o in graph.outputs):
        return False
    fused = FUSED.get(producer.op, producer.op)
    if fused not in FUSED.values() or producer.attrs.get("y_quant") or packs_int4(producer):
        return False
    others = [v.type.nbytes for v in int8_activations(graph) if v is not yq]
    if yq.type.nbytes <= max(others, default=0):
        return False  # the int8 copy is not what sizes the arena: keep the plain kernel
    attrs = {"x_quant": [], "tile": 1, **producer.attrs, "y_quant": [params[0], float(params[1])]}
    inputs = list(producer.inputs)
    _replace(graph, producer, fused, inputs, [yf], attrs)
    _drop(graph, dq)
    return True


def _conv_tile(node: Node, budget: int) -> int:
    """Output rows per band (float input) or output channels per chunk (float output)."""
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    assert x is not None and w is not None
    g = conv_geometry(x.shape, w.shape, y.shape, node.attrs)
    m, oh, group = g[4], g[5], g[9]
    fin, fout = bool(node.attrs["x_quant"]), bool(node.attrs["y_quant"])
    if fin:
        if conv_workspace(node, oh, fin, fout) <= budget:
            return oh
        fits = [t for t in range(1, oh) if conv_workspace(node, t, fin, fout) <= budget]
        return max(fits, default=1)
    mg = m // group
    per_group = conv_workspace(node, mg, fin, fout)
    return mg * max(1, min(group, budget // max(per_group, 1)))


def _gemm_tiles(node: Node, budget: int) -> tuple[int, int]:
    """(stage, tile) of a QGemmBoundary under `budget` workspace bytes."""
    w = node.inputs[1]
    assert w is not None
    n, k = w.shape
    fin, fout = bool(node.attrs["x_quant"]), bool(node.attrs["y_quant"])
    stage = int(fin and gemm_workspace(node, True, 1, fin, fout) <= budget)
    room = budget - (k if stage else 0)
    return stage, max(1, min(n, room))


def retile(graph: Graph, budget: int) -> None:
    """Set `tile` (and `stage`) of every fused boundary node for `budget` bytes."""
    for node in graph.nodes:
        if node.op == "QConvBoundary":
            node.attrs["tile"] = _conv_tile(node, budget)
        elif node.op == "QGemmBoundary":
            node.attrs["stage"], node.attrs["tile"] = _gemm_tiles(node, budget)


@register_pass
@dataclass(frozen=True)
class FuseQBoundary(Pass):
    """Fuse the boundary QuantizeLinear / DequantizeLinear of a quantized graph into its
    first / last QConv or QGemm (see the module docstring)."""

    name = "fuse-qboundary"
    summary = "first/last int8 conv or fc reads the float input / writes the float output"
    max_workspace: int = 0
    """bytes a fused kernel may stage at once; 0: a quarter of the largest int8 activation"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        fused = 0
        for node in list(graph.nodes):
            if node.op == "QuantizeLinear" and _fuse_input(graph, node, self.max_workspace):
                fused += 1
        for node in list(graph.nodes):
            if node.op == "DequantizeLinear" and _fuse_output(graph, node):
                fused += 1
        if not fused:
            return PassResult(graph, False)
        graph.remove_unused_constants()
        retile(graph, workspace_budget(graph, self.max_workspace))
        ctx.count("fuse-qboundary:fused", fused)
        return PassResult(graph, True)
