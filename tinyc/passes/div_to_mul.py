"""div-to-mul: a float division by a constant becomes a multiplication by its reciprocal."""

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
    Var,
    all_of,
    is_float32,
)

_SMALLEST_NORMAL = float(np.finfo(np.float32).tiny)


def reciprocal(c: np.ndarray) -> np.ndarray | None:
    """float32 1/c when multiplying by it is as good as dividing by c (see `DivToMul`),
    else None: a zero, infinite or NaN divisor, or a reciprocal that overflows or loses
    precision as a subnormal without being exact."""
    c64 = np.asarray(c, np.float64)
    if c64.size == 0 or not np.all(np.isfinite(c64)) or np.any(c64 == 0):
        return None
    with np.errstate(over="ignore", under="ignore"):
        r = (1.0 / c64).astype(np.float32)
    r64 = r.astype(np.float64)
    if not np.all(np.isfinite(r)):
        return None
    exact = r64 * c64 == 1.0
    if np.any((np.abs(r64) < _SMALLEST_NORMAL) & ~exact):
        return None
    return r


class DivByConstant(Rule):
    """``Div(x, c) -> Mul(x, 1/c)`` for a float32 constant c (fused activation kept)."""

    pattern = Op("Div", Var("x"), Const("c"))

    def check(self, graph: Graph, m: Match) -> MatchResult:
        c = m.value("c")
        result = all_of(is_float32(m.root.outputs[0]), is_float32(c))
        if not result:
            return result
        assert c.const is not None
        if reciprocal(c.const) is None:
            return MatchResult.fail(f"1/%{c.name} is not a usable float32 (zero, overflow, "
                                    "inexact subnormal)")
        return OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        c, y = m.value("c"), m.root.outputs[0]
        r = reciprocal(c.const)  # type: ignore[arg-type]
        assert r is not None
        inverse = rw.const(c.name + "_reciprocal", r.reshape(c.shape))
        new = rw.add("Mul", [m.value("x"), inverse], dict(m.root.attrs), before=m.root,
                     name=m.root.name, hint=y.name + "_mul")
        rw.replace(y, new)


RULES = RuleSet([DivByConstant()])


@register_pass
@dataclass(frozen=True)
class DivToMul(RewritePass):
    """Turn ``x / c`` with a float32 constant c into ``x * (1/c)``: a multiply is cheaper
    than a divide on every core, an int8 build has a QMul kernel and no integer Div (a
    float Div there stays a float island), and the exporter patterns below it (Paddle's
    HardSwish ``... / 6``) become the Mul trees `recognize-activations` reads.

    Numerics: when c is a power of two (and 1/c is a float32), x * (1/c) and x / c are the
    same real number, so both round to the same float32: bit-identical, overflow and
    underflow included. Otherwise 1/c is rounded once (relative error <= 2^-24) before the
    product is rounded, so the result is within about one ulp (relative 1.2e-7) of the
    correctly rounded quotient.

    Preconditions: none. Refuses integer (and non-float32) division, a run-time divisor, a
    zero, infinite or NaN divisor, and a divisor whose reciprocal overflows or would be an
    inexact subnormal.
    """

    name = "div-to-mul"
    summary = "Div(x, constant) -> Mul(x, 1/constant) (exact for powers of two)"

    def rules(self) -> RuleSet:
        return RULES
