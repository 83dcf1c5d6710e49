"""Elementwise ops: activations, unary math, broadcasting binary arithmetic, the variadic
Max/Min/Sum/Mean, and the copies (Identity, Dropout at inference).

Kernels per dtype (see `ewbase.ARITH_FAMILY`): float32 in `tinyc_elementwise`, float64,
float16 and the integer types in families of their own with the same kernel names under
their suffix. Integer arithmetic wraps like numpy; division and modulo by zero give 0 (the
C kernels and the numpy references below agree bit for bit)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType, Value
from tinyc.ops.activation import act_c_init, apply_activation
from tinyc.ops.ewbase import (
    FLOAT_TYPES,
    INT_TYPES,
    NUM_TYPES,
    arith_family,
    emit_binary,
    emit_unary,
    inplace_same_shape,
    int_div,
    int_mod,
    refuse,
    saturate_cast,
    sfx,
)
from tinyc.ops.layout import broadcast_shapes
from tinyc.ops.registry import (
    Alias,
    Attr,
    MemoryBehavior,
    OpDef,
    input_type,
    register_op,
)

#: Clip's bounds before opset 11, where they are attributes (float32's largest value)
FLT_MAX = float(np.finfo(np.float32).max)

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


class _SameType(OpDef):
    """Output has the type of input 0."""

    def infer(self, node: Node) -> list[TensorType]:
        return [input_type(node, 0)]


def _float_param(value: float) -> str:
    return c_scalar(float(np.float32(value)), DType.F32)


def _emit_act_f32(ctx: EmitContext, x: str, y: Value, name: str, params: list[float]) -> None:
    """`tinyc_activation_f32` over y (x is a pointer expression of y's size)."""
    init, uses_math = act_c_init(name, params)
    ctx.uses_math |= uses_math
    act = ctx.params("tinyc_act", init, f"act_{y.name}")
    ctx.call("elementwise", "tinyc_activation_f32", x, ctx.ptr(y), y.type.numel, act)


# -- activations -------------------------------------------------------------------------


class _Activation(_SameType):
    """A fusible activation: float32 through `tinyc_activation_f32`, float64 and float16
    through the unary kernel `tinyc_<kernel>_<sfx>` (with `act_params` as its a, b)."""

    kernel: ClassVar[str] = ""
    #: the unary kernel takes the two constants (a, b)
    takes_params: ClassVar[bool] = True
    min_opset = 6  # no more `consumed_inputs`

    def act_params(self, node: Node) -> list[float]:
        return []

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """The kernels read X[i] before they write Y[i] (Y may equal X)."""
        return inplace_same_shape(node, [0])

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [apply_activation(inputs[0], self.name, self.act_params(node))]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if y.type.numel == 0:
            return
        if y.dtype is DType.F32:
            _emit_act_f32(ctx, ctx.ptr(x), y, self.name, self.act_params(node))
            return
        family = arith_family(node, y.dtype, FLOAT_TYPES)
        fn = f"tinyc_{self.kernel}_{sfx(y.dtype)}"
        if not self.takes_params:
            emit_unary(ctx, family, fn, x, y)
            return
        params = (list(self.act_params(node)) + [0.0, 0.0])[:2]
        c_params = [_float_param(p) for p in params]
        ctx.uses_math |= any("INF" in p or "NAN" in p for p in c_params)
        emit_unary(ctx, family, fn, x, y, *c_params)


@register_op
class Relu(_Activation):
    name, kernel, takes_params = "Relu", "relu", False


@register_op
class Sigmoid(_Activation):
    name, kernel, takes_params = "Sigmoid", "sigmoid", False


@register_op
class HardSwish(_Activation):
    name, kernel, min_opset = "HardSwish", "hard_swish", 14


@register_op
class LeakyRelu(_Activation):
    name, kernel = "LeakyRelu", "leaky_relu"
    attrs = {"alpha": Attr("float", 0.01)}

    def act_params(self, node: Node) -> list[float]:
        return [node.attrs["alpha"]]


@register_op
class HardSigmoid(_Activation):
    name, kernel = "HardSigmoid", "hard_sigmoid"
    attrs = {"alpha": Attr("float", 0.2), "beta": Attr("float", 0.5)}

    def act_params(self, node: Node) -> list[float]:
        return [node.attrs["alpha"], node.attrs["beta"]]


@register_op
class Clip(_Activation):
    """Clip's bounds are optional inputs (opset >= 11) or attributes (older). Constant
    bounds become the attributes `min` and `max` (infinite when absent); a bound computed at
    run time stays an input (1 = min, 2 = max) and is applied with the Max/Min kernels, lower
    bound first, as numpy's clip does. Integer tensors use `tinyc_clip_<sfx>`. Before
    opset 11 the attributes default to -+FLT_MAX, so an infinite input comes out finite."""

    name, kernel = "Clip", "clip"
    attrs = {"min": Attr("float", float("-inf"), legacy=((11, -FLT_MAX),)),
             "max": Attr("float", float("inf"), legacy=((11, FLT_MAX),))}

    def normalize(self, node: Node, opset: int) -> None:
        runtime: list[Value | None] = [None, None]
        for index, key in ((1, "min"), (2, "max")):
            value = node.input(index)
            if value is None:
                continue
            if value.const is None:
                if value.type.numel != 1:
                    raise ModelError(f"Clip node '{node.name}': {key} must be a scalar")
                runtime[index - 1] = value
                continue
            node.attrs[key] = float(value.const.reshape(-1)[0])
        if runtime[0] is None and runtime[1] is None:
            node.set_inputs(node.inputs[:1])
        else:
            node.set_inputs([node.inputs[0], *runtime])

    def act_params(self, node: Node) -> list[float]:
        return [node.attrs["min"], node.attrs["max"]]

    def _bounds(self, x: np.ndarray, node: Node) -> tuple[object, object]:
        lo, hi = node.attrs["min"], node.attrs["max"]
        if x.dtype.kind == "f":
            return x.dtype.type(lo), x.dtype.type(hi)
        info = np.iinfo(x.dtype)
        return (info.min if lo == float("-inf") else max(int(lo), int(info.min)),
                info.max if hi == float("inf") else min(int(hi), int(info.max)))

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        lo, hi = self._bounds(x, node)
        with np.errstate(invalid="ignore"):
            y = np.maximum(x, np.asarray(lo, x.dtype))
            if len(inputs) > 1 and inputs[1] is not None:
                y = np.maximum(y, inputs[1].reshape(()))
            y = np.minimum(y, np.asarray(hi, x.dtype))
            if len(inputs) > 2 and inputs[2] is not None:
                y = np.minimum(y, inputs[2].reshape(()))
        return [np.asarray(y).astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if y.type.numel == 0:
            return
        lo_rt, hi_rt = node.input(1), node.input(2)
        if lo_rt is None and hi_rt is None:
            self._emit_const(node, ctx, ctx.ptr(x), node.attrs["min"], node.attrs["max"])
            return
        family = arith_family(node, y.dtype)
        s = sfx(y.dtype)
        # the lower bound, then the upper bound; each is a constant or a run-time scalar
        self._emit_const(node, ctx, ctx.ptr(x), node.attrs["min"], float("inf"))
        if lo_rt is not None:
            emit_binary(ctx, family, f"tinyc_max_{s}", (ctx.ptr(y), y.shape), lo_rt, y)
        if node.attrs["max"] != float("inf"):
            self._emit_const(node, ctx, ctx.ptr(y), float("-inf"), node.attrs["max"])
        if hi_rt is not None:
            emit_binary(ctx, family, f"tinyc_min_{s}", (ctx.ptr(y), y.shape), hi_rt, y)

    def _emit_const(self, node: Node, ctx: EmitContext, x: str, lo: float, hi: float) -> None:
        """y = clip(x, lo, hi) for constant bounds (x: a pointer of y's size)."""
        y = node.outputs[0]
        if y.dtype is DType.F32:
            _emit_act_f32(ctx, x, y, "Clip", [lo, hi])
            return
        if y.dtype in FLOAT_TYPES:
            c_params = [_float_param(p) for p in (lo, hi)]
            ctx.uses_math |= any("INF" in p for p in c_params)
            ctx.call(arith_family(node, y.dtype), f"tinyc_clip_{sfx(y.dtype)}", x, ctx.ptr(y),
                     y.type.numel, *c_params)
            return
        family = arith_family(node, y.dtype, INT_TYPES)
        info = np.iinfo(y.dtype.np)
        c_lo = c_scalar(info.min if lo == float("-inf") else max(int(lo), int(info.min)), y.dtype)
        c_hi = c_scalar(info.max if hi == float("inf") else min(int(hi), int(info.max)), y.dtype)
        ctx.call(family, f"tinyc_clip_{sfx(y.dtype)}", x, ctx.ptr(y), y.type.numel, c_lo, c_hi)


# -- unary math --------------------------------------------------------------------------


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x)))


