"""The IR core: SSA values with use lists, nodes and the graph that orders them.

A `Value` is produced by exactly one node, or is a graph input, or is a constant (it then
carries its numpy data in `const`). Every `Value` knows its users, so rewrites such as
"replace all uses of x with y" are one call. Identity equality is deliberate: two values
with the same type are still two tensors.

All mutation goes through the few methods here (`Graph.add_node`, `Graph.insert_before`,
`Graph.erase`, `Value.replace_all_uses_with`, `Node.set_input`), which keep use lists
consistent; passes never touch `uses` directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinyc.ir.types import DType, TensorType


@dataclass(eq=False)
class Usage:
    """One use of a value: input number `index` of `node`."""

    node: Node
    index: int


class Value:
    """An SSA tensor value."""

    __slots__ = ("name", "type", "producer", "index", "uses", "const")

    def __init__(
        self,
        name: str,
        type: TensorType,
        producer: Node | None = None,
        index: int = 0,
        const: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.producer = producer
        self.index = index
        self.uses: list[Usage] = []
        # ascontiguousarray would promote 0-d data to 1-d; keep scalars scalar
        self.const = None if const is None else np.ascontiguousarray(const).reshape(np.shape(const))
        if self.const is not None:
            self._check_const(self.const)

    def _check_const(self, data: np.ndarray) -> None:
        if data.dtype != self.type.dtype.np or tuple(data.shape) != self.type.shape:
            raise ValueError(
                f"constant {self.name}: data {data.dtype}{list(data.shape)} "
                f"does not match type {self.type}"
            )

    @property
    def is_const(self) -> bool:
        return self.const is not None

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    def users(self) -> list[Node]:
        """Distinct user nodes, in use order."""
        seen: dict[int, Node] = {}
        for use in self.uses:
            seen.setdefault(id(use.node), use.node)
        return list(seen.values())

    def replace_all_uses_with(self, other: Value) -> None:
        for use in list(self.uses):
            use.node.set_input(use.index, other)

    def __repr__(self) -> str:
        return f"%{self.name}: {self.type}"


class Node:
    """One operation. `attrs` hold plain Python values, normalized by the frontend."""

    __slots__ = ("op", "inputs", "outputs", "attrs", "name")

    def __init__(
        self,
        op: str,
        inputs: Iterable[Value | None],
        outputs: Iterable[Value],
        attrs: dict[str, Any] | None = None,
        name: str = "",
    ) -> None:
        self.op = op
        self.inputs: list[Value | None] = []
        self.outputs: list[Value] = list(outputs)
        self.attrs: dict[str, Any] = dict(attrs or {})
        self.name = name
        for value in inputs:
            self._append_input(value)
        for i, out in enumerate(self.outputs):
            out.producer = self
            out.index = i

    def _append_input(self, value: Value | None) -> None:
        self.inputs.append(value)
        if value is not None:
            value.uses.append(Usage(self, len(self.inputs) - 1))

    def set_input(self, index: int, value: Value | None) -> None:
        old = self.inputs[index]
        if old is not None:
            old.uses = [u for u in old.uses if not (u.node is self and u.index == index)]
        self.inputs[index] = value
        if value is not None:
            value.uses.append(Usage(self, index))

    def set_inputs(self, values: Iterable[Value | None]) -> None:
        self.drop_inputs()
        for value in values:
            self._append_input(value)

    def drop_inputs(self) -> None:
        for index in range(len(self.inputs)):
            self.set_input(index, None)
        self.inputs = []

    def input(self, index: int) -> Value | None:
        """The input at `index`, or None when absent (optional ONNX inputs)."""
        return self.inputs[index] if index < len(self.inputs) else None

    def __repr__(self) -> str:
        ins = ", ".join("_" if v is None else f"%{v.name}" for v in self.inputs)
        outs = ", ".join(f"%{v.name}" for v in self.outputs)
        return f"{outs} = {self.op}({ins})"


@dataclass(eq=False)
class Graph:
    """A model: inputs, constants, nodes in topological order, outputs."""

    name: str
    inputs: list[Value] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    constants: list[Value] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    # -- construction -----------------------------------------------------------------
    def add_input(self, name: str, type: TensorType) -> Value:
        value = Value(name, type)
        self.inputs.append(value)
        return value

    def add_const(self, name: str, data: np.ndarray) -> Value:
        data = np.asarray(data)
        value = Value(name, TensorType(DType.from_numpy(data.dtype), tuple(data.shape)), const=data)
        self.constants.append(value)
        return value

    def add_node(self, node: Node) -> Node:
        self.nodes.append(node)
        return node

    def insert_before(self, anchor: Node, node: Node) -> Node:
        self.nodes.insert(self._position(anchor), node)
        return node

    def insert_after(self, anchor: Node, node: Node) -> Node:
        self.nodes.insert(self._position(anchor) + 1, node)
        return node

    def _position(self, node: Node) -> int:
        for i, candidate in enumerate(self.nodes):
            if candidate is node:
                return i
        raise ValueError(f"node {node!r} is not in graph {self.name}")

    # -- removal ----------------------------------------------------------------------
    def erase(self, node: Node) -> None:
        """Remove a node whose outputs have no uses left (checked)."""
        for out in node.outputs:
            if out.uses or any(out is o for o in self.outputs):
                raise ValueError(f"cannot erase {node!r}: %{out.name} is still used")
        node.drop_inputs()
        self.nodes.pop(self._position(node))

    def remove_unused_constants(self) -> int:
        used = {id(v) for v in self.outputs}
        kept = [c for c in self.constants if c.uses or id(c) in used]
        removed = len(self.constants) - len(kept)
        self.constants = kept
        return removed

    # -- queries ----------------------------------------------------------------------
    def values(self) -> Iterator[Value]:
        """Every value once: inputs, constants, then node outputs in order."""
        yield from self.inputs
        yield from self.constants
        for node in self.nodes:
            yield from node.outputs

    def value_names(self) -> set[str]:
        return {v.name for v in self.values()}

    def unique_name(self, base: str) -> str:
        names = self.value_names()
        if base not in names:
            return base
        i = 1
        while f"{base}_{i}" in names:
            i += 1
        return f"{base}_{i}"

    def op_histogram(self) -> dict[str, int]:
        hist: dict[str, int] = {}
        for node in self.nodes:
            hist[node.op] = hist.get(node.op, 0) + 1
        return dict(sorted(hist.items()))
