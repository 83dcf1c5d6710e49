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
    v = int(value)  # type: ignore[call-overload]
    if dtype.np.kind in "iu" and not np.iinfo(dtype.np).min <= v <= np.iinfo(dtype.np).max:
        raise UnsupportedError(f"integer {v} does not fit the C type of {dtype.value}")
    if dtype is DType.I64:
        return "(-INT64_C(9223372036854775807) - 1)" if v == -(2**63) else f"INT64_C({v})"
    if dtype is DType.U64:
        return f"UINT64_C({v})"
    if dtype is DType.I32 and v == -(2**31):
        return "(-2147483647 - 1)"
    if dtype is DType.U32:
        return f"{v}u"
    return str(v)


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
    text = str(np.float32(v)) if suffix == "f" else repr(v)
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
        items = [_float_literal(x, "f") for x in flat.astype(np.float32)]
    else:
        items = [c_scalar(x, dtype) for x in flat.tolist()]
    if not items:
        items = ["0"]
    return [
        ", ".join(items[i : i + _PER_LINE]) + ("," if i + _PER_LINE < len(items) else "")
        for i in range(0, len(items), _PER_LINE)
    ]
