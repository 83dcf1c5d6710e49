"""push-transposes: move Transposes down through layout-agnostic ops until they meet their
inverse and cancel (channels-last graphs from tf2onnx)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinyc.ir import Graph, Node, Value
from tinyc.ops.elementwise import is_elementwise
from tinyc.ops.reduce import is_reduction
from tinyc.ops.registry import registered_ops
from tinyc.passes import cancel_transposes
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
    is_output,
)


def inverse(perm: Sequence[int]) -> list[int]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


def untransposed_const(data: np.ndarray, perm: Sequence[int]) -> np.ndarray:
    """The constant c' with Transpose{perm}(c') broadcasting like `data` against a rank
    len(perm) operand: `data` is first given leading 1s up to that rank."""
    if data.size == 1:
        return data
    full = data.reshape((1,) * (len(perm) - data.ndim) + data.shape)
    return np.ascontiguousarray(full.transpose(inverse(perm)))


def _transpose_of(value: Value | None) -> Node | None:
    if value is not None and value.producer is not None and value.producer.op == "Transpose":
        return value.producer
    return None


def _dies_with(graph: Graph, transpose: Node, node: Node) -> bool:
    """`transpose` has no reader but `node` (so rewriting `node` removes it)."""
    out = transpose.outputs[0]
    return not is_output(graph, out) and all(u.node is node for u in out.uses)


class SinkTranspose(Rule):
    """``op(Transpose{p}(x), ...) -> Transpose{q}(op'(x, ...))``: the op runs in the layout
    of x, its layout-dependent attributes and constant operands remapped through p.

    Subclasses say which inputs carry the layout (`layout_inputs`; the others must be
    absent or constants, kept as they are), whether constants may stand among them
    (`takes_consts`), how the attributes change (`moved_attrs`) and which Transpose, if
    any, restores the output (`out_perm`).
    The rule never adds a Transpose: it fires only when some input Transpose has no other
    reader (it disappears) or when the output needs no Transpose at all.
    """

    takes_consts = False

    def layout_inputs(self, node: Node) -> range:
        return range(1)

    def moved_attrs(self, node: Node, perm: list[int]) -> dict[str, Any] | MatchResult:
        return {}

    def out_perm(self, node: Node, perm: list[int]) -> list[int] | None:
        """The Transpose after the moved op (None when it would be the identity)."""
        return perm

    def check(self, graph: Graph, m: Match) -> MatchResult:
        node = m.root
        if len(node.outputs) != 1:
            return MatchResult.fail(f"{node.op} has {len(node.outputs)} outputs")
        layout = self.layout_inputs(node)
        if any(v is not None and v.const is None
               for i, v in enumerate(node.inputs) if i not in layout):
            return MatchResult.fail(f"{node.op} has a run-time operand that is not moved")
        transposes = [t for i in layout if (t := _transpose_of(node.input(i))) is not None]
        if not transposes:
            return MatchResult.fail("no input is a Transpose")
        perm = list(transposes[0].attrs["perm"])
        for i in layout:
            v = node.input(i)
            t = _transpose_of(v)
            if v is None:
                continue
            if t is not None and list(t.attrs["perm"]) != perm:
                return MatchResult.fail(f"input {i} is a Transpose by another perm")
            if t is None and not (self.takes_consts and v.const is not None
                                  and v.type.rank <= len(perm)):
                return MatchResult.fail(f"input {i} %{v.name} is neither a Transpose by "
                                        f"{perm} nor a constant")
        attrs = self.moved_attrs(node, perm)
        if isinstance(attrs, MatchResult):
            return attrs
        if self.out_perm(node, perm) is not None and not any(
                _dies_with(graph, t, node) for t in transposes):
            return MatchResult.fail("every input Transpose has another reader")
        return OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        node, y = m.root, m.root.outputs[0]
        layout = self.layout_inputs(node)
        transposes = [t for i in layout if (t := _transpose_of(node.input(i))) is not None]
        perm = list(transposes[0].attrs["perm"])
        inputs: list[Value | None] = []
        for i, v in enumerate(node.inputs):
            t = _transpose_of(v) if i in layout else None
            if t is not None:
                inputs.append(t.inputs[0])
            elif i in layout and v is not None and v.const is not None:
                inputs.append(rw.const(v.name + "_t", untransposed_const(v.const, perm)))
            else:
                inputs.append(v)
        attrs = dict(node.attrs)
        moved = self.moved_attrs(node, perm)
        assert not isinstance(moved, MatchResult)
        attrs.update(moved)
        new = rw.add(node.op, inputs, attrs, before=node, defaults=False, name=node.name,
                     hint=y.name + "_nt")
        q = self.out_perm(node, perm)
        if q is not None:
            new = rw.add("Transpose", [new], {"perm": q}, before=node, name=node.name + "_t",
                         hint=y.name + "_t")
        rw.replace(y, new)
        rw.erase(node)
        for t in transposes:
            rw.erase_if_dead(t)


def _same_rank(node: Node, perm: list[int]) -> MatchResult:
    if node.outputs[0].type.rank != len(perm):
        return MatchResult.fail(f"{node.op}'s output is not of rank {len(perm)}")
    return OK


class SinkThroughElementwise(SinkTranspose):
    """Unary and broadcasting elementwise ops; constant operands are transposed by p^-1."""

    pattern = Op(tuple(o.name for o in registered_ops() if is_elementwise(o)), ...)
    takes_consts = True

    def layout_inputs(self, node: Node) -> range:
        return range(len(node.inputs))

    def moved_attrs(self, node: Node, perm: list[int]) -> dict[str, Any] | MatchResult:
        ok = _same_rank(node, perm)
        return {} if ok else ok


class SinkThroughConcat(SinkTranspose):
    """``Concat{axis=a}(T(x), T(y), c) -> T(Concat{axis=p[a]}(x, y, c'))``."""

    pattern = Op("Concat", ...)
    takes_consts = True

    def layout_inputs(self, node: Node) -> range:
        return range(len(node.inputs))

    def moved_attrs(self, node: Node, perm: list[int]) -> dict[str, Any] | MatchResult:
        return {"axis": perm[node.attrs["axis"]]}


class SinkThroughPad(SinkTranspose):
    """``Pad{pads}(T(x)) -> T(Pad{pads'}(x))``, each axis' begin and end pads moved with it
    (constant pads only: a run-time pads operand keeps its order)."""

    pattern = Op("Pad", ...)

    def moved_attrs(self, node: Node, perm: list[int]) -> dict[str, Any] | MatchResult:
        pads, r = list(node.attrs["pads"]), len(perm)
        if node.attrs.get("shape") or len(pads) != 2 * r:
            return MatchResult.fail("Pad's pads are a run-time operand")
        moved = [0] * (2 * r)
        for i, p in enumerate(perm):
            moved[p], moved[r + p] = pads[i], pads[r + i]
        return {"pads": moved}


class SinkThroughSoftmax(SinkTranspose):
    """Softmax, LogSoftmax, Hardmax over one axis: the axis moves with the data (the
    legacy 2-D coerced form, `flatten=1`, depends on the order and stays)."""

    pattern = Op(("Softmax", "LogSoftmax", "Hardmax"), ...)

    def moved_attrs(self, node: Node, perm: list[int]) -> dict[str, Any] | MatchResult:
        if node.attrs.get("flatten"):
            return MatchResult.fail(f"{node.op} works on the input coerced to 2-D")
        return {"axis": perm[node.attrs["axis"]]}


class SinkThroughReduce(SinkTranspose):
    """``Reduce{axes}(T{p}(x)) -> T{q}(Reduce{p[axes]}(x))``: with keepdims q is p; without
    it, q orders the kept axes and is often the identity (NHWC mean over H, W)."""

    pattern = Op(tuple(o.name for o in registered_ops() if is_reduction(o)), ...)

    def moved_attrs(self, node: Node, perm: list[int]) -> dict[str, Any] | MatchResult:
        if "shape" in node.attrs:
            return MatchResult.fail(f"{node.op}'s axes are a run-time operand")
        return {"axes": sorted(perm[a] for a in node.attrs["axes"])}

    def out_perm(self, node: Node, perm: list[int]) -> list[int] | None:
        if node.attrs["keepdims"]:
            return perm
        kept = [perm[i] for i in range(len(perm)) if i not in node.attrs["axes"]]
        order = sorted(kept)
        q = [order.index(a) for a in kept]
        return None if q == sorted(q) else q


class SinkThroughQuantize(SinkTranspose):
    """QuantizeLinear, DequantizeLinear: elementwise with per-tensor parameters; a per-axis
    axis moves with the data (blocked quantization depends on the order and stays)."""

    pattern = Op(("QuantizeLinear", "DequantizeLinear"), ...)

    def moved_attrs(self, node: Node, perm: list[int]) -> dict[str, Any] | MatchResult:
        if node.attrs.get("block_size"):
            return MatchResult.fail(f"{node.op} is blocked along an axis")
        scale = node.input(1)
        if scale is not None and scale.type.numel > 1:
            return {"axis": perm[node.attrs["axis"]]}
        return {}


class ReduceToGlobalPool(Rule):
    """``ReduceMean/ReduceMax{axes=[2..]}(x) -> GlobalAveragePool/GlobalMaxPool(x)`` (then a
    Reshape without keepdims) on an NCHW-like tensor of rank >= 3: what an NHWC mean over
    H and W becomes once its Transpose has moved away, and what the pool kernels compute."""

    POOLS = {"ReduceMean": "GlobalAveragePool", "ReduceMax": "GlobalMaxPool"}
    pattern = Op(tuple(POOLS), ...)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        x = m.root.inputs[0]
        assert x is not None
        if "shape" in m.root.attrs or len(m.root.inputs) != 1:
            return MatchResult.fail(f"{m.root.op}'s axes are a run-time operand")
        if x.type.rank < 3 or m.root.attrs["axes"] != list(range(2, x.type.rank)):
            return MatchResult.fail("does not reduce exactly the spatial axes 2..")
        if x.dtype.value != "f32":
            return MatchResult.fail(f"%{x.name} is {x.dtype.value}, not f32")
        if x.type.numel == 0:
            return MatchResult.fail(f"%{x.name} is empty (the reduction's identity applies)")
        return OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        node, y = m.root, m.root.outputs[0]
        pooled = rw.add(self.POOLS[node.op], [node.inputs[0]], before=node, name=node.name,
                        hint=y.name + "_pool")
        if not node.attrs["keepdims"]:
            pooled = rw.add("Reshape", [pooled], {"shape": list(y.shape)}, before=node,
                            defaults=False, name=node.name + "_r", hint=y.name + "_r")
        rw.replace(y, pooled)


def merged_groups(shape: Sequence[int], out: Sequence[int]) -> list[list[int]] | None:
    """The axes of `shape` (size-1 axes left out) that each dimension of `out` (size-1
    dimensions left out) merges, in order; None when `out` splits an axis."""
    axes = [i for i, d in enumerate(shape) if d != 1]
    groups: list[list[int]] = []
    for d in (d for d in out if d != 1):
        group, size = [], 1
        while axes and size < d:
            group.append(axes.pop(0))
            size *= shape[group[-1]]
        if size != d:
            return None
        groups.append(group)
    return groups


class SinkThroughReshape(Rule):
    """``Reshape(Transpose{p}(x)) -> Transpose{q}(Reshape(x))`` when the Reshape only merges
    axes that are also neighbours, in the same order, in x (and adds or drops size-1
    axes): x is reshaped to the merged groups in its own order, at the positions the
    output gives them, and q puts the groups in the output's order (no Transpose when that
    is already x's). A Reshape that splits an axis, or merges axes the Transpose reordered,
    depends on the order and keeps its Transpose."""

    pattern = Op(("Reshape", "Flatten"), Op("Transpose", Var("x"), name="t"))

    def plan(self, m: Match) -> tuple[list[int], list[int]] | MatchResult:
        """(the shape x is reshaped to, q)."""
        t, x = m.node("t"), m.value("x")
        perm, out = list(t.attrs["perm"]), m.root.outputs[0].shape
        groups = merged_groups(t.outputs[0].shape, out)
        if groups is None:
            return MatchResult.fail(f"{m.root.op} splits an axis")
        dense = [a for a in range(x.type.rank) if x.shape[a] != 1]
        starts = []
        for group in groups:
            pos = [dense.index(perm[i]) for i in group]
            if pos != list(range(pos[0], pos[0] + len(pos))):
                return MatchResult.fail(f"{m.root.op} merges axes the Transpose reorders")
            starts.append(pos[0])
        order = sorted(range(len(groups)), key=lambda g: starts[g])  # groups in x's order
        slots = [j for j, d in enumerate(out) if d != 1]
        shape, q = [1] * len(out), list(range(len(out)))
        for k, g in enumerate(order):
            shape[slots[k]] = out[slots[g]]
        for g in range(len(groups)):
            q[slots[g]] = slots[order.index(g)]
        return shape, q

    def check(self, graph: Graph, m: Match) -> MatchResult:
        plan = self.plan(m)
        if isinstance(plan, MatchResult):
            return plan
        if plan[1] != sorted(plan[1]) and not _dies_with(graph, m.node("t"), m.root):
            return MatchResult.fail("the Transpose has another reader")
        return OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        plan = self.plan(m)
        assert not isinstance(plan, MatchResult)
        shape, q = plan
        y = m.root.outputs[0]
        new = rw.add("Reshape", [m.value("x")], {"shape": shape}, before=m.root,
                     defaults=False, name=m.root.name, hint=y.name + "_nt")
        if q != sorted(q):
            new = rw.add("Transpose", [new], {"perm": q}, before=m.root,
                         name=m.node("t").name, hint=y.name + "_t")
        rw.replace(y, new)


def flat_order(shape: Sequence[int], perm: Sequence[int]) -> np.ndarray:
    """For each element of Transpose{perm}(x) flattened after the batch axis, its index in
    x flattened the same way (perm keeps axis 0 first)."""
    index = np.arange(int(np.prod(shape[1:], dtype=np.int64))).reshape(tuple(shape[1:]))
    return index.transpose([a - 1 for a in perm[1:]]).reshape(-1)


class FoldTransposeIntoWeights(Rule):
    """``Gemm/MatMul(Flatten(Transpose{p}(x)), W) -> Gemm/MatMul(Flatten(x), W')``, the rows
    of W (columns with transB) reordered to x's flattened order: Keras' Flatten of an NHWC
    map before a Dense, which the NCHW twin flattens channel-first with permuted weights."""

    pattern = Op(("Gemm", "MatMul"),
                 Op(("Reshape", "Flatten"), Op("Transpose", Var("x"), name="t"), name="view"),
                 Const("w"), ...)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        t, view, w = m.node("t"), m.node("view"), m.value("w")
        perm = list(t.attrs["perm"])
        if perm[0] != 0:
            return MatchResult.fail("the Transpose moves the batch axis")
        flat = view.outputs[0].shape
        if len(flat) != 2 or flat[0] != t.outputs[0].shape[0]:
            return MatchResult.fail(f"{view.op} is not [batch, rest] of the Transpose")
        if m.root.attrs.get("transA") or w.type.rank != 2:
            return MatchResult.fail("not a plain [batch, K] x [K, N] product")
        for v in (t.outputs[0], view.outputs[0], w):
            if is_output(graph, v) or len(v.uses) != 1:
                return MatchResult.fail(f"%{v.name} has another reader")
        return OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        t, view, w = m.node("t"), m.node("view"), m.value("w")
        x = m.value("x")
        order = flat_order(x.shape, list(t.attrs["perm"]))
        assert w.const is not None
        moved = np.empty_like(w.const)
        if m.root.attrs.get("transB"):
            moved[:, order] = w.const
        else:
            moved[order] = w.const
        flat = rw.add("Reshape", [x], {"shape": list(view.outputs[0].shape)}, before=view,
                      defaults=False, name=view.name, hint=view.outputs[0].name + "_nt")
        rw.set_input(m.root, 0, flat)
        rw.set_input(m.root, 1, rw.const(w.name + "_t", moved))
        rw.erase(view)
        rw.erase(t)


RULES = (RuleSet([SinkThroughElementwise(), SinkThroughConcat(), SinkThroughPad(),
                  SinkThroughSoftmax(), SinkThroughReduce(), SinkThroughQuantize(),
                  ReduceToGlobalPool(),
                  FoldTransposeIntoWeights(), SinkThroughReshape()])
         + cancel_transposes.RULES)


@register_pass
@dataclass(frozen=True)
class PushTransposes(RewritePass):
    """Move each Transpose below the layout-agnostic ops that read it -- elementwise ops
    (constant operands transposed by the inverse permutation), QuantizeLinear and
    DequantizeLinear, Concat, Pad, Softmax, the reductions and Reshapes that merge axes it
    keeps in order, their axes remapped -- until it meets its inverse and cancels (the
    cancel-transposes rules run in the same worklist); turn a mean or max over the spatial
    axes into the global pool it now is, and fold a Transpose before Flatten -> Gemm/MatMul
    into the weight's rows. tf2onnx writes channels-last graphs as Transpose -> Conv ->
    Transpose around every convolution, NHWC ops between them; this leaves the NCHW graph
    a torch export has.

    Preconditions: none. Never adds a Transpose: refuses to move an op unless one of its
    input Transposes has no other reader, or its output needs none (a reduction that drops
    the axes it reduces). Refuses an op with an operand that is neither a Transpose by the
    same permutation nor a constant, a run-time Pad or Reduce axes operand, Softmax's
    legacy 2-D form, blocked quantization, and a Reshape that splits an axis or merges
    reordered ones. A Transpose that reads a graph input or writes a graph output, where
    the model's own interface is channels-last, stays (cancel-transposes turns it into a
    Reshape when it only moves size-1 axes). Bit-identical results but for the weight
    fold, which sums a Dense's products in the NCHW order (float rounding).
    """

    name = "push-transposes"
    summary = ("sink Transposes through elementwise/Concat/Pad/Softmax/Reduce/Reshape until "
               "they cancel")

    def rules(self) -> RuleSet:
        return RULES
