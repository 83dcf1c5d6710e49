"""band-rows: run chains of int8 convolutions and residual adds row by row (`QBanded`),
where that lowers the arena.

On ResNet-style int8 models the arena peak is a residual block of the first, largest
stage: its input x, the first conv's output and the second's are whole 16 KB tensors side
by side. Run in row bands (MCUNetV2's patch-based inference, by rows), each intermediate
only needs a ring of a few rows (`tinyc.ops.bands`), and no row is computed twice; the
cost is copying each conv's input rows into a band and one kernel call per row.

Candidates are runs of consecutive nodes that are all int8 NCHW batch-1 QConv (constant
weights) or same-shape QAdd, possibly ending with a whole-plane average pool (then only
per-channel sums are kept, not the pool's input), of one `semantics`, whose every result
but the last is read only inside the run. Each round fuses the candidate whose memory plan
(`plan_memory`) has the smallest arena, fewest layers on ties, as long as that arena is
smaller than the current one (only runs that touch the current peak step are tried); so
nothing changes where banding does not lower the peak. Convs with output rows narrower
than `min_width` pixels are left alone (their per-row kernel calls are slow);
`band-rows{min-width=1}` bands them too, for the smallest RAM.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tinyc.ir import DType, Graph, Node, Value
from tinyc.memory import ArenaPlan, plan_memory
from tinyc.ops.qbanded import POOLS, band_rows, chain_steps, layer_fields, members
from tinyc.ops.qint4 import packs_int4
from tinyc.ops.qwork import QCONV_PAIRS
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass
from tinyc.quant import semantics

#: longest run tried (the candidates grow with its square)
MAX_LAYERS = 16
#: a narrow chain's step covers at least min_width * BAND_CALLS pixels a kernel call
BAND_CALLS = 6


def _activations(node: Node) -> list[Value]:
    return [v for v in node.inputs[: 2 if node.op == "QAdd" else 1] if v is not None]


def _nchw1(v: Value) -> bool:
    return v.type.rank == 4 and v.shape[0] == 1 and v.dtype is DType.I8


def bandable(node: Node) -> bool:
    """A layer `QBanded` can run: int8 NCHW batch-1 QConv with constant weights (bias
    constant or absent), QAdd of two computed tensors of the output's shape, or a
    whole-plane average pool."""
    y = node.outputs[0]
    if node.op == "QConv":
        x, w, b = node.inputs[0], node.input(1), node.input(2)
        return (x is not None and x.const is None and _nchw1(x) and _nchw1(y)
                and w is not None and w.const is not None and (b is None or b.const is not None)
                and not packs_int4(node))  # the band's kernels read int8 weights
    if node.op == "QAdd":
        a, b = node.inputs[0], node.input(1)
        return (a is not None and b is not None and a.const is None and b.const is None
                and a.shape == b.shape == y.shape and _nchw1(y))
    if node.op in POOLS:
        return _whole_plane_pool(node)
    return False


def _whole_plane_pool(node: Node) -> bool:
    """A global average pool, or an average pool whose one window is the whole plane, in
    an arithmetic the banded pool shares (the int32 sum, then one requantization)."""
    x = node.inputs[0]
    if x is None or x.const is not None or not _nchw1(x):
        return False
    if node.op == "QGlobalAveragePool":
        return semantics.of(node) in (semantics.FIXEDPOINT, semantics.ONNXRUNTIME,
                                      semantics.TFLITE)
    a = node.attrs
    return (semantics.of(node) in (semantics.FIXEDPOINT, semantics.TFLITE)
            and list(a["kernel_shape"]) == list(x.shape[2:]) and not any(a["pads"])
            and all(d == 1 for d in a["dilations"])
            and node.outputs[0].shape[2:] == (1, 1))


def narrow(node: Node, min_width: int) -> bool:
    """A conv whose output rows are narrower than `min_width` pixels."""
    return node.op == "QConv" and node.outputs[0].shape[3] < min_width


def candidates(graph: Graph, min_width: int = 1) -> list[list[Node]]:
    """Runs of consecutive bandable nodes of two or more layers whose results, but the
    last, are read only inside the run, and whose convs are all at least `min_width` wide
    (banded a row at a time) or all narrower (banded several rows a step, `rows_for`)."""
    outputs = {id(v) for v in graph.outputs}
    nodes = graph.nodes
    found = []
    for i in range(len(nodes)):
        for j in range(i + 1, min(i + MAX_LAYERS, len(nodes))):
            run = nodes[i : j + 1]
            if not all(bandable(n) for n in run) or run[-2].op in POOLS:
                break
            if len({narrow(n, min_width) for n in run if n.op == "QConv"}) > 1:
                break
            if len({semantics.of(n) for n in run}) != 1:
                break
            inside = {id(n) for n in run}
            if all(id(n.outputs[0]) not in outputs
                   and all(id(u.node) in inside for u in n.outputs[0].uses) for n in run[:-1]):
                found.append(run)
    return found


def band_height(graph: Graph, run: list[Node], min_width: int) -> int:
    """Output rows a step of `run` computes: 1, or for convs narrower than `min_width`
    (each step costs the kernels' per-call setup, each row more the window's RAM) enough
    rows that each kernel call covers at least `min_width` * BAND_CALLS pixels, then the
    fewest rows that still run every layer in that many steps (the later layers of a chain
    trail the first by their windows' overlap: KWS, 25 rows of 5 pixels: 3 steps of 10
    rows); 0 when `run` is no plain chain (`bands.chain_schedule`)."""
    convs = [n.outputs[0].shape for n in run if n.op == "QConv"]
    width = min((shape[3] for shape in convs), default=min_width)
    if width >= min_width:
        return 1
    height = max(shape[2] for shape in convs)
    steps = -(-height // min(-(-min_width * BAND_CALLS // width), height))
    for rows in range(-(-height // steps), height + 1):
        trial = fuse(graph, run, rows)
        chain = chain_steps(members(trial.node), rows)
        trial.undo()
        if chain is None:
            return 0
        if max(Counter(s.layer for s in chain).values()) <= steps:
            return rows
    return height


def plain_chain(node: Node) -> bool:
    """Whether the multi-row form can run `node` (`bands.chain_schedule`)."""
    return chain_steps(members(node), band_rows(node)) is not None


@dataclass
class Fusion:
    """A run replaced by one QBanded node, undoable."""

    graph: Graph
    run: list[Node]
    node: Node
    saved: list[list[Value | None]]
    order: list[Node]

    def undo(self) -> None:
        self.node.drop_inputs()
        for n, inputs in zip(self.run, self.saved):
            n.set_inputs(inputs)
        out = self.run[-1].outputs[0]
        out.producer, out.index = self.run[-1], 0
        self.graph.nodes = self.order


def fuse(graph: Graph, run: list[Node], rows: int = 1) -> Fusion:
    """Replace `run` (a candidate) by one QBanded node computing `rows` output rows a
    step."""
    inside = {id(n.outputs[0]): k for k, n in enumerate(run)}
    externals: list[Value] = []
    for n in run:
        for v in _activations(n):
            if id(v) not in inside and all(v is not e for e in externals):
                externals.append(v)

    def index(v: Value) -> int:
        if id(v) in inside:
            return len(externals) + inside[id(v)]
        return next(i for i, e in enumerate(externals) if e is v)

    fields: list[int] = []
    consts: list[Value | None] = []
    for n in run:
        fields += layer_fields(n, [index(v) for v in _activations(n)])
        if n.op == "QConv":
            consts += [n.inputs[1], n.input(2)]
    quants = [n.outputs[0].type.quant for n in run]
    attrs = {"n_inputs": len(externals), "layers": fields,
             "scales": [float(q.scale[0]) for q in quants if q is not None],
             "zero_points": [int(q.zero_point[0]) for q in quants if q is not None],
             semantics.ATTR: semantics.of(run[0])}
    if rows > 1:
        attrs["band_rows"] = rows
    order = list(graph.nodes)
    saved = [list(n.inputs) for n in run]
    fused = Node("QBanded", [*externals, *consts], [run[-1].outputs[0]], attrs,
                 name=run[-1].name)
    for n in run:
        n.drop_inputs()
    at = graph.nodes.index(run[0])
    graph.nodes = [*order[:at], fused, *order[at + len(run):]]
    return Fusion(graph, run, fused, saved, order)


def at_peak(graph: Graph, plan: ArenaPlan, run: list[Node]) -> bool:
    """Whether `run` holds the node at the plan's peak step or a producer or reader of a
    buffer live there: a run that does not leaves the peak's bytes as they are."""
    if plan.stats.peak_step < 0:
        return True
    peak = graph.nodes[plan.node_order(len(graph.nodes))[plan.stats.peak_step]]
    live = set(plan.stats.peak_buffers)
    return any(n is peak or any(v is not None and v.name in live for v in [*n.inputs, *n.outputs])
               for n in run)


