"""fold-batchnorm: fold inference BatchNormalization into the producing linear op."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyc.ir import Graph, Node, Value
from tinyc.passes.base import register_pass
from tinyc.passes.fuse_conv_bias import channel_vector
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
    move_activation,
    no_activation,
    single_use,
)

_PARAMS = (Const("gamma"), Const("beta"), Const("mean"), Const("var"))


def bn_affine(m: Match) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (scale, shift) in float64: y = x * scale + shift."""
    gamma, beta, mean, var = (m.value(k).const.astype(np.float64)  # type: ignore[union-attr]
                              for k in ("gamma", "beta", "mean", "var"))
    scale = gamma / np.sqrt(var + float(m.root.attrs["epsilon"]))
    return scale, beta - mean * scale


def _weight_ok(graph: Graph, w: Value | None, what: str) -> MatchResult:
    """The weight must be a constant that only this node reads (else folding copies it)."""
    if w is None or w.const is None:
        return MatchResult.fail(f"{what} is not a constant")
    if len(w.uses) != 1 or any(v is w for v in graph.outputs):
        return MatchResult.fail(f"{what} %{w.name} is shared")
    return OK


def _bias_ok(b: Value | None) -> MatchResult:
    if b is not None and b.const is None:
        return MatchResult.fail(f"bias %{b.name} is not a constant")
    return OK


def _producer_ok(graph: Graph, node: Node) -> MatchResult:
    return all_of(single_use(graph, node.outputs[0]), no_activation(node),
                  is_float32(node.outputs[0]))