class _Unary(_SameType):
    """Y = f(X) through `tinyc_<kernel>_<sfx>` on the dtypes in `types`."""

    kernel: ClassVar[str] = ""
    types: ClassVar[tuple[DType, ...]] = FLOAT_TYPES
    min_opset = 6

    def ref_fn(self, x: np.ndarray, node: Node) -> np.ndarray:
        raise NotImplementedError

    def kernel_params(self, node: Node) -> list[float] | None:
        """The two constants (a, b) of a parameterized kernel, or None."""
        return None

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """The unary kernels read X[i] before they write Y[i] (Y may equal X)."""
        return inplace_same_shape(node, [0])

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        with np.errstate(all="ignore"):
            return [np.asarray(self.ref_fn(x, node)).astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        family = arith_family(node, y.dtype, self.types)
        fn = f"tinyc_{self.kernel}_{sfx(y.dtype)}"
        params = self.kernel_params(node)
        if params is None:
            emit_unary(ctx, family, fn, x, y)
        else:
            emit_unary(ctx, family, fn, x, y, *(_float_param(p) for p in params))


def _unary(
    op: str, kernel: str, fn: object, types: tuple[DType, ...] = FLOAT_TYPES, since: int = 6
) -> None:
    """Register a plain unary op whose numpy semantics is `fn(x)`, read from opset `since`."""

    def ref_fn(self: _Unary, x: np.ndarray, node: Node) -> np.ndarray:
        return fn(x)  # type: ignore[operator]

    cls = type(op, (_Unary,), {"name": op, "kernel": kernel, "types": types, "ref_fn": ref_fn,
                               "min_opset": since,
                               "__doc__": f"{op}: elementwise, `tinyc_{kernel}_<dtype>`."})
    register_op(cls)


_unary("Tanh", "tanh", np.tanh)
_unary("Exp", "exp", np.exp)
_unary("Log", "log", np.log)
_unary("Sqrt", "sqrt", np.sqrt)
_unary("Reciprocal", "reciprocal", np.reciprocal)
_unary("Floor", "floor", np.floor)
_unary("Ceil", "ceil", np.ceil)
_unary("Round", "round", np.round, since=11)  # half to even, like rint
_unary("Erf", "erf", _erf, since=9)
_unary("Sin", "sin", np.sin, since=7)
_unary("Cos", "cos", np.cos, since=7)
_unary("Tan", "tan", np.tan, since=7)
_unary("Asin", "asin", np.arcsin, since=7)
_unary("Acos", "acos", np.arccos, since=7)
_unary("Atan", "atan", np.arctan, since=7)
_unary("Sinh", "sinh", np.sinh, since=9)
_unary("Cosh", "cosh", np.cosh, since=9)
_unary("Asinh", "asinh", np.arcsinh, since=9)
_unary("Acosh", "acosh", np.arccosh, since=9)
_unary("Atanh", "atanh", np.arctanh, since=9)
_unary("Softplus", "softplus", _softplus, since=1)
_unary("Softsign", "softsign", lambda x: x / (1 + np.abs(x)), since=1)
_unary("Mish", "mish", lambda x: x * np.tanh(_softplus(x)), since=18)
_unary("Neg", "neg", np.negative, NUM_TYPES)
_unary("Abs", "abs", np.abs, NUM_TYPES)
_unary("Sign", "sign", np.sign, NUM_TYPES, since=9)


@register_op
class Gelu(_Unary):
    """approximate="none": x/2 (1 + erf(x/sqrt 2)); "tanh": the tanh approximation."""

    name, min_opset = "Gelu", 20
    attrs = {"approximate": Attr("string", "none")}

    def normalize(self, node: Node, opset: int) -> None:
        if node.attrs["approximate"] not in ("none", "tanh"):
            raise ModelError(f"Gelu node '{node.name}': approximate={node.attrs['approximate']}")

    def ref_fn(self, x: np.ndarray, node: Node) -> np.ndarray:
        v = x.astype(np.float64)
        if node.attrs["approximate"] == "tanh":
            return 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))
        return 0.5 * v * (1 + _erf(v / math.sqrt(2)))

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        family = arith_family(node, y.dtype, FLOAT_TYPES)
        kernel = "gelu_tanh" if node.attrs["approximate"] == "tanh" else "gelu"
        emit_unary(ctx, family, f"tinyc_{kernel}_{sfx(y.dtype)}", x, y)


