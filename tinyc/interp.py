"""Reference interpreter: runs the IR with each op's numpy `reference`.

It is the oracle for passes (same outputs before and after) and for integer kernels
(bit-exact with the generated C).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tinyc.errors import UsageError
from tinyc.ir import Graph, Value
from tinyc.ops import get_op


def run_graph(graph: Graph, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    env: dict[int, np.ndarray] = {}
    for value in graph.inputs:
        if value.name not in feeds:
            raise UsageError(f"no data for input '{value.name}'")
        data = np.asarray(feeds[value.name])
        if data.shape != value.shape:
            raise UsageError(
                f"input '{value.name}': got shape {list(data.shape)}, expected {list(value.shape)}"
            )
        env[id(value)] = data.astype(value.dtype.np)

    def get(v: Value | None) -> np.ndarray | None:
        if v is None:
            return None
        if v.const is not None:
            return v.const
        return env[id(v)]

    for node in graph.nodes:
        results = get_op(node.op).reference(node, [get(v) for v in node.inputs])
        for out, data in zip(node.outputs, results):
            env[id(out)] = np.asarray(data).reshape(out.shape).astype(out.dtype.np, copy=False)
    return [np.array(get(v)) for v in graph.outputs]
