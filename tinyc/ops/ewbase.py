"""Shared pieces of the elementwise op families (elementwise.py, logic.py, cast.py,
reduce.py): which C kernel family serves a dtype, the broadcast records, and the numpy
semantics of integer arithmetic that the C kernels implement (tinyc_scalar.h)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import UnsupportedError
from tinyc.ir import DType, Node, Value
from tinyc.ops.layout import broadcast_strides, c_int_list, merge_dims
from tinyc.ops.registry import MemoryBehavior, elementwise_inplace

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

FLOAT_TYPES = (DType.F32, DType.F64, DType.F16)
INT_TYPES = (DType.I8, DType.U8, DType.I16, DType.U16, DType.I32, DType.U32, DType.I64, DType.U64)
NUM_TYPES = FLOAT_TYPES + INT_TYPES

#: kernel family of the arithmetic kernels of each numeric dtype
ARITH_FAMILY = {DType.F32: "elementwise", DType.F64: "elementwise_f64",
                DType.F16: "elementwise_f16", **{t: "elementwise_int" for t in INT_TYPES}}


def sfx(dtype: DType) -> str:
    """The kernel name suffix of a dtype; bool tensors use the u8 kernels."""
    return "u8" if dtype is DType.BOOL else dtype.value


def refuse(node: Node, what: str) -> UnsupportedError:
    return UnsupportedError(f"op {node.op} (node '{node.name}') {what} has no C kernel")


def arith_family(node: Node, dtype: DType, allowed: tuple[DType, ...] = NUM_TYPES) -> str:
    """The elementwise family serving `dtype`, or UnsupportedError naming the node."""
    if dtype not in allowed:
        raise refuse(node, f"on {dtype.value} tensors")
    return ARITH_FAMILY[dtype]


#: a binary kernel operand: a value, or a C pointer expression with its shape (such as the
#: running result of a variadic op, or a small constant table)
Operand = Value | tuple[str, tuple[int, ...]]


def _operand(ctx: EmitContext, x: Operand) -> tuple[str, tuple[int, ...]]:
    if isinstance(x, Value):
        return ctx.ptr(x), x.shape
    return x


def emit_binary(
    ctx: EmitContext, family: str, fn: str, a: Operand, b: Operand, y: Value, swap: bool = False,
    extra: tuple[object, ...] = (),
) -> None:
    """`fn(A, B, Y, &bcast, extra...)` with both operands broadcast to y (swap: B and A
    exchanged)."""
    if y.type.numel == 0:
        return
    if swap:
        a, b = b, a
    (pa, shape_a), (pb, shape_b) = _operand(ctx, a), _operand(ctx, b)
    dims, (sa, sb) = merge_dims(
        y.shape, broadcast_strides(shape_a, y.shape), broadcast_strides(shape_b, y.shape)
    )
    bc = ctx.params(
        "tinyc_bcast",
        f"{{{len(dims)}, {c_int_list(dims)}, {c_int_list(sa)}, {c_int_list(sb)}}}",
        f"bcast_{y.name}",
    )
    ctx.call(family, fn, pa, pb, ctx.ptr(y), bc, *extra)


def emit_unary(ctx: EmitContext, family: str, fn: str, x: Value, y: Value, *extra: object) -> None:
    """`fn(X, Y, n, extra...)` over every element."""
    if y.type.numel:
        ctx.call(family, fn, ctx.ptr(x), ctx.ptr(y), y.type.numel, *extra)


def inplace_same_shape(node: Node, indices: list[int] | None = None) -> list[MemoryBehavior]:
    """Y may overwrite any listed input of Y's own shape and element size (the kernels read
    element i of every input before they write element i of Y)."""
    y = node.outputs[0]
    out = []
    for i, v in enumerate(node.inputs):
        if v is None or (indices is not None and i not in indices):
            continue
        if v.shape == y.shape and v.dtype.itemsize == y.dtype.itemsize and y.type.numel:
            out.append(elementwise_inplace(node, i))
    return out


# -- numpy semantics of the integer kernels (tinyc_scalar.h) -------------------------------


def int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Truncating division; x / 0 gives 0 and INT_MIN / -1 wraps, as the C kernels do."""
    safe = np.where(b == 0, 1, b).astype(a.dtype)
    with np.errstate(all="ignore"):
        q = a // safe
        fix = (a % safe != 0) & ((a < 0) != (safe < 0))
        q = np.where(fix, q + 1, q)
        if a.dtype.kind == "i":
            q = np.where(safe == -1, np.negative(a), q)
    return np.where(b == 0, 0, q).astype(a.dtype)


def int_mod(a: np.ndarray, b: np.ndarray, fmod: bool) -> np.ndarray:
    """numpy mod (sign of b) or fmod (sign of a); x % 0 and x % -1 give 0."""
    zero = (b == 0) | ((b == -1) if a.dtype.kind == "i" else False)
    safe = np.where(zero, 1, b).astype(a.dtype)
    with np.errstate(all="ignore"):
        r = np.fmod(a, safe) if fmod else np.mod(a, safe)
    return np.where(zero, 0, r).astype(a.dtype)


def saturate_cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float -> integer as the C kernels convert: truncate, NaN gives 0, saturate."""
    info = np.iinfo(dtype)
    v = np.atleast_1d(np.nan_to_num(np.asarray(x, np.float64), nan=0.0))
    lo, hi = float(info.min), float(info.max)
    out = np.zeros(v.shape, dtype)
    out[v <= lo] = info.min
    out[v >= hi] = info.max
    mid = (v > lo) & (v < hi)
    out[mid] = np.trunc(v[mid]).astype(dtype)
    return out.reshape(np.shape(x))


def cast_array(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`x.astype(dtype)` with the C kernels' rules where numpy's are platform-defined."""
    dtype = np.dtype(dtype)
    if x.dtype.kind == "f" and dtype.kind in "iu":
        return saturate_cast(x, dtype)
    with np.errstate(all="ignore"):
        return np.asarray(x).astype(dtype)
