"""recognize-activations: HardSwish and Swish written out by exporters become the ops.

The legacy torch exporter (opset < 14) writes hardswish as ``x * HardSigmoid(x)`` with
alpha = 1/6, beta = 0.5; Paddle writes ``x * Clip(x + 3, 0, 6) / 6``; others write
``x * Relu6(x + 3) * (1/6)`` or ``x * Sigmoid(x)`` (SiLU before opset 24's Swish). Each is
one product of x, a *gate* computed from x, and scalar constants. A gate is read as

    hard gate:     clip(a*x + b, lo, hi)   (Clip / Relu / Min / Max / HardSigmoid over an
                                            affine chain of Add / Sub / Mul / Div by scalars)
    sigmoid gate:  sigmoid(a*x)

so that ``x * k * clip(a*x + b, 0, hi)`` is HardSwish exactly when k*a = 1/6, k*b = 1/2 and
k*hi = 1, and ``x * sigmoid(a*x)`` is Swish{alpha=a}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tinyc.ir import Graph, Node, Value
from tinyc.passes.base import register_pass
from tinyc.passes.rewrite import (
    OK,
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
    is_output,
    no_activation,
)
from tinyc.quant.lower import fused_clamp

#: relative tolerance on the constants: float32 spellings of 1/6 (and 6 * (1/6)) differ
#: from the real numbers by a few 1e-8
_REL = 1e-6
#: bound on the factors of one product tree (exporter patterns have three)
_MAX_FACTORS = 6


def scalar(v: Value | None) -> float | None:
    """The value of a one-element constant, else None."""
    if v is None or v.const is None or v.const.size != 1:
        return None
    return float(v.const.reshape(-1)[0])


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL)


@dataclass
class Product:
    """A tree of single-use Muls flattened: the non-constant factors, the product of the
    scalar constant factors, and the inner Mul nodes (the root excluded)."""

    factors: list[Value] = field(default_factory=list)
    scale: float = 1.0
    inner: list[Node] = field(default_factory=list)


def flatten_product(graph: Graph, root: Node) -> Product | None:
    """The factors of `root` (a Mul), through inner float Muls of the same shape that only
    feed this tree; None when a factor broadcasts or there are too many."""
    shape = root.outputs[0].shape
    product = Product()
    stack = list(reversed(root.inputs))
    while stack:
        v = stack.pop()
        if v is None:
            return None
        k = scalar(v)
        if k is not None:
            product.scale *= k
            continue
        node = v.producer
        if (node is not None and node.op == "Mul" and len(v.uses) == 1
                and not is_output(graph, v) and not node.attrs.get("activation")
                and v.shape == shape):
            product.inner.append(node)
            stack.extend(reversed(node.inputs))
            continue
        if v.shape != shape:
            return None
        product.factors.append(v)
        if len(product.factors) > _MAX_FACTORS:
            return None
    return product


@dataclass
class Gate:
    """``clip(a*x + b, lo, hi)`` (kind "hard") or ``sigmoid(a*x + b)`` (kind "sigmoid")."""

    kind: str
    a: float = 1.0
    b: float = 0.0
    lo: float = -math.inf
    hi: float = math.inf


def _clamp_bounds(node: Node) -> tuple[Value, float, float] | None:
    """(input, lo, hi) when `node` clamps one value to constant bounds."""
    if node.op == "Relu":
        return node.inputs[0], 0.0, math.inf  # type: ignore[return-value]
    if node.op == "Clip":
        if any(v is not None for v in node.inputs[1:]):
            return None
        return node.inputs[0], float(node.attrs["min"]), float(node.attrs["max"])  # type: ignore[return-value]
    if node.op in ("Min", "Max") and len(node.inputs) == 2:
        for i in (0, 1):
            c = scalar(node.inputs[1 - i])
            if c is not None and node.inputs[i] is not None and node.inputs[i].const is None:  # type: ignore[union-attr]
                lo, hi = (-math.inf, c) if node.op == "Min" else (c, math.inf)
                return node.inputs[i], lo, hi  # type: ignore[return-value]
    return None


def _affine_step(node: Node, gate: Gate, fused_ok: bool = False) -> Value | None:
    """Fold one ``u op c`` (Add, Sub, Mul, Div by a scalar c) into the gate's a*u + b;
    the operand u, or None when `node` is no such step. A fused activation is refused
    unless the caller has read it (`fused_ok`)."""
    if node.op not in ("Add", "Sub", "Mul", "Div") or (
            node.attrs.get("activation") and not fused_ok):
        return None
    u, other = node.inputs[0], node.inputs[1]
    c = scalar(other)
    if c is None and node.op in ("Add", "Mul"):
        u, other = other, u
        c = scalar(other)
    if c is None or u is None or u.const is not None:
        return None
    if node.op == "Add":
        gate.b += gate.a * c
    elif node.op == "Sub":
        gate.b -= gate.a * c
    elif node.op == "Mul":
        gate.a *= c
    elif c != 0:
        gate.a /= c
    else:
        return None
    return u


def read_gate(gate_value: Value, x: Value) -> Gate | None:
    """`gate_value` as a function of `x` (see the module docstring), or None."""
    gate = Gate("hard")
    cur = gate_value
    while cur.producer is not None and (bounds := _clamp_bounds(cur.producer)) is not None:
        cur, lo, hi = bounds
        gate.lo, gate.hi = max(gate.lo, lo), min(gate.hi, hi)
    node = cur.producer
    if node is None:
        return None
    if node.op == "HardSigmoid":
        gate.lo, gate.hi = max(gate.lo, 0.0), min(gate.hi, 1.0)
        gate.a, gate.b = float(node.attrs["alpha"]), float(node.attrs["beta"])
        cur = node.inputs[0]  # type: ignore[assignment]
    elif node.op == "Sigmoid":
        if gate.lo != -math.inf or gate.hi != math.inf:
            return None
        gate.kind = "sigmoid"
        cur = node.inputs[0]  # type: ignore[assignment]
    elif (fused := fused_clamp(node)) is not None and node.op in ("Add", "Sub", "Mul", "Div"):
        gate.lo, gate.hi = max(gate.lo, fused[0]), min(gate.hi, fused[1])
        step = _affine_step(node, gate, fused_ok=True)
        if step is None:
            return None
        cur = step
    elif gate.lo == -math.inf and gate.hi == math.inf:
        return None
    while cur is not x:
        if cur.producer is None or cur.shape != x.shape:
            return None
        step = _affine_step(cur.producer, gate)
        if step is None:
            return None
        cur = step
    return gate


def replacement(gate: Gate, scale: float) -> tuple[str, dict[str, float]] | None:
    """The op (and attributes) equal to ``x * scale * gate(x)``, if there is one."""
    if gate.kind == "sigmoid":
        if _close(scale, 1.0) and gate.b == 0.0 and gate.a != 0.0:
            return "Swish", {"alpha": gate.a}
        return None
    if scale <= 0 or gate.lo != 0.0:
        return None
    if _close(scale * gate.a, 1 / 6) and _close(scale * gate.b, 0.5) and _close(
            scale * gate.hi, 1.0):
        return "HardSwish", {}
    return None


@dataclass
class Recognized:
    x: Value
    op: str
    attrs: dict[str, float]
    inner: list[Node]
    gate: Value


def recognize(graph: Graph, root: Node) -> Recognized | MatchResult:
    product = flatten_product(graph, root)
    if product is None:
        return MatchResult.fail("a factor broadcasts, or too many factors")
    if len(product.factors) != 2:
        return MatchResult.fail(f"{len(product.factors)} non-constant factors, not x and a gate")
    for x, g in (product.factors, product.factors[::-1]):
        gate = read_gate(g, x)
        if gate is None:
            continue
        found = replacement(gate, product.scale)
        if found is not None:
            return Recognized(x, found[0], found[1], product.inner, g)
    return MatchResult.fail("no factor is a HardSwish or Swish gate of the other")


class GatedProduct(Rule):
    """``x * HardSigmoid{1/6, 1/2}(x) -> HardSwish(x)``, ``x * Clip(x + 3, 0, 6) / 6 ->
    HardSwish(x)`` (any association, operand order, ``* (1/6)``, Relu6 spellings), and
    ``x * Sigmoid(a*x) -> Swish{alpha=a}(x)``."""

    pattern = Op("Mul", Var(), Var())

    def check(self, graph: Graph, m: Match) -> MatchResult:
        result = all_of(is_float32(m.root.outputs[0]), no_activation(m.root))
        if not result:
            return result
        found = recognize(graph, m.root)
        return found if isinstance(found, MatchResult) else OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        found = recognize(graph, m.root)
        assert isinstance(found, Recognized)
        y = m.root.outputs[0]
        new = rw.add(found.op, [found.x], found.attrs, before=m.root, name=m.root.name,
                     hint=y.name + "_" + found.op.lower())
        rw.replace(y, new)
        rw.erase_if_dead(m.root)
        for node in found.inner:
            rw.erase_if_dead(node)
        _erase_dead_chain(rw, found.gate, found.x)


def _erase_dead_chain(rw: Rewriter, v: Value, stop: Value) -> None:
    """Erase the gate's nodes, from `v` back to `stop`, as they lose their last user."""
    while v is not stop and v.producer is not None:
        node = v.producer
        operand = next((u for u in node.inputs if u is not None and u.const is None), None)
        rw.erase_if_dead(node)
        if id(node) not in rw.erased or operand is None:
            return
        v = operand