class _ParamUnary(_Unary):
    """A float activation with constants: `tinyc_<kernel>_<sfx>(X, Y, n, a, b)`."""

    param_names: ClassVar[tuple[str, ...]] = ()

    def kernel_params(self, node: Node) -> list[float]:
        values = [float(node.attrs[k]) for k in self.param_names]
        return (values + [0.0, 0.0])[:2]

    def ref_fn(self, x: np.ndarray, node: Node) -> np.ndarray:
        a, b = (x.dtype.type(np.float32(p)) for p in self.kernel_params(node))
        return self.formula(x, a, b)

    def formula(self, x: np.ndarray, a: np.generic, b: np.generic) -> np.ndarray:
        raise NotImplementedError


@register_op
class Elu(_ParamUnary):
    name, kernel, param_names = "Elu", "elu", ("alpha",)
    attrs = {"alpha": Attr("float", 1.0)}

    def formula(self, x: np.ndarray, a: np.generic, b: np.generic) -> np.ndarray:
        return np.where(x < 0, a * np.expm1(x), x)


@register_op
class Selu(_ParamUnary):
    name, kernel, param_names = "Selu", "selu", ("alpha", "gamma")
    attrs = {"alpha": Attr("float", 1.67326319217681884765625),
             "gamma": Attr("float", 1.05070102214813232421875)}

    def formula(self, x: np.ndarray, a: np.generic, b: np.generic) -> np.ndarray:
        return np.where(x <= 0, b * (a * np.exp(x) - a), b * x)


