"""The IR verifier: the invariants every pass must leave intact.

Checks: value names are unique; every node input is defined before the node (topological
order, SSA); use lists match the inputs exactly; every op is registered and its shape rule
gives the output types the graph records; constants carry data of their type; the graph
outputs are defined. Raises `IRError` with the first violation.
"""

from __future__ import annotations

from tinyc.errors import IRError, TinycError
from tinyc.ir.core import Graph
from tinyc.ops import get_op, has_op


def verify(graph: Graph) -> None:
    defined: set[int] = set()
    names: set[str] = set()

    def define(value_name: str, key: int) -> None:
        if value_name in names:
            raise IRError(f"value %{value_name} is defined twice")
        names.add(value_name)
        defined.add(key)

    for value in graph.inputs:
        if value.producer is not None or value.const is not None:
            raise IRError(f"graph input %{value.name} has a producer or data")
        define(value.name, id(value))
    for value in graph.constants:
        if value.const is None:
            raise IRError(f"constant %{value.name} has no data")
        define(value.name, id(value))

    uses: dict[int, int] = {}
    for node in graph.nodes:
        if not has_op(node.op):
            raise IRError(f"unknown op {node.op}")
        for i, value in enumerate(node.inputs):
            if value is None:
                continue
            if id(value) not in defined:
                raise IRError(
                    f"{node.op} '{node.name}': input %{value.name} used before definition"
                )
            if not any(u.node is node and u.index == i for u in value.uses):
                raise IRError(f"{node.op} '{node.name}': use list of %{value.name} is stale")
            uses[id(value)] = uses.get(id(value), 0) + 1
        try:
            expected = get_op(node.op).infer(node)
        except TinycError as exc:
            raise IRError(f"{node.op} '{node.name}': {exc}") from None
        if len(expected) < len(node.outputs):
            raise IRError(f"{node.op} '{node.name}': too many outputs")
        for i, (out, ttype) in enumerate(zip(node.outputs, expected)):
            if out.producer is not node or out.index != i:
                raise IRError(f"{node.op} '{node.name}': output %{out.name} has a wrong producer")
            if (out.type.dtype, out.type.shape) != (ttype.dtype, ttype.shape):
                raise IRError(
                    f"{node.op} '{node.name}': output %{out.name} is {out.type}, "
                    f"its shape rule gives {ttype}"
                )
            define(out.name, id(out))
    for value in graph.values():
        if len(value.uses) != uses.get(id(value), 0):
            raise IRError(f"use list of %{value.name} does not match its users")
    for value in graph.outputs:
        if id(value) not in defined:
            raise IRError(f"graph output %{value.name} is not defined")
