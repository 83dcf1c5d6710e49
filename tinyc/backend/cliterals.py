"""Exact, deterministic C literals for constant data."""

from __future__ import annotations

import re

import numpy as np

from tinyc.errors import UnsupportedError
from tinyc.ir import DType
from tinyc.ir.limits import fits_target_int
from tinyc.ir.types import to_storage

#: an unsuffixed decimal integer in C text (not part of a name, a float, a suffixed
#: literal or an INT64_C/UINT64_C argument)
_PLAIN_INT = re.compile(r"(?<![\w.])(?<!INT64_C\()\d+(?![\w.])")

_PER_LINE = 12


def c_scalar(value: object, dtype: DType) -> str:
    """One element as a C99 literal that reads back bit-exactly."""
    if dtype.is_lowp:  # the bits or the widened value C holds
        return c_scalar(to_storage(np.asarray(value), dtype).item(), dtype.storage)
    if dtype is DType.F32:
        return _float_literal(float(value), "f")  # type: ignore[arg-type]
    if dtype is DType.F64:
        return _float_literal(float(value), "")  # type: ignore[arg-type]
    if dtype is DType.BOOL:
        return "1" if value else "0"
    if dtype is DType.F16:
        return str(int(np.asarray(value, np.float16).view(np.uint16)))
    return _int_literals([int(value)], dtype)[0]  # type: ignore[call-overload]


def _int_literals(values: list[int], dtype: DType) -> list[str]:
    """Integers of an integer `dtype` as C literals (one pass over a whole array)."""
    kind = dtype.np.kind
    if values and kind in "iu":
        info = np.iinfo(dtype.np)
        for v in (min(values), max(values)):
            if not info.min <= v <= info.max:
                raise UnsupportedError(f"integer {v} does not fit the C type of {dtype.value}")
    if dtype is DType.I64:
        return ["(-INT64_C(9223372036854775807) - 1)" if v == -(2**63) else f"INT64_C({v})"
                for v in values]
    if dtype is DType.U64:
        return [f"UINT64_C({v})" for v in values]
    if dtype is DType.I32:
        return ["(-2147483647 - 1)" if v == -(2**31) else str(v) for v in values]
    if dtype is DType.U32:
        return [f"{v}u" for v in values]
    return list(map(str, values))


def check_c_ints(text: str, what: str) -> str:
    """`text` itself when every plain integer literal in it fits the target's int (the
    last guard before sizes, offsets and loop bounds reach C), else an error."""
    for match in _PLAIN_INT.finditer(text):
        if not fits_target_int(int(match.group())):
            raise UnsupportedError(f"{what}: {match.group()} does not fit the target's 32-bit int")
    return text


def _float_literal(v: float | np.floating, suffix: str) -> str:
    if np.isnan(v):
        return "NAN"
    if np.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    # shortest text that reads back to the same float32 / float64
    return _finite_literal(str(np.float32(v)) if suffix == "f" else repr(v), suffix)


def _finite_literal(text: str, suffix: str) -> str:
    """A finite float's shortest text as a C floating literal."""
    if "e" not in text and "." not in text:
        text += ".0"
    return text + suffix


def needs_math_h(data: np.ndarray) -> bool:
    return data.dtype.kind == "f" and not np.isfinite(data).all()


def c_array_body(data: np.ndarray, dtype: DType) -> list[str]:
    """The initializer lines (without braces) for a flattened array."""
    if dtype.is_lowp:
        data, dtype = to_storage(data, dtype), dtype.storage
    flat = data.reshape(-1)
    if dtype is DType.F32:
        values = flat.astype(np.float32)
        if np.isfinite(values).all():  # _float_literal without its per-element checks
            items = [_finite_literal(str(x), "f") for x in values]
        else:
            items = [_float_literal(x, "f") for x in values]
    elif flat.dtype.kind in "iu" and dtype.np.kind in "iu":
        items = _int_literals(flat.tolist(), dtype)
    elif dtype is DType.F16:  # c_scalar's bits, one conversion for the array
        items = list(map(str, np.asarray(flat, np.float16).view(np.uint16).tolist()))
    else:
        items = [c_scalar(x, dtype) for x in flat.tolist()]
    if not items:
        items = ["0"]
    return [
        ", ".join(items[i : i + _PER_LINE]) + ("," if i + _PER_LINE < len(items) else "")
        for i in range(0, len(items), _PER_LINE)
    ]
