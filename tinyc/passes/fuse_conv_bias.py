"""fuse-conv-bias: a per-channel constant added after a Conv becomes the Conv's bias."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyc.ir import Graph
from tinyc.passes.base import register_pass
from tinyc.passes.rewrite import (
    OK,
    Const,
    Match,
    MatchResult,
    Op,
    RewritePass,
    Rewriter,
    Rule,
    RuleSet,
    all_of,
    is_float32,
    move_activation,
    no_activation,
    single_use,
)


def channel_vector(c: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray | None:
    """`c` as a [M] vector when adding it to an [N, M, ...] tensor is per-channel."""
    rank = len(out_shape)
    if c.ndim > rank:
        return None
    full = (1,) * (rank - c.ndim) + c.shape
    if any(d != 1 for i, d in enumerate(full) if i != 1):
        return None
    return np.broadcast_to(c.reshape(full[1]), (out_shape[1],))


class AddIntoConvBias(Rule):
    """``Add(Conv(x, w, b), c) -> Conv(x, w, b + c)`` for c of shape [M, 1, 1], [1, M, 1, 1],
    [1] or any other per-channel broadcast; an activation fused into the Add moves to the
    Conv."""

    pattern = Op("Add", Op("Conv", name="conv"), Const("c"), commute=True)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        conv, c = m.node("conv"), m.value("c")
        y = conv.outputs[0]
        result = all_of(single_use(graph, y), no_activation(conv), is_float32(y))
        if not result:
            return result
        if m.root.outputs[0].shape != y.shape:
            return MatchResult.fail("the Add broadcasts the Conv result to a bigger shape")
        assert c.const is not None
        if channel_vector(c.const, y.shape) is None:
            return MatchResult.fail(f"%{c.name} {list(c.shape)} is not per-channel")
        b = conv.input(2)
        if b is not None and b.const is None:
            return MatchResult.fail(f"bias %{b.name} is not a constant")
        return OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        conv, c = m.node("conv"), m.value("c")
        y = conv.outputs[0]
        vec = channel_vector(c.const, y.shape)  # type: ignore[arg-type]
        assert vec is not None
        b = conv.input(2)
        old = np.zeros(y.shape[1], np.float32) if b is None else b.const
        bias = (old + vec).astype(np.float32)  # type: ignore[operator]
        rw.set_input(conv, 2, rw.const((b.name if b is not None else y.name) + "_bias", bias))
        move_activation(rw, m.root, conv)
        rw.replace(m.root.outputs[0], y)


RULES = RuleSet([AddIntoConvBias()])


@register_pass
@dataclass(frozen=True)
class FuseConvBias(RewritePass):
    """Fold an Add of a per-channel constant after a Conv into the Conv's bias (created if
    absent), so the add costs nothing at run time.

    Preconditions: none. Refuses when the Conv result has another use or is a graph output,
    when the Conv already has a fused activation (the add would come after it), when the
    constant is not per-channel or the Add broadcasts to a bigger shape, when the existing
    bias is computed at run time, and for non-float32 tensors. Float rounding changes
    (b + c is rounded once instead of adding each term separately).
    """

    name = "fuse-conv-bias"
    summary = "Conv + Add(per-channel constant) -> Conv with bias"

    def rules(self) -> RuleSet:
        return RULES
