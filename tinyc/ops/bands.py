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


@dataclass(frozen=True)
class ChainStep:
    """One step of a multi-row schedule: layer `layer` computes its output rows
    [row, row + rows). Its source window is `halo_in` rows kept from earlier steps, then
    the `new_in` rows the step just before wrote; after it, the window's last `halo_out`
    rows are kept for the next step that reads the same source."""

    layer: int
    row: int
    rows: int
    halo_in: int
    new_in: int
    halo_out: int
    stash: int = -1

    def fields(self) -> tuple[int, ...]:
        return (self.layer, self.row, self.rows, self.halo_in, self.new_in, self.halo_out,
                self.stash)


def _window(layer: BandLayer, first: int, end: int, in_rows: int) -> tuple[int, int]:
    """[lo, hi): the source rows output rows [first, end) read."""
    return layer.reads(first, in_rows)[0], layer.reads(end - 1, in_rows)[1]


def chain_schedule(layers: list[BandLayer], rows: list[int], n_inputs: int,
                   band: int) -> tuple[ChainStep, ...] | None:
    """Steps in rounds, each layer in turn computing as many of its next `band` rows as its
    source holds (so no step exceeds `band` rows, the first rounds included), or None when
    `layers` is no plain chain this form runs: layer 0 reads node input 0, each later layer
    reads only the layer before it, no add, and every window is exactly the rows kept plus
    the rows the step before computed. Only the rows a later window reads again survive a
    step (the halo), so the intermediates share one pair of row buffers instead of each
    keeping a ring."""
    if n_inputs != 1 or any(
            layer.kind == ADD or layer.srcs != ((j - 1 + n_inputs) if j else 0,)
            for j, layer in enumerate(layers)):
        return None
    last = len(layers) - 1
    done = [0] * len(layers)
    plan: list[tuple[int, int, int, int, int]] = []  # (layer, first, end, lo, hi)
    while done[last] < rows[n_inputs + last]:
        progress = False
        for j, layer in enumerate(layers):
            src = layer.srcs[0]
            ready = rows[src] if src < n_inputs else done[src - n_inputs]
            end = done[j]
            while (end < min(done[j] + band, rows[n_inputs + j])
                   and layer.reads(end, rows[src])[1] <= ready):
                end += 1
            if end > done[j]:
                plan.append((j, done[j], end, *_window(layer, done[j], end, rows[src])))
                done[j], progress = end, True
        if not progress:
            return None
    return _halos(plan)


def _halos(plan: list[tuple[int, int, int, int, int]]) -> tuple[ChainStep, ...] | None:
    """The halo counts of `plan`, or None when a window is not the kept rows followed by
    the rows the step before computed."""
    steps = []
    kept: dict[int, tuple[int, int]] = {}  # source layer -> rows [lo, hi) in its halo
    for i, (j, first, end, lo, hi) in enumerate(plan):
        nxt = next((p for p in plan[i + 1:] if p[0] == j), None)
        halo_out = max(0, hi - nxt[3]) if nxt is not None else 0
        after = plan[i + 1] if i + 1 < len(plan) else None
        stash = -1
        if (after is None or after[0] != j + 1) and any(p[0] == j + 1 for p in plan[i + 1:]):
            k_lo, k_hi = kept.get(j + 1, (first, first))
            if k_hi != first:
                return None
            kept[j + 1], stash = (k_lo, end), k_hi - k_lo
        if j == 0:  # reads the node's input, a whole tensor
            steps.append(ChainStep(j, first, end - first, 0, 0, 0, stash))
            continue
        k_lo, k_hi = kept.get(j, (lo, lo))
        prev = plan[i - 1] if i else None
        new_lo, new_hi = ((prev[1], prev[2]) if prev is not None and prev[0] == j - 1
                          else (k_hi, k_hi))
        if k_lo != lo or k_hi != new_lo or new_hi != hi or (nxt is not None and nxt[3] < lo):
            return None
        kept[j] = (hi - halo_out, hi)
        steps.append(ChainStep(j, first, end - first, k_hi - k_lo, new_hi - new_lo, halo_out,
                               stash))
    return tuple(steps)
