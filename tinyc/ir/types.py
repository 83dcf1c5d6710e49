"""Element types, tensor types and quantization parameters of the IR.

Shapes are static tuples of non-negative ints: tinyc targets microcontrollers, where every
buffer is sized at compile time. A `TensorType` is a frozen value object, so it can be
shared, hashed and compared freely.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from math import prod

import ml_dtypes
import numpy as np


class DType(enum.Enum):
    """IR element types. The value is the short name used by the text IR."""

    F32 = "f32"
    F64 = "f64"
    F16 = "f16"
    I8 = "i8"
    U8 = "u8"
    I16 = "i16"
    U16 = "u16"
    I32 = "i32"
    U32 = "u32"
    I64 = "i64"
    U64 = "u64"
    BOOL = "bool"
    # low-precision types: C holds their bits (floats) or values (ints), see `storage`
    BF16 = "bf16"
    F8E4M3FN = "f8e4m3fn"
    F8E4M3FNUZ = "f8e4m3fnuz"
    F8E5M2 = "f8e5m2"
    F8E5M2FNUZ = "f8e5m2fnuz"
    F8E8M0 = "f8e8m0"
    F4E2M1 = "f4e2m1"
    I4 = "i4"
    U4 = "u4"
    I2 = "i2"
    U2 = "u2"

    @property
    def np(self) -> np.dtype:
        return np.dtype(_NUMPY[self])

    @property
    def is_lowp(self) -> bool:
        """bfloat16, float8/float4 and 4-/2-bit integers: numpy holds them as ml_dtypes, C
        as `storage` (one element per byte for the sub-byte types), and they are computed
        through float32."""
        return self in _STORAGE

    @property
    def storage(self) -> DType:
        """The dtype whose C type and numpy layout hold this type's elements: the bit
        pattern for the low-precision floats (bf16 in u16, float8/float4 in u8), the value
        for the sub-byte integers (i4/i2 sign-extended in i8, u4/u2 in u8)."""
        return _STORAGE.get(self, self)

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    @property
    def c_type(self) -> str:
        return _C_TYPES[self]

    @property
    def is_float(self) -> bool:
        return self in (DType.F32, DType.F64, DType.F16) or self in _LOWP_FLOATS

    @property
    def is_int(self) -> bool:
        return not self.is_float and self is not DType.BOOL

    @property
    def is_signed(self) -> bool:
        return self.is_float or self.value.startswith("i")

    @classmethod
    def from_numpy(cls, dtype: np.dtype | type) -> DType:
        name = str(np.dtype(dtype).name)
        for member in _NUMPY:
            if member.np.name == name:
                return member
        raise ValueError(f"no IR dtype for numpy dtype {name}")


_LOWP_FLOATS = frozenset(
    {DType.BF16, DType.F8E4M3FN, DType.F8E4M3FNUZ, DType.F8E5M2, DType.F8E5M2FNUZ, DType.F8E8M0,
     DType.F4E2M1}
)

_STORAGE = {
    DType.BF16: DType.U16,
    DType.F8E4M3FN: DType.U8,
    DType.F8E4M3FNUZ: DType.U8,
    DType.F8E5M2: DType.U8,
    DType.F8E5M2FNUZ: DType.U8,
    DType.F8E8M0: DType.U8,
    DType.F4E2M1: DType.U8,
    DType.I4: DType.I8,
    DType.U4: DType.U8,
    DType.I2: DType.I8,
    DType.U2: DType.U8,
}

_NUMPY: dict[DType, str | type] = {
    DType.F32: "float32",
    DType.F64: "float64",
    DType.F16: "float16",
    DType.I8: "int8",
    DType.U8: "uint8",
    DType.I16: "int16",
    DType.U16: "uint16",
    DType.I32: "int32",
    DType.U32: "uint32",
    DType.I64: "int64",
    DType.U64: "uint64",
    DType.BOOL: "bool",
    DType.BF16: ml_dtypes.bfloat16,
    DType.F8E4M3FN: ml_dtypes.float8_e4m3fn,
    DType.F8E4M3FNUZ: ml_dtypes.float8_e4m3fnuz,
    DType.F8E5M2: ml_dtypes.float8_e5m2,
    DType.F8E5M2FNUZ: ml_dtypes.float8_e5m2fnuz,
    DType.F8E8M0: ml_dtypes.float8_e8m0fnu,
    DType.F4E2M1: ml_dtypes.float4_e2m1fn,
    DType.I4: ml_dtypes.int4,
    DType.U4: ml_dtypes.uint4,
    DType.I2: ml_dtypes.int2,
    DType.U2: ml_dtypes.uint2,
}

_C_TYPES = {
    DType.F32: "float",
    DType.F64: "double",
    DType.F16: "uint16_t",
    DType.I8: "int8_t",
    DType.U8: "uint8_t",
    DType.I16: "int16_t",
    DType.U16: "uint16_t",
    DType.I32: "int32_t",
    DType.U32: "uint32_t",
    DType.I64: "int64_t",
    DType.U64: "uint64_t",
    DType.BOOL: "uint8_t",
}
_C_TYPES.update({low: _C_TYPES[store] for low, store in _STORAGE.items()})


def to_storage(data: np.ndarray, dtype: DType) -> np.ndarray:
    """`data` (of `dtype`) as the array C holds: bits of low-precision floats, sign- or
    zero-extended values of sub-byte integers; other types unchanged."""
    data = np.ascontiguousarray(np.asarray(data).astype(dtype.np, copy=False))
    if not dtype.is_lowp:
        return data
    if dtype.is_float:
        return data.view(dtype.storage.np)
    return data.astype(dtype.storage.np)


def from_storage(data: np.ndarray, dtype: DType) -> np.ndarray:
    """The inverse of `to_storage`: C's array back as `dtype`."""
    data = np.ascontiguousarray(np.asarray(data).astype(dtype.storage.np, copy=False))
    if not dtype.is_lowp:
        return data
    if dtype.is_float:
        return data.view(dtype.np)
    return data.astype(dtype.np)


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per `axis`."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None

    def __post_init__(self) -> None:
        if len(self.scale) != len(self.zero_point):
            raise ValueError("scale and zero_point lengths differ")
        if self.axis is None and len(self.scale) != 1:
            raise ValueError("per-tensor quantization takes exactly one scale")


@dataclass(frozen=True)
class TensorType:
    """A statically shaped tensor type, optionally quantized."""

    dtype: DType
    shape: tuple[int, ...]
    quant: QuantParams | None = None

    def __post_init__(self) -> None:
        if any((not isinstance(d, int)) or d < 0 for d in self.shape):
            raise ValueError(f"shape must be non-negative ints, got {self.shape}")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    def with_shape(self, shape: tuple[int, ...]) -> TensorType:
        return TensorType(self.dtype, tuple(shape), self.quant)

    def __str__(self) -> str:
        dims = ",".join(str(d) for d in self.shape)
        return f"{self.dtype.value}[{dims}]"
