"""Elementwise ops: activations, unary math, broadcasting binary arithmetic, casts, and the
copies (Identity, Dropout at inference)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.activation import act_c_init, apply_activation
from tinyc.ops.layout import broadcast_shapes, broadcast_strides, c_int_list, merge_dims
from tinyc.ops.registry import Attr, OpDef, input_type, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def _require_float32(node: Node, ctx_what: str = "") -> None:
    dtype = input_type(node, 0).dtype
    if dtype is not DType.F32:
        raise UnsupportedError(
            f"op {node.op} (node '{node.name}') on {dtype.value} tensors{ctx_what} has no C kernel"
        )


class _SameType(OpDef):
    """Output has the type of input 0."""

    def infer(self, node: Node) -> list[TensorType]:
        return [input_type(node, 0)]


# -- activations -------------------------------------------------------------------------


class _Activation(_SameType):
    """A fusible activation, emitted standalone through `tinyc_activation_f32`."""

    def act_params(self, node: Node) -> list[float]:
        return []

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [apply_activation(inputs[0], self.name, self.act_params(node))]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        _require_float32(node)
        init, uses_math = act_c_init(self.name, self.act_params(node))
        ctx.uses_math |= uses_math
        act = ctx.params("tinyc_act", init, f"act_{node.outputs[0].name}")
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        ctx.call("elementwise", "tinyc_activation_f32", ctx.ptr(x), ctx.ptr(y), y.type.numel, act)


@register_op
class Relu(_Activation):
    name = "Relu"


@register_op
class Sigmoid(_Activation):
    name = "Sigmoid"


@register_op
class HardSwish(_Activation):
    name = "HardSwish"


@register_op
class LeakyRelu(_Activation):
    name = "LeakyRelu"
    attrs = {"alpha": Attr("float", 0.01)}

    def act_params(self, node: Node) -> list[float]:
        return [node.attrs["alpha"]]


@register_op
class HardSigmoid(_Activation):
    name = "HardSigmoid"
    attrs = {"alpha": Attr("float", 0.2), "beta": Attr("float", 0.5)}

    def act_params(self, node: Node) -> list[float]:
        return [node.attrs["alpha"], node.attrs["beta"]]


@register_op
class Clip(_Activation):
    """Clip's bounds are optional constant inputs (opset >= 11); the IR keeps them as the
    attributes `min` and `max` (infinite when absent)."""

    name = "Clip"
    attrs = {"min": Attr("float", float("-inf")), "max": Attr("float", float("inf"))}

    def normalize(self, node: Node, opset: int) -> None:
        for index, key in ((1, "min"), (2, "max")):
            value = node.input(index)
            if value is None:
                continue
            if value.const is None:
                raise UnsupportedError(
                    f"Clip node '{node.name}': run-time {key} bound is not supported"
                )
            node.attrs[key] = float(value.const.reshape(-1)[0])
        node.set_inputs(node.inputs[:1])

    def act_params(self, node: Node) -> list[float]:
        return [node.attrs["min"], node.attrs["max"]]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        lo, hi = node.attrs["min"], node.attrs["max"]
        if x.dtype.kind == "f":
            return [np.minimum(np.maximum(x, x.dtype.type(lo)), x.dtype.type(hi))]
        info = np.iinfo(x.dtype)
        lo_i = info.min if lo == float("-inf") else int(lo)
        hi_i = info.max if hi == float("inf") else int(hi)
        return [np.clip(x, lo_i, hi_i).astype(x.dtype)]


# -- unary math --------------------------------------------------------------------------


class _Unary(_SameType):
    kernel: ClassVar[str] = ""

    def ref_fn(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        with np.errstate(all="ignore"):
            return [np.asarray(self.ref_fn(inputs[0])).astype(inputs[0].dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        _require_float32(node)
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        ctx.call("elementwise", f"tinyc_{self.kernel}_f32", ctx.ptr(x), ctx.ptr(y), y.type.numel)


@register_op
class Tanh(_Unary):
    name, kernel = "Tanh", "tanh"

    def ref_fn(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)


# -- binary arithmetic -------------------------------------------------------------------

_BINARY_DTYPES = {DType.F32: "f32", DType.F64: "f64", DType.I32: "i32", DType.I64: "i64"}


class _Binary(OpDef):
    kernel: ClassVar[str] = ""

    def infer(self, node: Node) -> list[TensorType]:
        a, b = input_type(node, 0), input_type(node, 1)
        if a.dtype is not b.dtype:
            raise ModelError(
                f"{node.op} node '{node.name}': input types {a.dtype.value} and "
                f"{b.dtype.value} differ"
            )
        where = f"{node.op} node '{node.name}'"
        return [TensorType(a.dtype, broadcast_shapes(a.shape, b.shape, where=where))]

    def ref_fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a, b = inputs
        assert a is not None and b is not None
        with np.errstate(all="ignore"):
            out = np.asarray(self.ref_fn(a, b)).astype(a.dtype)
        act = node.attrs.get("activation", "")
        return [apply_activation(out, act, node.attrs.get("activation_params", []))]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        a, b = node.inputs
        y = node.outputs[0]
        assert a is not None and b is not None
        sfx = _BINARY_DTYPES.get(y.dtype)
        act_name = node.attrs.get("activation", "")
        if sfx is None or (act_name and sfx != "f32"):
            raise UnsupportedError(
                f"op {node.op} (node '{node.name}') on {y.dtype.value} has no C kernel"
            )
        dims, (sa, sb) = merge_dims(
            y.shape, broadcast_strides(a.shape, y.shape), broadcast_strides(b.shape, y.shape)
        )
        bc = ctx.params(
            "tinyc_bcast",
            f"{{{len(dims)}, {c_int_list(dims)}, {c_int_list(sa)}, {c_int_list(sb)}}}",
            f"bcast_{y.name}",
        )
        if act_name:
            # fused activation (set by the fuse-activation pass): tinyc_add_act_f32 & co.
            init, uses_math = act_c_init(act_name, node.attrs.get("activation_params", []))
            ctx.uses_math |= uses_math
            act = ctx.params("tinyc_act", init, f"act_{y.name}")
            ctx.call("elementwise", f"tinyc_{self.kernel}_act_f32", ctx.ptr(a), ctx.ptr(b),
                     ctx.ptr(y), bc, act)
            return
        ctx.call(
            "elementwise", f"tinyc_{self.kernel}_{sfx}", ctx.ptr(a), ctx.ptr(b), ctx.ptr(y), bc
        )


@register_op
class Add(_Binary):
    name, kernel = "Add", "add"

    def ref_fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b


@register_op
class Sub(_Binary):
    name, kernel = "Sub", "sub"

    def ref_fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b


@register_op
class Mul(_Binary):
    name, kernel = "Mul", "mul"

    def ref_fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b


@register_op
class Div(_Binary):
    """Integer division truncates toward zero, as C does."""

    name, kernel = "Div", "div"

    def ref_fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.dtype.kind in "iu":
            q = np.abs(a) // np.where(b == 0, 1, np.abs(b))
            return np.where((a < 0) != (b < 0), -q, q)
        return a / b


# -- casts and copies --------------------------------------------------------------------

_ONNX_TO_DTYPE = {
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
}


@register_op
class Cast(OpDef):
    """`to` is normalized from the ONNX type number to the IR dtype name."""

    name = "Cast"
    attrs = {"to": Attr("int"), "saturate": Attr("int", 1)}

    def normalize(self, node: Node, opset: int) -> None:
        to = node.attrs["to"]
        if isinstance(to, int):
            if to not in _ONNX_TO_DTYPE:
                raise UnsupportedError(f"Cast node '{node.name}': target type {to} unsupported")
            node.attrs["to"] = _ONNX_TO_DTYPE[to].value
        node.attrs.pop("saturate", None)

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType(node.attrs["to"]), input_type(node, 0).shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        with np.errstate(all="ignore"):
            return [inputs[0].astype(DType(node.attrs["to"]).np)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if DType.F16 in (x.dtype, y.dtype):
            raise UnsupportedError(f"Cast node '{node.name}': float16 has no C kernel")
        if x.dtype is y.dtype:
            ctx.copy(y, x)
            return
        fn = f"tinyc_cast_{x.dtype.value}_{y.dtype.value}"
        ctx.call("elementwise", fn, ctx.ptr(x), ctx.ptr(y), y.type.numel)


@register_op
class Identity(_SameType):
    name = "Identity"

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [inputs[0].copy()]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        ctx.copy(node.outputs[0], x)


@register_op
class Dropout(OpDef):
    """Inference only: y = x, and the optional mask is all true."""

    name = "Dropout"
    attrs = {"seed": Attr("int", 0), "ratio": Attr("float", 0.5)}

    def normalize(self, node: Node, opset: int) -> None:
        training = node.input(2)
        if training is not None and (training.const is None or bool(training.const.any())):
            raise UnsupportedError(f"Dropout node '{node.name}': training mode is not supported")
        node.set_inputs(node.inputs[:1])

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        return [x, TensorType(DType.BOOL, x.shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [x.copy(), np.ones(x.shape, bool)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        ctx.copy(node.outputs[0], x)
        if len(node.outputs) > 1 and node.outputs[1].type.numel:
            mask = node.outputs[1]
            ctx.body.line(f"memset({ctx.ptr(mask)}, 1, {mask.type.numel});")
