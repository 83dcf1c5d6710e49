"""Shape arithmetic shared by the op families: broadcasting, strides, and the merged
geometry records (`tinyc_bcast`, `tinyc_copy_params`, ...) passed to the C kernels."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from tinyc.errors import ModelError, UnsupportedError

MAX_RANK = 8


def broadcast_shapes(*shapes: Sequence[int], where: str = "") -> tuple[int, ...]:
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(rank):
        dims = {s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ModelError(f"{where}: shapes {[list(s) for s in shapes]} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def strides(shape: Sequence[int]) -> list[int]:
    out, acc = [], 1
    for dim in reversed(shape):
        out.append(acc)
        acc *= dim
    return out[::-1]


def broadcast_strides(shape: Sequence[int], out_shape: Sequence[int]) -> list[int]:
    """Element strides of `shape` read as `out_shape` (0 on broadcast axes)."""
    pad = len(out_shape) - len(shape)
    full = [1] * pad + list(shape)
    st = strides(full)
    return [0 if d == 1 and o != 1 else s for d, o, s in zip(full, out_shape, st, strict=False)]


def merge_dims(
    dims: Sequence[int], *stride_sets: Sequence[int]
) -> tuple[list[int], list[list[int]]]:
    """Drop size-1 axes and merge adjacent axes that are contiguous in every stride set,
    so kernels loop over as few dimensions as possible. Always returns rank >= 1."""
    kept = [i for i, d in enumerate(dims) if d != 1]
    out_dims: list[int] = []
    out_strides: list[list[int]] = [[] for _ in stride_sets]
    for i in kept:
        if out_dims and all(
            ss[-1] == s[i] * dims[i] for ss, s in zip(out_strides, stride_sets, strict=False)
        ):
            out_dims[-1] *= dims[i]
            for ss, s in zip(out_strides, stride_sets, strict=False):
                ss[-1] = s[i]
            continue
        out_dims.append(dims[i])
        for ss, s in zip(out_strides, stride_sets, strict=False):
            ss.append(s[i])
    if not out_dims:
        return [1], [[0] for _ in stride_sets]
    if len(out_dims) > MAX_RANK:
        raise UnsupportedError(f"tensor of rank {len(out_dims)} after merging (max {MAX_RANK})")
    return out_dims, out_strides


def c_int_list(values: Sequence[int], length: int = MAX_RANK) -> str:
    padded = list(values) + [0] * (length - len(values))
    return "{" + ", ".join(str(v) for v in padded) + "}"


def split_axis(shape: Sequence[int], axis: int) -> tuple[int, int, int]:
    """(outer, axis_len, inner) of `shape` around `axis`."""
    return prod(shape[:axis]), shape[axis], prod(shape[axis + 1 :])