@register_op
class Celu(_ParamUnary):
    name, kernel, param_names, min_opset = "Celu", "celu", ("alpha",), 12
    attrs = {"alpha": Attr("float", 1.0)}

    def formula(self, x: np.ndarray, a: np.generic, b: np.generic) -> np.ndarray:
        return np.maximum(x, 0) + np.minimum(a * np.expm1(x / a), 0)


@register_op
class ThresholdedRelu(_ParamUnary):
    name, kernel, param_names = "ThresholdedRelu", "thresholded_relu", ("alpha",)
    min_opset = 10
    attrs = {"alpha": Attr("float", 1.0)}

    def formula(self, x: np.ndarray, a: np.generic, b: np.generic) -> np.ndarray:
        return np.where(x > a, x, 0)


@register_op
class Shrink(_ParamUnary):
    name, kernel, param_names, min_opset = "Shrink", "shrink", ("bias", "lambd"), 9
    attrs = {"bias": Attr("float", 0.0), "lambd": Attr("float", 0.5)}

    def formula(self, x: np.ndarray, a: np.generic, b: np.generic) -> np.ndarray:
        return np.where(x < -b, x + a, np.where(x > b, x - a, 0))


@register_op
class Swish(_ParamUnary):
    name, kernel, param_names, min_opset = "Swish", "swish", ("alpha",), 24
    attrs = {"alpha": Attr("float", 1.0)}

    def formula(self, x: np.ndarray, a: np.generic, b: np.generic) -> np.ndarray:
        return x / (1 + np.exp(-a * x))


# -- binary arithmetic -------------------------------------------------------------------


