"""Casts between element types: Cast and CastLike, through `tinyc_cast_<from>_<to>`.

The C rules (tinyc_cast.h) are numpy's `astype` where numpy is well defined: float to
float rounds to nearest even, integers wrap, anything to bool is `x != 0`. Float to
integer truncates and, where numpy's result is platform-defined, saturates (NaN gives 0).
The low-precision types (bfloat16, float8, float4, 4- and 2-bit integers) follow ONNX's
reference, ml_dtypes, computed through float32 or int64 as the C does; `saturate` is kept
only for the float8 targets, where it chooses clamping (1) or infinity/NaN (0); a cast to
float8e8m0 also keeps `round_mode` (up, down or nearest, on the float32 exponent). Strings
are refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ml_dtypes
import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.ewbase import cast_array
from tinyc.ops.registry import (
    Alias,
    Attr,
    MemoryBehavior,
    OpDef,
    elementwise_inplace,
    input_type,
    register_op,
)

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

#: ONNX TensorProto element type -> IR dtype
ONNX_TO_DTYPE = {
    1: DType.F32,
    2: DType.U8,
    3: DType.I8,
    4: DType.U16,
    5: DType.I16,
    6: DType.I32,
    7: DType.I64,
    9: DType.BOOL,
    10: DType.F16,
    11: DType.F64,
    12: DType.U32,
    13: DType.U64,
    16: DType.BF16,
    17: DType.F8E4M3FN,
    18: DType.F8E4M3FNUZ,
    19: DType.F8E5M2,
    20: DType.F8E5M2FNUZ,
    21: DType.U4,
    22: DType.I4,
    23: DType.F4E2M1,
    24: DType.F8E8M0,
    25: DType.U2,
    26: DType.I2,
}

#: the ops that take low-precision operands (casts, quantization, shape queries and moves
#: of whole elements, checked on these types); the frontend refuses them anywhere else
#: rather than let an op compute in them
LOWP_OPS = frozenset({"Cast", "CastLike", "QuantizeLinear", "DequantizeLinear", "Identity",
                      "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Size",
                      "ReverseSequence", "OneHot", "Compress"})

#: the targets whose conversion reads Cast's `saturate`
FLOAT8 = frozenset({DType.F8E4M3FN, DType.F8E4M3FNUZ, DType.F8E5M2, DType.F8E5M2FNUZ})


#: round_mode of a cast to float8e8m0 -> its C constant (tinyc_lowp.h)
E8M0_MODES = {"up": "TINYC_E8M0_UP", "down": "TINYC_E8M0_DOWN", "nearest": "TINYC_E8M0_NEAREST"}


def lowp_cast(
    x: np.ndarray, dtype: DType, saturate: bool = True, round_mode: str = "up"
) -> np.ndarray:
    """ONNX Cast into or out of a low-precision type, through float32 (floats) or int64
    (integers) as tinyc_cast.c computes: one rounding from float32, two from wider types."""
    src = DType.from_numpy(x.dtype)
    with np.errstate(all="ignore"):
        if src.is_lowp:
            x = x.astype(np.float32 if src.is_float else np.int64)
        if not dtype.is_lowp:
            return cast_array(x, dtype.np)
        if dtype is DType.F8E8M0:  # ONNX's own definition (ml_dtypes only rounds to nearest)
            from onnx.numpy_helper import to_float8e8m0

            return to_float8e8m0(x.astype(np.float32), saturate, round_mode)
        if dtype.is_float:
            x = x.astype(np.float32)
            if saturate and dtype in FLOAT8:
                big = float(ml_dtypes.finfo(dtype.np).max)
                x = np.where(np.isnan(x), x, np.clip(x, -big, big))
            return x.astype(dtype.np)
        if x.dtype.kind == "f":  # truncate; NaN and beyond int64 give 0, as in ml_dtypes
            x = np.where(np.abs(x) < 2.0**63, np.trunc(x), 0).astype(np.int64)
        return x.astype(np.int64).astype(dtype.np)


def cast_defined(x: np.ndarray, dtype: DType) -> np.ndarray:
    """Mask of the elements of float `x` whose Cast to integer `dtype` ONNX defines.

    The spec leaves float -> integer out of range undefined (NaN and infinities included).
    tinyc truncates and wraps (tinyc_cast.h); references differ between versions (ml_dtypes
    0.7 gives 0 where 0.5 wrapped), so tests compare only the defined elements."""
    if x.dtype.kind != "f" or dtype.is_float or dtype is DType.BOOL:
        return np.ones(x.shape, bool)
    if dtype in _LOWP_INT_RANGE:
        lo, hi = _LOWP_INT_RANGE[dtype]
    else:
        lo, hi = np.iinfo(dtype.np).min, np.iinfo(dtype.np).max
    with np.errstate(all="ignore"):
        t = np.trunc(x.astype(np.float64))
        return np.isfinite(t) & (t >= lo) & (t <= hi)


#: value range of the sub-byte integer types
_LOWP_INT_RANGE = {DType.I4: (-8, 7), DType.U4: (0, 15), DType.I2: (-2, 1), DType.U2: (0, 3)}


def _onnx_type_name(code: int) -> str:
    import onnx

    try:
        return onnx.TensorProto.DataType.Name(code)
    except ValueError:
        return str(code)


@register_op
class Cast(OpDef):
    """`to` is normalized from the ONNX type number to the IR dtype name."""

    name, min_opset = "Cast", 6  # `to` is a type number
    attrs = {"to": Attr("int"), "saturate": Attr("int", 1), "round_mode": Attr("string", "up")}

    def normalize(self, node: Node, opset: int) -> None:
        to = node.attrs["to"]
        if isinstance(to, int):
            if to not in ONNX_TO_DTYPE:
                raise UnsupportedError(
                    f"{node.op} node '{node.name}': target type {_onnx_type_name(to)} is "
                    f"not supported"
                )
            node.attrs["to"] = ONNX_TO_DTYPE[to].value
        to = DType(node.attrs["to"])
        saturate = node.attrs.pop("saturate", 1)
        if (to in FLOAT8 or to is DType.F8E8M0) and not saturate:
            node.attrs["saturate"] = 0  # absent means 1, the default
        mode = node.attrs.pop("round_mode", "up")
        if to is DType.F8E8M0 and mode != "up":
            if mode not in E8M0_MODES:
                raise ModelError(f"{node.op} node '{node.name}': round_mode {mode!r}")
            node.attrs["round_mode"] = mode  # absent means "up", the default

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType(node.attrs["to"]), input_type(node, 0).shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        to = DType(node.attrs["to"])
        if to.is_lowp or DType.from_numpy(x.dtype).is_lowp:
            saturate = bool(node.attrs.get("saturate", 1))
            return [lowp_cast(x, to, saturate, node.attrs.get("round_mode", "up"))]
        return [cast_array(x, to.np)]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """Same element size: the cast reads X[i] before it writes Y[i]."""
        x, y = node.inputs[0], node.outputs[0]
        if x is None or x.dtype.itemsize != y.dtype.itemsize or not y.type.numel:
            return []
        return [elementwise_inplace(node, 0)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if y.type.numel == 0:
            return
        if x.dtype is y.dtype:
            ctx.copy(y, x)
            return
        fn = f"tinyc_cast_{x.dtype.value}_{y.dtype.value}"
        if y.dtype is DType.F8E8M0:
            mode = E8M0_MODES[node.attrs.get("round_mode", "up")]
            saturate = 1 if node.attrs.get("saturate", 1) else 0
            ctx.call("cast", fn, ctx.ptr(x), ctx.ptr(y), y.type.numel, saturate, mode)
            return
        if not node.attrs.get("saturate", 1):
            fn += "_nosat"
        ctx.call("cast", fn, ctx.ptr(x), ctx.ptr(y), y.type.numel)


@register_op
class CastLike(Cast):
    """Cast to the element type of the second input; the IR keeps `to` and one input."""

    name, min_opset = "CastLike", 15
    attrs = {"saturate": Attr("int", 1), "round_mode": Attr("string", "up")}

    def normalize(self, node: Node, opset: int) -> None:
        if len(node.inputs) > 1:
            node.attrs["to"] = input_type(node, 1).dtype.value
            node.set_inputs(node.inputs[:1])
        super().normalize(node, opset)


@register_op
class BitCast(OpDef):
    """Reinterpret the bytes as `to` (same element size): a copy, or a view when the
    planner can alias it. Bytes are taken in the target's order (little endian on the
    usual MCUs, as ONNX requires)."""

    name, min_opset = "BitCast", 26
    attrs = {"to": Attr("int")}

    def normalize(self, node: Node, opset: int) -> None:
        Cast.normalize(self, node, opset)  # type: ignore[arg-type]
        x = input_type(node, 0)
        if DType(node.attrs["to"]).itemsize != x.dtype.itemsize:
            raise ModelError(f"BitCast node '{node.name}': {x.dtype.value} to "
                             f"{node.attrs['to']} changes the element size")

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType(node.attrs["to"]), input_type(node, 0).shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [np.ascontiguousarray(x).view(DType(node.attrs["to"]).np).copy()]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return [Alias(0, 0)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        ctx.copy(node.outputs[0], x)
