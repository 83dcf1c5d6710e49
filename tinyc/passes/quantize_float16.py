"""quantize-float16: weights stored as IEEE half in flash (`--quantize float16`).

Rule: the weight operand of every op that has a kernel reading half weights becomes a
float16 constant, rounded to nearest even (numpy's `astype(float16)`); everything else
stays float32:

- Conv (any rank, grouped and depthwise) and ConvTranspose: W;
- Gemm: B (A a float32 activation);
- MatMul: a constant B of rank >= 2 (A a float32 activation);
- RNN, GRU, LSTM: W, R and the bias B when there is one (X float32).

Those weights are O(channels^2) and hold nearly all of a model's flash. The recurrent
bias is O(channels) too, but a recurrent layer has few weights per bias (its 8 gate biases
per unit were 4 % of digits_lstm's weights), so it goes half with them. The biases of the
other ops and the constants of elementwise and normalization ops stay float32 (each bias
is added once, unaveraged, to an output), as do weights a half would turn into infinity
(|w| > 65504: the node keeps its float32 weights).

Small layers stay float32 (`--quantize float16` on the whole model, not the per-layer
precision of `--layer-precision`/`auto`, which says which layers are half): the nodes are
taken smallest weights first (ties in graph order), and each keeps its float32 weights
while the model's constants stay within FLOAT32_SHARE of float32's; the first that does
not fit ends the walk. In a deep network the smallest layers are its narrow first ones,
whose rounding errors pass through every later layer: on the random-weight MobileNet
(vww_mobilenet) its five most sensitive layers are among its six smallest, and keeping
those six float32 (2.3 KB) cuts the output error 4x (median over 16 inputs).

The kernels widen each half to float32 and compute as the float op does (no float16
arithmetic), so the op's `reference` -- the float op on the rounded weights, which numpy
promotes to float32 -- is the semantics the C matches (a kept layer is simply float).
The pass runs once: a graph with its metadata key is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyc.ir import DType, Graph, Node, Value
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass

#: the recurrent ops, whose W, R and B tinyc_rnn_f32_f16w reads as halves
RECURRENT = ("RNN", "GRU", "LSTM")

#: the share of float32's constant bytes the small float32 layers may fill up to (0.52x
#: is the bound issue 15 sets for the weights' flash; the rest is the C's alignment)
FLOAT32_SHARE = 0.51

#: graph metadata key the pass records what it did under (shown in NAME.c's header)
FLOAT16_KEY = "tinyc float16 weights"


def _float_consts(node: Node, indices: tuple[int, ...]) -> bool:
    values = [node.input(i) for i in indices]
    return all(v is not None and v.const is not None and v.dtype is DType.F32 for v in values)


def half_weight_indices(node: Node) -> tuple[int, ...]:
    """The indices of the node's weight operands that its half-weight kernel reads (all of
    them or none)."""
    x = node.inputs[0] if node.inputs else None
    if x is None or x.dtype is not DType.F32:
        return ()
    if node.op in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
        indices: tuple[int, ...] = (1,)
        if node.op == "MatMul" and len(node.inputs) > 1 and node.inputs[1] is not None \
                and node.inputs[1].type.rank < 2:
            return ()
    elif node.op in RECURRENT:
        indices = (1, 2, 3) if node.input(3) is not None else (1, 2)
    else:
        return ()
    return indices if _float_consts(node, indices) else ()


def to_half(data: np.ndarray) -> np.ndarray | None:
    """`data` rounded to IEEE half (nearest even), or None when a finite value overflows."""
    with np.errstate(over="ignore"):
        half = data.astype(np.float16)
    if np.any(np.isinf(half) & np.isfinite(data)):
        return None
    return half


def small_layers_kept(nodes: list[Node], halves: dict[int, np.ndarray], before: int) -> set[int]:
    """ids of the nodes that keep float32 weights (the module docstring's rule): `nodes`
    would all read the half copies in `halves` (by id of the float32 weight), `before` is
    the float32 model's constant bytes."""
    def weights(node: Node) -> list[Value]:
        return [v for i in half_weight_indices(node) if (v := node.inputs[i]) is not None]

    saved = {id(w): w.type.nbytes - halves[id(w)].nbytes for n in nodes for w in weights(n)}
    after = before - sum(saved.values())
    order = sorted(range(len(nodes)),
                   key=lambda k: (sum(w.type.numel for w in weights(nodes[k])), k))
    kept: set[int] = set()
    for k in order:
        cost = sum(saved.pop(id(w), 0) for w in weights(nodes[k]))
        if after + cost > FLOAT32_SHARE * before:
            break
        after += cost
        kept.add(id(nodes[k]))
    return kept


@register_pass
@dataclass(frozen=True)
class QuantizeFloat16(Pass):
    """Store the weights of Conv, ConvTranspose, Gemm, MatMul, RNN, GRU and LSTM as float16
    (see the module docstring).
    Needs no data; ops it cannot serve keep their float32 weights."""

    name = "quantize-float16"
    summary = "float16 weights in flash, float32 arithmetic (--quantize float16)"
    layers: frozenset[str] | None = None
    """only the nodes of these names (per-layer precision float16, `tinyc.quant.driver`);
    None: every node"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if FLOAT16_KEY in graph.metadata:  # ran already: its float32 layers are its choice
            return PassResult(graph, False)
        data: dict[int, np.ndarray | None] = {}  # the half of each float32 weight
        served = []  # the nodes whose weights all have a half
        for node in graph.nodes:
            if self.layers is not None and node.name not in self.layers:
                continue
            weights = [node.inputs[i] for i in half_weight_indices(node)]
            for w in weights:
                assert w is not None and w.const is not None
                if id(w) not in data:
                    data[id(w)] = to_half(w.const)
            # a weight would overflow: the node keeps its float32 ones
            if weights and all(data[id(w)] is not None for w in weights):
                served.append(node)
        halves = {k: v for k, v in data.items() if v is not None}
        before = sum(c.type.nbytes for c in graph.constants if c.uses)
        kept = small_layers_kept(served, halves, before) if self.layers is None else set()
        copies: dict[int, Value] = {}  # one float16 constant per float32 weight
        count = 0
        for node in served:
            if id(node) in kept:
                continue
            for i in half_weight_indices(node):
                w = node.inputs[i]
                assert w is not None
                if id(w) not in copies:
                    copies[id(w)] = graph.add_const(graph.unique_name(f"{w.name}_f16"),
                                                    halves[id(w)])
                node.set_input(i, copies[id(w)])
            count += 1
        graph.remove_unused_constants()
        after = sum(c.type.nbytes for c in graph.constants if c.uses)
        if count:
            graph.metadata[FLOAT16_KEY] = (f"{count} node(s) read IEEE half weights, "
                                           f"{len(kept)} small one(s) keep float32; "
                                           f"constants {before} -> {after} B")
        ctx.count("quantize-float16", count)
        return PassResult(graph, count > 0)
