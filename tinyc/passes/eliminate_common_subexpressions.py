"""eliminate-common-subexpressions: compute each distinct value once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from tinyc.ir import Graph, Node, Value
from tinyc.ops import get_op
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass
from tinyc.passes.rewrite import Rewriter


def _freeze(obj: object) -> object:
    """A hashable, exact stand-in for an attribute value."""
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, (list, tuple)):
        return tuple(_freeze(v) for v in obj)
    if isinstance(obj, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in obj.items()))
    if isinstance(obj, float):
        return ("float", obj.hex())
    return obj


def const_key(value: Value) -> tuple[object, ...]:
    data = value.const
    assert data is not None
    digest = hashlib.sha256(data.tobytes()).hexdigest()
    return (value.type, digest)


def node_key(node: Node) -> tuple[object, ...]:
    inputs = tuple(None if v is None else id(v) for v in node.inputs)
    return (node.op, inputs, _freeze(node.attrs), tuple(o.type for o in node.outputs))


@register_pass
@dataclass(frozen=True)
class EliminateCommonSubexpressions(Pass):
    """Merge constants with identical type and bytes (flash), then, in graph order, merge
    each pure node into an earlier node with the same op, the same inputs (after merging)
    and the same attributes (RAM and time). One topological sweep reaches the fixed point,
    because a node's inputs are canonical before the node is looked at.

    Preconditions: none. Refuses impure ops and nodes whose outputs differ in type.
    Merging two graph outputs leaves both outputs reading one value (the backend copies).
    Bit-identical.
    """

    name = "eliminate-common-subexpressions"
    summary = "merge duplicate constants and duplicate pure nodes"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        rw = Rewriter(graph)
        merged = 0
        consts: dict[tuple[object, ...], Value] = {}
        for c in list(graph.constants):
            key = const_key(c)
            first = consts.setdefault(key, c)
            if first is not c and np.array_equal(first.const, c.const):  # type: ignore[arg-type]
                rw.replace(c, first)
                merged += 1
        seen: dict[tuple[object, ...], Node] = {}
        for node in list(graph.nodes):
            if not get_op(node.op).pure:
                continue
            key = node_key(node)
            first = seen.setdefault(key, node)
            if first is node:
                continue
            for dup, keep in zip(node.outputs, first.outputs, strict=True):
                rw.replace(dup, keep)
            rw.erase(node)
            merged += 1
        if merged:
            graph.remove_unused_constants()
            ctx.count("eliminate-common-subexpressions", merged)
        return PassResult(graph, merged > 0)
