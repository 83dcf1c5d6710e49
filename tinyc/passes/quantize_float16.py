"""quantize-float16: weights stored as IEEE half in flash (`--quantize float16`).

Rule: the weight operand of every op that has a kernel reading half weights becomes a
float16 constant, rounded to nearest even (numpy's `astype(float16)`); everything else
stays float32:

- Conv (1-D and 2-D, grouped and depthwise): W;
- Gemm: B (A a float32 activation);
- MatMul: a constant B of rank >= 2 (A a float32 activation).

Those weights are O(channels^2) and hold nearly all of a model's flash; biases and the
constants of other ops (elementwise, normalization) are O(channels) and stay float32, as
do weights a half would turn into infinity (|w| > 65504: the tensor keeps its float32).
The kernels widen each half to float32 and compute as the float op does (no float16
arithmetic), so the op's `reference` -- the float op on the rounded weights, which numpy
promotes to float32 -- is the semantics the C matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyc.ir import DType, Graph, Node, Value
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass

#: graph metadata key the pass records what it did under (shown in NAME.c's header)
FLOAT16_KEY = "tinyc float16 weights"


def half_weight_index(node: Node) -> int | None:
    """The index of the node's weight operand that a half-weight kernel can read, or None."""
    x = node.inputs[0] if node.inputs else None
    w = node.inputs[1] if len(node.inputs) > 1 else None
    if x is None or w is None or x.dtype is not DType.F32 or w.const is None:
        return None
    if w.dtype is not DType.F32:
        return None
    if node.op == "Conv" and x.type.rank in (3, 4):
        return 1
    if node.op == "Gemm" or (node.op == "MatMul" and w.type.rank >= 2):
        return 1
    return None


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
    """Store the weights of Conv, Gemm and MatMul as float16 (see the module docstring).
    Needs no data; ops it cannot serve keep their float32 weights."""

    name = "quantize-float16"
    summary = "float16 weights in flash, float32 arithmetic (--quantize float16)"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        halves: dict[int, Value] = {}  # one float16 copy per float32 weight
        before = sum(c.type.nbytes for c in graph.constants if c.uses)
        count = 0
        for node in graph.nodes:
            index = half_weight_index(node)
            if index is None:
                continue
            w = node.inputs[index]
            assert w is not None and w.const is not None
            half = halves.get(id(w))
            if half is None:
                data = to_half(w.const)
                if data is None:
                    continue
                half = graph.add_const(graph.unique_name(f"{w.name}_f16"), data)
                halves[id(w)] = half
            node.set_input(index, half)
            count += 1
        graph.remove_unused_constants()
        after = sum(c.type.nbytes for c in graph.constants if c.uses)
        graph.metadata[FLOAT16_KEY] = (f"{len(halves)} weight tensor(s) as IEEE half; "
                                       f"constants {before} -> {after} B")
        ctx.count("quantize-float16", count)
        return PassResult(graph, count > 0)
