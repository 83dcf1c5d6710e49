"""The target's integer range, defined once.

Every element count, byte count, arena offset and loop bound that reaches the generated C
is an `int` or `size_t` of the target, and on the microcontrollers tinyc compiles for those
are 32-bit. A figure beyond that range is refused with an `UnsupportedError` that quotes it,
before the compiler itself tries to allocate anything that big.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from tinyc.errors import ModelError, UnsupportedError

#: largest value of the target's `int` (and of the offsets and sizes tinyc emits)
TARGET_INT_MAX = 2**31 - 1
TARGET_INT_MIN = -(2**31)


def fits_target_int(value: int) -> bool:
    return TARGET_INT_MIN <= value <= TARGET_INT_MAX


def check_target_int(value: int, what: str) -> int:
    """`value` itself, or an error naming `what` when the target's int cannot hold it."""
    if not fits_target_int(value):
        raise UnsupportedError(f"{what} is {value}; the target's int is 32-bit")
    return value


def check_shape_fits(shape: Sequence[int], itemsize: int, what: str) -> None:
    """Refuse a shape with a negative dimension (malformed), or whose dimensions, element
    count or byte count the target's int cannot hold (`what` names the tensor, e.g.
    "tensor 'x'")."""
    for dim in shape:
        if dim < 0:
            raise ModelError(f"{what} has a negative dimension ({list(shape)})")
        if dim > TARGET_INT_MAX:
            raise UnsupportedError(
                f"{what} has a dimension of {dim}; the target's int is 32-bit"
            )
    numel = prod(shape)
    if numel > TARGET_INT_MAX:
        raise UnsupportedError(f"{what} has {numel} elements; the target's int is 32-bit")
    if numel * itemsize > TARGET_INT_MAX:
        raise UnsupportedError(f"{what} has {numel * itemsize} bytes; the target's int is 32-bit")