class _Binary(OpDef):
    """Y = A op B with numpy broadcasting, `tinyc_<kernel>_<sfx>` on the `types`. A fused
    activation (attributes `activation`, `activation_params`, float32 only) is applied in
    place after the kernel."""

    kernel: ClassVar[str] = ""
    types: ClassVar[tuple[DType, ...]] = NUM_TYPES
    min_opset = 7  # numpy broadcasting, no `broadcast` attribute

    def infer(self, node: Node) -> list[TensorType]:
        a, b = input_type(node, 0), input_type(node, 1)
        if a.dtype is not b.dtype:
            raise ModelError(
                f"{node.op} node '{node.name}': input types {a.dtype.value} and "
                f"{b.dtype.value} differ"
            )
        where = f"{node.op} node '{node.name}'"
        return [TensorType(a.dtype, broadcast_shapes(a.shape, b.shape, where=where))]

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        raise NotImplementedError

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """The binary kernels walk Y in order and read A and B at an element before they
        write it, so Y may overwrite an operand of Y's own shape (not a broadcast one)."""
        y = node.outputs[0]
        if y.dtype not in self.types:
            return []
        return inplace_same_shape(node)

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a, b = inputs
        assert a is not None and b is not None
        with np.errstate(all="ignore"):
            out = np.asarray(self.ref_fn(a, b, node)).astype(a.dtype)
        act = node.attrs.get("activation", "")
        return [apply_activation(out, act, node.attrs.get("activation_params", []))]

    def kernel_name(self, node: Node) -> str:
        return self.kernel

    def emit(self, node: Node, ctx: EmitContext) -> None:
        a, b = node.inputs
        y = node.outputs[0]
        assert a is not None and b is not None
        act = node.attrs.get("activation", "")
        if act and y.dtype is not DType.F32:
            raise refuse(node, f"on {y.dtype.value} tensors with a fused activation")
        family = arith_family(node, y.dtype, self.types)
        if act and self.kernel in ("add", "sub", "mul", "div"):
            # one pass: tinyc_<op>_act_f32 applies the activation before each store
            init, uses_math = act_c_init(act, list(node.attrs.get("activation_params", [])))
            ctx.uses_math |= uses_math
            params = ctx.params("tinyc_act", init, f"act_{y.name}")
            emit_binary(ctx, family, f"tinyc_{self.kernel}_act_f32", a, b, y, extra=(params,))
            return
        emit_binary(ctx, family, f"tinyc_{self.kernel_name(node)}_{sfx(y.dtype)}", a, b, y)
        if act and y.type.numel:
            _emit_act_f32(ctx, ctx.ptr(y), y, act, list(node.attrs.get("activation_params", [])))


@register_op
class Add(_Binary):
    name, kernel = "Add", "add"

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        return a + b


@register_op
class Sub(_Binary):
    name, kernel = "Sub", "sub"

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        return a - b


@register_op
class Mul(_Binary):
    name, kernel = "Mul", "mul"

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        return a * b


@register_op
class Div(_Binary):
    """Integer division truncates toward zero, as C does; x / 0 gives 0."""

    name, kernel = "Div", "div"

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        if a.dtype.kind in "iu":
            return int_div(a, b)
        return a / b


@register_op
class Mod(_Binary):
    """fmod=0: the result has the sign of the divisor (numpy mod); fmod=1: of the
    dividend (C fmod). x % 0 gives 0 for integers, NaN for floats."""

    name, min_opset = "Mod", 10
    attrs = {"fmod": Attr("int", 0)}

    def kernel_name(self, node: Node) -> str:
        return "fmod" if node.attrs["fmod"] else "mod"

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        if a.dtype.kind in "iu":
            return int_mod(a, b, bool(node.attrs["fmod"]))
        return np.fmod(a, b) if node.attrs["fmod"] else np.mod(a, b)


@register_op
class PRelu(_Binary):
    """Y = X < 0 ? slope * X : X, the slope broadcast to X."""

    name, kernel, types = "PRelu", "prelu", FLOAT_TYPES

    def infer(self, node: Node) -> list[TensorType]:
        (y,) = super().infer(node)
        if y.shape != input_type(node, 0).shape:
            raise ModelError(f"PRelu node '{node.name}': slope does not broadcast to X")
        return [y]

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        return np.where(a < 0, b * a, a)


