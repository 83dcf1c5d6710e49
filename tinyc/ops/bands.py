"""Row-band execution of a chain of int8 layers (`QBanded`): which row of which layer runs
when, and how many rows of each intermediate tensor must be kept.

A banded node runs its layers (convolutions and same-shape adds, NCHW, batch 1) one output
row at a time, pulled by the rows of its final output (demand-driven, as MCUNetV2's
patch-based inference): before layer j computes row r, every row it reads is computed, each
layer in increasing row order. No row is computed twice. An intermediate tensor then only
needs the rows between its oldest row some later step still reads and its newest row: its
ring. `schedule` derives the steps and the ring sizes; the C kernel (tinyc_qband.h) replays
the same steps, so the rings it is given are exactly large enough.

The input rows a convolution row reads are those of `tinyc_qboundary.c`'s bands: the
window's real rows, at least one (a window entirely in the padding still gets a row).
"""

from __future__ import annotations

from dataclasses import dataclass

#: layer kinds (tinyc_qband.h's TINYC_QBAND_*); a POOL averages its input over the whole
#: plane, one input row per step (its steps are its input's rows, its output is written at
#: the last), so it keeps no ring of its input
CONV, DEPTHWISE, ADD, POOL = 0, 1, 2, 3


@dataclass(frozen=True)
class BandLayer:
    """One layer of a banded node: its kind, the tensors it reads (`srcs`, indices into the
    node's tensor list) and, for a convolution, the vertical window."""

    kind: int
    srcs: tuple[int, ...]
    kh: int = 1
    stride: int = 1
    dilation: int = 1
    pad_top: int = 0

    def reads(self, row: int, in_rows: int) -> tuple[int, int]:
        """[lo, hi): the rows of each source that step `row` reads."""
        if self.kind in (ADD, POOL):
            return row, row + 1
        top = row * self.stride - self.pad_top
        end = top + (self.kh - 1) * self.dilation + 1
        lo = min(max(top, 0), in_rows - 1)
        return lo, max(min(end, in_rows), lo + 1)


@dataclass(frozen=True)
class BandSchedule:
    """`steps`: (layer, row) in execution order; `rings[t]`: rows kept of tensor t (0 for
    the node's inputs and its output, which are whole tensors)."""

    steps: tuple[tuple[int, int], ...]
    rings: tuple[int, ...]


def schedule(layers: list[BandLayer], rows: list[int], n_inputs: int) -> BandSchedule:
    """The steps and rings of `layers`, whose tensors are the node's `n_inputs` inputs then
    one output per layer (the last is the node's output); `rows[t]` is tensor t's height,
    or for a POOL's output its input's (the pool's steps)."""
    done = [0] * len(layers)
    steps: list[tuple[int, int]] = []
    #: (step, tensor, lo, hi) reads of intermediate tensors
    reads: list[tuple[int, int, int, int]] = []

    def need(j: int, row: int) -> None:
        while done[j] <= row:
            r = done[j]
            for t in layers[j].srcs:
                lo, hi = layers[j].reads(r, rows[t])
                if t >= n_inputs:
                    need(t - n_inputs, hi - 1)
            for t in layers[j].srcs:
                if t >= n_inputs:
                    reads.append((len(steps), t, *layers[j].reads(r, rows[t])))
            steps.append((j, r))
            done[j] += 1

    last = len(layers) - 1
    for row in range(rows[n_inputs + last]):
        need(last, row)
    return BandSchedule(tuple(steps), _rings(steps, reads, rows, n_inputs, len(layers)))


def _rings(steps: list[tuple[int, int]], reads: list[tuple[int, int, int, int]],
           rows: list[int], n_inputs: int, n_layers: int) -> tuple[int, ...]:
    """Rows each intermediate tensor must keep: at every step that writes row q, all rows
    still to be read lie in (q - ring, q]."""
    last_use: dict[tuple[int, int], int] = {}
    for step, t, lo, hi in reads:
        for r in range(lo, hi):
            last_use[(t, r)] = step
    rings = [0] * (n_inputs + n_layers)
    for i, (j, q) in enumerate(steps):
        t = n_inputs + j
        if j == n_layers - 1:
            continue
        live = [p for p in range(q) if last_use.get((t, p), -1) > i]
        rings[t] = max(rings[t], q - min(live, default=q) + 1)
    return tuple(rings)
