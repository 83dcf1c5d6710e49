"""Liveness: which tensors need arena bytes, and over which schedule steps they are live.

The schedule is the graph's node order. A value produced at step `first` is live until the
last step that reads it (`last`); both ends inclusive, so a node's inputs and outputs are
live together. Graph inputs and outputs live in the caller's buffers and constants in flash,
so neither takes arena space.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.ir import Graph, Value


@dataclass(frozen=True)
class BufferReq:
    """One tensor to place: `size` bytes live from step `first` to step `last`."""

    name: str
    size: int
    first: int
    last: int
    align: int

    def overlaps_in_time(self, other: BufferReq) -> bool:
        return self.first <= other.last and other.first <= self.last


def arena_values(graph: Graph) -> list[Value]:
    """Node outputs that are neither graph outputs nor constants, in schedule order."""
    outputs = {id(v) for v in graph.outputs}
    return [
        out
        for node in graph.nodes
        for out in node.outputs
        if id(out) not in outputs and out.const is None
    ]


def buffer_requests(graph: Graph, align: int = 16) -> list[BufferReq]:
    step = {id(node): i for i, node in enumerate(graph.nodes)}
    reqs = []
    for value in arena_values(graph):
        assert value.producer is not None
        first = step[id(value.producer)]
        last = max((step[id(use.node)] for use in value.uses), default=first)
        reqs.append(BufferReq(value.name, value.type.nbytes, first, last, align))
    return reqs