#: base dtype -> exponent dtypes with a pow kernel
_POW_KERNELS = {
    DType.F32: (DType.F32, DType.F64, DType.I32, DType.I64, DType.U32, DType.U64),
    DType.F64: (DType.F32, DType.F64, DType.I32, DType.I64),
    DType.F16: (DType.F16,),
    DType.I32: (DType.I32, DType.I64, DType.F32, DType.F64),
    DType.I64: (DType.I32, DType.I64, DType.F32, DType.F64),
}


@register_op
class Pow(_Binary):
    """Y = A ^ B with the type of A; B may have another numeric type. A float base computes
    in its type (in double when the exponent is not the base's type); an integer base with
    an integer exponent multiplies exactly, wrapping (a negative exponent gives 0 unless the
    base is +-1); with a float exponent it computes in double and converts back
    saturating."""

    name = "Pow"

    def infer(self, node: Node) -> list[TensorType]:
        a, b = input_type(node, 0), input_type(node, 1)
        where = f"Pow node '{node.name}'"
        return [TensorType(a.dtype, broadcast_shapes(a.shape, b.shape, where=where))]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return inplace_same_shape(node, [0])

    def ref_fn(self, a: np.ndarray, b: np.ndarray, node: Node) -> np.ndarray:
        if a.dtype.kind == "f":
            if a.dtype == b.dtype and a.dtype != np.float64:
                return np.power(a.astype(np.float32), b.astype(np.float32))
            return np.power(a.astype(np.float64), b.astype(np.float64))
        if b.dtype.kind == "f":
            return saturate_cast(np.power(a.astype(np.float64), b.astype(np.float64)), a.dtype)
        e = b.astype(np.int64)
        pos = np.power(a, np.maximum(e, 0).astype(a.dtype))
        odd = (e % 2) != 0
        neg = np.where(a == 1, 1, np.where(a == -1, np.where(odd, -1, 1), 0))
        return np.where(e < 0, neg, pos)

    def emit(self, node: Node, ctx: EmitContext) -> None:
        a, b = node.inputs
        y = node.outputs[0]
        assert a is not None and b is not None
        if b.dtype not in _POW_KERNELS.get(a.dtype, ()):
            raise refuse(node, f"on {a.dtype.value} ^ {b.dtype.value}")
        family = arith_family(node, a.dtype)
        emit_binary(ctx, family, f"tinyc_pow_{sfx(a.dtype)}_{sfx(b.dtype)}", a, b, y)


# -- variadic ----------------------------------------------------------------------------


