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
The kernels widen each half to float32 and compute as the float op does (no float16
arithmetic), so the op's `reference` -- the float op on the rounded weights, which numpy
promotes to float32 -- is the semantics the C matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyc.ir import DType, Graph, Node, Value
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass

#: the recurrent ops, whose W, R and B tinyc_rnn_f32_f16w reads as halves
RECURRENT = ("RNN", "GRU", "LSTM")

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
        halves: dict[int, Value] = {}  # one float16 copy per float32 weight
        before = sum(c.type.nbytes for c in graph.constants if c.uses)
        count = 0
        for node in graph.nodes:
            if self.layers is not None and node.name not in self.layers:
                continue
            indices = half_weight_indices(node)
            weights = [node.inputs[i] for i in indices]
            for w in weights:
                assert w is not None and w.const is not None
                if id(w) not in halves:
                    data = to_half(w.const)
                    if data is not None:
                        halves[id(w)] = graph.add_const(graph.unique_name(f"{w.name}_f16"), data)
            if not all(id(w) in halves for w in weights):
                continue  # a weight would overflow: the node keeps its float32 ones
            for i, w in zip(indices, weights, strict=True):
                node.set_input(i, halves[id(w)])
            count += bool(indices)
        graph.remove_unused_constants()
        after = sum(c.type.nbytes for c in graph.constants if c.uses)
        if count:
            graph.metadata[FLOAT16_KEY] = (f"{count} node(s) read IEEE half weights; "
                                           f"constants {before} -> {after} B")
        ctx.count("quantize-float16", count)
        return PassResult(graph, count > 0)