def _f32(data: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(data, dtype=np.float32)


class FoldIntoConv(Rule):
    """``BatchNormalization(Conv(x, w, b)) -> Conv(x, w * s, b * s + t)``, s and t per output
    channel (w is [M, C/group, k..]; for ConvTranspose [C, M/group, k..])."""

    pattern = Op("BatchNormalization", Op(("Conv", "ConvTranspose"), name="conv"), *_PARAMS)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        conv = m.node("conv")
        return all_of(_producer_ok(graph, conv), _weight_ok(graph, conv.input(1), "weight"),
                      _bias_ok(conv.input(2)))

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        scale, shift = bn_affine(m)
        scale_conv(m.node("conv"), scale, shift, rw)
        rw.replace(m.root.outputs[0], m.node("conv").outputs[0])


def scale_conv(conv: Node, scale: np.ndarray, shift: np.ndarray, rw: Rewriter) -> None:
    """Conv/ConvTranspose weights times `scale` per output channel, bias b * scale + shift."""
    w, b = conv.input(1), conv.input(2)
    assert w is not None and w.const is not None
    w64 = w.const.astype(np.float64)
    if conv.op == "ConvTranspose":
        g = conv.attrs.get("group", 1)
        grouped = w64.reshape((g, w64.shape[0] // g) + w64.shape[1:])
        s = scale.reshape((g, 1, w64.shape[1]) + (1,) * (w64.ndim - 2))
        w_new = (grouped * s).reshape(w64.shape)
    else:
        w_new = w64 * scale.reshape((-1,) + (1,) * (w64.ndim - 1))
    b64 = np.zeros_like(scale) if b is None else b.const.astype(np.float64)  # type: ignore[union-attr]
    rw.set_input(conv, 1, rw.const(w.name + "_bn", _f32(w_new)))
    rw.set_input(conv, 2, rw.const(w.name + "_bn_bias", _f32(b64 * scale + shift)))


class FoldScaleIntoConv(Rule):
    """``Mul(Conv(x, w, b), c) -> Conv(x, w * c, b * c)`` for a per-channel constant c:
    the scale half of a BatchNormalization that an exporter wrote as Mul then Add (tf2onnx
    does for Keras; fuse-conv-bias then takes the Add). An activation fused into the Mul
    moves to the Conv."""

    pattern = Op("Mul", Op(("Conv", "ConvTranspose"), name="conv"), Const("c"), commute=True)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        conv, c = m.node("conv"), m.value("c")
        y = conv.outputs[0]
        result = all_of(_producer_ok(graph, conv), _weight_ok(graph, conv.input(1), "weight"),
                        _bias_ok(conv.input(2)))
        if not result:
            return result
        if m.root.outputs[0].shape != y.shape:
            return MatchResult.fail("the Mul broadcasts the Conv result to a bigger shape")
        assert c.const is not None
        if channel_vector(c.const, y.shape) is None:
            return MatchResult.fail(f"%{c.name} {list(c.shape)} is not per-channel")
        return OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        conv, c = m.node("conv"), m.value("c")
        y = conv.outputs[0]
        scale = channel_vector(c.const, y.shape)  # type: ignore[arg-type]
        assert scale is not None
        scale = scale.astype(np.float64)
        scale_conv(conv, scale, np.zeros_like(scale), rw)
        move_activation(rw, m.root, conv)
        rw.replace(m.root.outputs[0], y)


class FoldIntoGemm(Rule):
    """``BatchNormalization(Gemm(a, B, C)) -> Gemm{beta=1}(a, B * s, beta * C * s + t)``,
    B scaled along N (columns, or rows when transB=1)."""

    pattern = Op("BatchNormalization", Op("Gemm", name="gemm"), *_PARAMS)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        gemm = m.node("gemm")
        return all_of(_producer_ok(graph, gemm), _weight_ok(graph, gemm.input(1), "B"),
                      _bias_ok(gemm.input(2)))

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        gemm = m.node("gemm")
        bmat, c = gemm.input(1), gemm.input(2)
        assert bmat is not None and bmat.const is not None
        scale, shift = bn_affine(m)
        b64 = bmat.const.astype(np.float64)
        b_new = b64 * (scale[:, None] if gemm.attrs["transB"] else scale[None, :])
        c64 = np.zeros(1) if c is None else c.const.astype(np.float64)  # type: ignore[union-attr]
        c_new = float(gemm.attrs["beta"]) * c64 * scale + shift
        rw.set_input(gemm, 1, rw.const(bmat.name + "_bn", _f32(b_new)))
        rw.set_input(gemm, 2, rw.const(bmat.name + "_bn_bias", _f32(c_new)))
        rw.set_attrs(gemm, beta=1.0)
        rw.replace(m.root.outputs[0], gemm.outputs[0])


class FoldIntoMatMul(Rule):
    """``BatchNormalization(MatMul(a, B)) -> Gemm(a, B * s, t)`` for 2-D a and B (only then
    is the BatchNormalization channel axis the MatMul's column axis)."""

    pattern = Op("BatchNormalization", Op("MatMul", Var("a"), Const("b"), name="mm"), *_PARAMS)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        mm = m.node("mm")
        if m.value("a").type.rank != 2 or m.value("b").type.rank != 2:
            return MatchResult.fail("MatMul operands are not both 2-D")
        return all_of(_producer_ok(graph, mm), _weight_ok(graph, m.value("b"), "B"))

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        b = m.value("b")
        assert b.const is not None
        scale, shift = bn_affine(m)
        b_new = rw.const(b.name + "_bn", _f32(b.const.astype(np.float64) * scale[None, :]))
        c_new = rw.const(b.name + "_bn_bias", _f32(shift))
        y = rw.add("Gemm", [m.value("a"), b_new, c_new], before=m.root, name=m.node("mm").name,
                   hint=m.root.outputs[0].name + "_gemm")
        rw.replace(m.root.outputs[0], y)


RULES = RuleSet([FoldIntoConv(), FoldScaleIntoConv(), FoldIntoGemm(), FoldIntoMatMul()])


@register_pass
@dataclass(frozen=True)
class FoldBatchnorm(RewritePass):
    """Fold an inference BatchNormalization into the Conv, ConvTranspose, Gemm or MatMul
    that produces its input: the weights are scaled per output channel and the shift becomes
    (part of) the bias, in float64 and rounded once to float32.

    Preconditions: the BatchNormalization parameters are constants (the frontend refuses
    training mode). Refuses when the producer's result has another use or is a graph
    output, when it already carries a fused activation, when its weight is not a constant
    or is shared with another node (folding would duplicate it in flash), when its bias is
    computed at run time, and for MatMul unless both operands are 2-D.

    Also folds a Mul by a per-channel constant into the Conv before it (a BatchNormalization
    an exporter wrote out as Mul then Add; the Add then becomes the bias in fuse-conv-bias).

    A lone BatchNormalization (after a pool, an Add, a graph input) is kept: its C kernel
    is already one per-channel multiply-add with scale and shift precomputed at compile
    time, which is exactly what a Mul+Add pair would be, in one pass over memory.
    """

    name = "fold-batchnorm"
    summary = "fold BatchNormalization into the preceding Conv/ConvTranspose/Gemm/MatMul"

    def rules(self) -> RuleSet:
        return RULES