def plan(graph: Graph) -> ArenaPlan:
    return plan_memory(graph, align=8)


#: cores whose kernels pay per call more than a narrow chain's rows save: the Helium
#: kernels set up gathers and tap masks per call (KWS int8 on the Cortex-M55: 0.51 ->
#: 0.70 instructions per MAC banded 10 rows a step), so narrow chains stay whole planes
#: there unless `band-rows{rows=N}` asks
WHOLE_PLANE_TARGETS = frozenset({"cortex-m55"})


@register_pass
@dataclass(frozen=True)
class BandRows(Pass):
    """Fuse int8 conv/add chains into row-banded QBanded nodes where that lowers the
    arena (see the module docstring)."""

    name = "band-rows"
    summary = "run int8 conv/add chains row by row where that lowers the arena"
    min_width: int = 2 * QCONV_PAIRS
    """narrowest conv output row (pixels) to band: each row is one call of the conv kernel,
    and the Cortex-M4 kernel reuses each weight over 2 * QCONV_PAIRS pixels, so narrower
    rows run far slower (the KWS DS-CNN, 5 wide: 2.2x the instructions a row at a time);
    chains of narrower convs are banded several rows a step (`rows_for`)"""
    rows: int = 0
    """output rows a step of a narrow chain computes (0: `rows_for` chooses)"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if not any(n.op == "QConv" for n in graph.nodes):
            return PassResult(graph, False)
        current = plan(graph)
        fused = 0
        while True:
            choice: tuple[int, int, list[Node], int] | None = None
            for run in candidates(graph, self.min_width):
                if not at_peak(graph, current, run):
                    continue
                rows = band_height(graph, run, self.min_width)
                if rows > 1 and ctx.target in WHOLE_PLANE_TARGETS and not self.rows:
                    continue
                if rows > 1 and self.rows:
                    rows = self.rows
                if not rows:
                    continue
                trial = fuse(graph, run, rows)
                size = plan(graph).size if rows == 1 or plain_chain(trial.node) else None
                trial.undo()
                if size is not None and size < current.size and (
                        choice is None or (size, len(run)) < choice[:2]):
                    choice = (size, len(run), run, rows)
            if choice is None:
                break
            fuse(graph, choice[2], choice[3])
            current = plan(graph)
            fused += len(choice[2])
        if not fused:
            return PassResult(graph, False)
        ctx.count("band-rows:layers", fused)
        return PassResult(graph, True)