RULES = RuleSet([GatedProduct()])


@register_pass
@dataclass(frozen=True)
class RecognizeActivations(RewritePass):
    """Rewrite HardSwish and SiLU/Swish written out as products into the HardSwish and
    Swish ops, so `fuse-activation` can fuse HardSwish into its producer (the clean
    export's code and arena) and an int8 build gets one lookup-table kernel instead of a
    float gate and an int8 Mul. The forms read are in the module docstring; a gate with
    other constants (``x * HardSigmoid{0.2, 0.5}(x)``) is left as the gated product it is.

    Numerics: HardSwish computes x * clip(x/6 + 1/2, 0, 1) in float32, Swish
    x / (1 + exp(-a x)). The legacy torch form is the same formula (bit-identical); the
    Paddle form rounds differently (x + 3, then / 6): the difference is below |x| * 2^-22
    (measured: at most 1.9e-7 |x|), far inside rtol 1e-4 / atol 1e-5.

    Preconditions: none. Refuses a product whose factors broadcast, whose Muls have a fused
    activation or feed other nodes (inner ones), non-float32 values, and constants that
    differ from 1/6, 1/2, 3, 6 (in whatever combination) by more than a relative 1e-6.
    """

    name = "recognize-activations"
    summary = "x*HardSigmoid(x), x*Clip(x+3,0,6)/6 -> HardSwish; x*Sigmoid(x) -> Swish"

    def rules(self) -> RuleSet:
        return RULES