class _Variadic(OpDef):
    """Y = in0 op in1 op ... with numpy broadcasting: the first pair into Y, then Y op in_k
    for each further input (Mean divides the sum by the count)."""

    kernel: ClassVar[str] = ""
    types: ClassVar[tuple[DType, ...]] = NUM_TYPES
    min_opset = 8  # numpy broadcasting

    def infer(self, node: Node) -> list[TensorType]:
        types = [input_type(node, i) for i in range(len(node.inputs))]
        if not types:
            raise ModelError(f"{node.op} node '{node.name}': no inputs")
        if any(t.dtype is not types[0].dtype for t in types):
            raise ModelError(f"{node.op} node '{node.name}': input types differ")
        where = f"{node.op} node '{node.name}'"
        shape = broadcast_shapes(*(t.shape for t in types), where=where)
        return [TensorType(types[0].dtype, shape)]

    def pair(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def finish(self, y: np.ndarray, count: int) -> np.ndarray:
        return y

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        arrays = [x for x in inputs if x is not None]
        shape = np.broadcast_shapes(*(x.shape for x in arrays))
        y = np.broadcast_to(arrays[0], shape).copy()
        with np.errstate(all="ignore"):
            for x in arrays[1:]:
                y = np.asarray(self.pair(y, x)).astype(arrays[0].dtype)
            return [np.asarray(self.finish(y, len(arrays))).astype(arrays[0].dtype)]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """Only the first two inputs are read before Y is first written."""
        return inplace_same_shape(node, [0, 1])

    def emit(self, node: Node, ctx: EmitContext) -> None:
        y = node.outputs[0]
        family = arith_family(node, y.dtype, self.types)
        fn = f"tinyc_{self.kernel}_{sfx(y.dtype)}"
        xs = [v for v in node.inputs if v is not None]
        if y.type.numel == 0:
            return
        if len(xs) == 1:
            ctx.copy(y, xs[0])  # one input: its shape is the output's
        else:
            emit_binary(ctx, family, fn, xs[0], xs[1], y)
            for x in xs[2:]:
                emit_binary(ctx, family, fn, (ctx.ptr(y), y.shape), x, y)
        self.emit_finish(node, ctx, family, len(xs))

    def emit_finish(self, node: Node, ctx: EmitContext, family: str, count: int) -> None:
        pass


@register_op
class Max(_Variadic):
    name, kernel = "Max", "max"

    def pair(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(a, b)


@register_op
class Min(_Variadic):
    name, kernel = "Min", "min"

    def pair(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.minimum(a, b)


@register_op
class Sum(_Variadic):
    name, kernel = "Sum", "add"

    def pair(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b


@register_op
class Mean(_Variadic):
    name, kernel, types = "Mean", "add", FLOAT_TYPES

    def pair(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def finish(self, y: np.ndarray, count: int) -> np.ndarray:
        return y / y.dtype.type(count)

    def emit_finish(self, node: Node, ctx: EmitContext, family: str, count: int) -> None:
        if count == 1:
            return
        y = node.outputs[0]
        n = ctx.table(y.dtype, [count], f"count_{y.name}")
        emit_binary(ctx, family, f"tinyc_div_{sfx(y.dtype)}", (ctx.ptr(y), y.shape), (n, ()), y)


# -- copies ------------------------------------------------------------------------------


@register_op
class Identity(_SameType):
    name, min_opset = "Identity", 1

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [inputs[0].copy()]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return [Alias(0, 0)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        ctx.copy(node.outputs[0], x)


@register_op
class Dropout(OpDef):
    """Inference only: y = x, and the optional mask is constant. Its form follows the
    opset: the input's type before opset 10, bool from then on; all false before opset 12
    (what onnxruntime writes; the spec leaves it open), all true from then on. `normalize`
    records that as `mask_dtype` and `mask_fill`."""

    name, min_opset = "Dropout", 7
    attrs = {"seed": Attr("int", 0), "ratio": Attr("float", 0.5)}

    def normalize(self, node: Node, opset: int) -> None:
        training = node.input(2)
        if training is not None and (training.const is None or bool(training.const.any())):
            raise UnsupportedError(f"Dropout node '{node.name}': training mode is not supported")
        node.set_inputs(node.inputs[:1])
        node.attrs["mask_dtype"] = input_type(node, 0).dtype.value if opset < 10 else "bool"
        node.attrs["mask_fill"] = 0 if opset < 12 else 1

    def mask(self, node: Node, shape: tuple[int, ...]) -> np.ndarray:
        """The mask output's value."""
        dtype = DType(node.attrs.get("mask_dtype", "bool"))
        return np.full(shape, node.attrs.get("mask_fill", 1)).astype(dtype.np)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        return [x, TensorType(DType(node.attrs.get("mask_dtype", "bool")), x.shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [x.copy(), self.mask(node, x.shape)]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return [Alias(0, 0)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        ctx.copy(node.outputs[0], x)
        if len(node.outputs) > 1 and node.outputs[1].type.numel:
            mask = node.outputs[1]
            if node.attrs.get("mask_fill", 1) == 0:  # all-zero bytes: false, or 0.0
                ctx.body.line(f"memset({ctx.ptr(mask)}, 0, {mask.type.nbytes});")
                return
            ctx.body.line(f"memset({ctx.ptr(mask)}, 1, {mask.type.numel});")


def is_elementwise(opdef: OpDef) -> bool:
    """Each output element is computed from the same-index elements of the (numpy
    broadcast) inputs, and no attribute names an axis: such an op commutes with a Transpose
    (layout passes move Transposes across it)."""
    return isinstance(opdef, (_Activation, _Unary, _Binary, _Variadic, Identity))
