"""Offset assignment algorithms: each is a pure function `(reqs) -> offsets`.

greedy_by_size (the algorithm TFLite Micro uses): take buffers largest first (ties by longer
lifetime, then name, so the result is deterministic); place each at the lowest aligned
offset where it overlaps, in address, no already placed buffer that is live at the same time
(first fit into the gaps).
"""

from __future__ import annotations

from collections.abc import Callable

from tinyc.memory.liveness import BufferReq


def _align_up(x: int, align: int) -> int:
    return (x + align - 1) // align * align


def greedy_by_size(reqs: list[BufferReq]) -> dict[str, int]:
    order = sorted(reqs, key=lambda r: (-r.size, -(r.last - r.first), r.name))
    placed: list[tuple[BufferReq, int]] = []
    offsets: dict[str, int] = {}
    for req in order:
        busy = sorted(
            (off, off + other.size) for other, off in placed if other.overlaps_in_time(req)
        )
        candidate = 0
        for start, end in busy:
            if candidate + req.size <= start:
                break
            candidate = max(candidate, _align_up(end, req.align))
        offsets[req.name] = candidate
        placed.append((req, candidate))
    return offsets


ALGORITHMS: dict[str, Callable[[list[BufferReq]], dict[str, int]]] = {
    "greedy_by_size": greedy_by_size,
}
