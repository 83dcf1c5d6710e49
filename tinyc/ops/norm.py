"""Normalization-like ops: BatchNormalization (inference), Softmax, and the statistics
based ones: LayerNormalization, InstanceNormalization, GroupNormalization,
RMSNormalization, LRN, LpNormalization (kernels in tinyc_normalize.h).

The statistics-based ones share one C row kernel: the tensor is viewed as rows normalized
independently, and each op only says how rows and parameters line up (`RowNorm`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod
from typing import TYPE_CHECKING

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import c_int_list, split_axis, strides
from tinyc.ops.registry import (
    COERCED_AXIS_ATTRS,
    EPSILON,
    POSITIVE,
    Attr,
    MemoryBehavior,
    OpDef,
    const_input,
    elementwise_inplace,
    input_type,
    normalize_axis,
    normalize_coerced_axis,
    register_op,
)

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


def batchnorm_scale_shift(node: Node) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (scale, shift) with y = x * scale + shift, computed in float64 from the
    four constant parameters and rounded once to float32."""
    gamma, beta, mean, var = (
        const_input(node, i, what).astype(np.float64)
        for i, what in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance"))
    )
    scale = gamma / np.sqrt(var + node.attrs["epsilon"])
    shift = beta - mean * scale
    return scale.astype(np.float32), shift.astype(np.float32)


@register_op
class BatchNormalization(OpDef):
    """Inference mode only: the four parameters are constants folded into scale and shift."""

    name = "BatchNormalization"
    min_opset = 7
    attrs = {
        "epsilon": EPSILON,
        "momentum": Attr("float", 0.9),
        "training_mode": Attr("int", 0),
        "spatial": Attr("int", 1),
    }

    def normalize(self, node: Node, opset: int) -> None:
        if node.attrs.pop("training_mode", 0) or len(node.outputs) > 1:
            raise UnsupportedError(
                f"BatchNormalization node '{node.name}': training mode is not supported"
            )
        node.attrs.pop("momentum", None)
        if not node.attrs.pop("spatial", 1) and input_type(node, 0).rank > 2:
            raise UnsupportedError(
                f"BatchNormalization node '{node.name}' (opset {opset}): spatial=0 "
                "(statistics per activation, opsets 7-8) is not supported"
            )

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank < 2:
            raise ModelError(f"BatchNormalization node '{node.name}': input rank {x.rank} < 2")
        for i in range(1, 5):
            if input_type(node, i).shape != (x.shape[1],):
                raise ModelError(
                    f"BatchNormalization node '{node.name}': parameter {i} is not [{x.shape[1]}]"
                )
        return [x]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, gamma, beta, mean, var = inputs
        assert x is not None and gamma is not None and beta is not None
        assert mean is not None and var is not None
        shape = (1, -1) + (1,) * (x.ndim - 2)
        eps = x.dtype.type(node.attrs["epsilon"])
        y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
        return [(y * gamma.reshape(shape) + beta.reshape(shape)).astype(x.dtype)]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """tinyc_channel_affine_f32 reads X[i] before it writes Y[i] (Y may equal X)."""
        return [elementwise_inplace(node, 0)] if node.outputs[0].dtype is DType.F32 else []

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(
                f"op BatchNormalization (node '{node.name}') on {x.dtype.value}"
            )
        outer, c, inner = split_axis(x.shape, 1)
        params = [node.inputs[i] for i in range(1, 5)]
        if any(v is None or v.const is None for v in params):
            # parameters computed at run time: fold them per element (tinyc_normalize.h)
            ptrs = [ctx.ptr(v) for v in params if v is not None]
            ctx.call("normalize", "tinyc_batchnorm_f32", ctx.ptr(x), *ptrs, ctx.ptr(y), outer,
                     c, inner, c_scalar(node.attrs["epsilon"], DType.F32))
            return
        scale, shift = batchnorm_scale_shift(node)
        s = ctx.table(DType.F32, scale, f"bn_scale_{y.name}")
        t = ctx.table(DType.F32, shift, f"bn_shift_{y.name}")
        ctx.call("norm", "tinyc_channel_affine_f32", ctx.ptr(x), s, t, ctx.ptr(y), outer, c, inner)


@register_op
class Softmax(OpDef):
    """Opset >= 13: over one axis. Older opsets coerce the input to 2-D at `axis`
    (`normalize_coerced_axis`); a real 2-D form is `flatten=1`, the kernel sees
    [outer, len, 1]."""

    name = "Softmax"
    min_opset = 1
    attrs = COERCED_AXIS_ATTRS

    def normalize(self, node: Node, opset: int) -> None:
        normalize_coerced_axis(node, opset)

    def infer(self, node: Node) -> list[TensorType]:
        return [input_type(node, 0)]

    def _geometry(self, shape: tuple[int, ...], node: Node) -> tuple[int, int, int]:
        axis = node.attrs["axis"]
        if node.attrs.get("flatten"):
            outer, _, _ = split_axis(shape, axis)
            return outer, int(np.prod(shape[axis:])), 1
        return split_axis(shape, axis)

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        outer, length, inner = self._geometry(x.shape, node)
        v = x.reshape(outer, length, inner)
        e = np.exp(v - v.max(axis=1, keepdims=True))
        return [(e / e.sum(axis=1, keepdims=True)).reshape(x.shape).astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        outer, length, inner = self._geometry(x.shape, node)
        if x.dtype in (DType.F64, DType.F16):  # portable kernels (targets specialize f32)
            ctx.uses_math = True
            ctx.call("normalize", f"tinyc_softmax_{x.dtype.value}", ctx.ptr(x), ctx.ptr(y),
                     outer, length, inner)
            return
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op Softmax (node '{node.name}') on {x.dtype.value}")
        ctx.call("softmax", "tinyc_softmax_f32", ctx.ptr(x), ctx.ptr(y), outer, length, inner)


# -- statistics-based normalizations --------------------------------------------------------


@dataclass(frozen=True)
class ParamIndex:
    """Which parameter element x[r, e] reads: (r % rows) * row_mul + (e / div) % mod * mul
    (the C tinyc_param_index). The default reads element 0 (a single value)."""

    rows: int = 1
    row_mul: int = 0
    div: int = 1
    mod: int = 1
    mul: int = 0

    def table(self, n_rows: int, size: int) -> np.ndarray:
        """[n_rows, size] parameter indices, the numpy form of the C formula."""
        r = np.arange(n_rows).reshape(-1, 1)
        e = np.arange(size).reshape(1, -1)
        return (r % self.rows) * self.row_mul + (e // self.div) % self.mod * self.mul

    def c_init(self) -> str:
        return f"{{{self.rows}, {self.row_mul}, {self.div}, {self.mod}, {self.mul}}}"


@dataclass(frozen=True)
class RowNorm:
    """How an op maps onto tinyc_row_norm_f32: `rows` rows of `size` elements, and where
    each element finds its scale and bias."""

    rows: int
    size: int
    scale: ParamIndex = ParamIndex()
    bias: ParamIndex = ParamIndex()
    center: bool = True


def _suffix_broadcast(node: Node, param: tuple[int, ...], inner: tuple[int, ...]) -> ParamIndex:
    """Index of a parameter broadcast over the normalized dims `inner`; its non-unit dims
    must be one contiguous run of `inner`."""
    full = (1,) * (len(inner) - len(param)) + tuple(param)
    if len(full) != len(inner):
        raise ModelError(f"{node.op} node '{node.name}': parameter {list(param)} vs {list(inner)}")
    kept = [i for i, d in enumerate(full) if d != 1]
    if not kept:
        return ParamIndex()
    a, b = kept[0], kept[-1] + 1
    if any(full[i] != inner[i] for i in range(a, b)):
        raise UnsupportedError(f"{node.op} node '{node.name}': parameter shape {list(param)} "
                               f"broadcasts over {list(inner)} in a way tinyc does not compile")
    return ParamIndex(div=prod(inner[b:]), mod=prod(inner[a:b]), mul=1)


class _RowNormOp(OpDef):
    """Shared reference and emission of the row-statistics normalizations."""

    def geometry(self, node: Node) -> RowNorm:
        raise NotImplementedError

    def params(self, node: Node) -> tuple[int | None, int | None]:
        """Input indices of scale and bias (None when the op has none)."""
        return 1, 2

    def stats_shape(self, node: Node) -> tuple[int, ...]:
        return ()

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        g = self.geometry(node)
        rows = x.reshape(g.rows, g.size).astype(np.float64)
        mean = rows.mean(axis=1, keepdims=True) if g.center else np.zeros((g.rows, 1))
        var = ((rows - mean) ** 2).mean(axis=1, keepdims=True)
        inv = 1.0 / np.sqrt(var + node.attrs["epsilon"])
        y = (rows - mean) * inv
        si, bi = self.params(node)
        for i, apply, index in ((si, np.multiply, g.scale), (bi, np.add, g.bias)):
            param = inputs[i] if i is not None and i < len(inputs) else None
            if param is not None:
                y = apply(y, param.reshape(-1).astype(np.float64)[index.table(g.rows, g.size)])
        out = [y.reshape(x.shape).astype(x.dtype)]
        stats = self.stats_shape(node)
        if stats:
            out += [mean.reshape(stats).astype(np.float32), inv.reshape(stats).astype(np.float32)]
        return out

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op {node.op} (node '{node.name}') on {x.dtype.value}")
        g = self.geometry(node)
        if not y.type.numel:
            return
        si, bi = self.params(node)
        ptrs = []
        for i in (si, bi):
            v = node.input(i) if i is not None else None
            if v is not None and v.dtype is not DType.F32:
                raise UnsupportedError(f"op {node.op} (node '{node.name}'): {v.dtype.value} "
                                       "parameters")
            ptrs.append(ctx.ptr(v) if v is not None else "NULL")
        stats = [ctx.ptr(o) for o in node.outputs[1:3]] + ["NULL", "NULL"]
        init = (f"{{{g.rows}, {g.size}, {g.scale.c_init()}, {g.bias.c_init()}, "
                f"{int(g.center)}, {c_scalar(node.attrs['epsilon'], DType.F32)}}}")
        params = ctx.params("tinyc_rownorm_params", init, f"norm_{y.name}")
        ctx.call("normalize", "tinyc_row_norm_f32", ctx.ptr(x), *ptrs, ctx.ptr(y), *stats[:2],
                 params)


class _AxisNorm(_RowNormOp):
    """LayerNormalization and RMSNormalization: rows are X.shape[:axis], parameters
    broadcast over X.shape[axis:]."""

    attrs = {"axis": Attr("int", -1), "epsilon": EPSILON,
             "stash_type": Attr("int", 1)}
    center = True

    def normalize(self, node: Node, opset: int) -> None:
        node.attrs["axis"] = normalize_axis(node.attrs["axis"], input_type(node, 0).rank, node)
        if node.attrs.pop("stash_type", 1) != 1:
            raise UnsupportedError(f"{node.op} node '{node.name}': stash_type other than float")

    def geometry(self, node: Node) -> RowNorm:
        x = input_type(node, 0)
        axis = node.attrs["axis"]
        inner = x.shape[axis:]
        index = []
        for i in self.params(node):
            v = node.input(i) if i is not None else None
            index.append(_suffix_broadcast(node, v.shape, inner) if v is not None
                         else ParamIndex())
        return RowNorm(prod(x.shape[:axis]), prod(inner), index[0], index[1], self.center)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        self.geometry(node)
        stats = self.stats_shape(node)
        return [x] + ([TensorType(DType.F32, stats)] * 2 if stats else [])


@register_op
class LayerNormalization(_AxisNorm):
    """Optional outputs Mean and InvStdDev have X's shape with the normalized axes as 1."""

    name = "LayerNormalization"

    def stats_shape(self, node: Node) -> tuple[int, ...]:
        x = input_type(node, 0)
        axis = node.attrs["axis"]
        return x.shape[:axis] + (1,) * (x.rank - axis)


@register_op
class RMSNormalization(_AxisNorm):
    name = "RMSNormalization"
    center = False

    def params(self, node: Node) -> tuple[int | None, int | None]:
        return 1, None


@register_op
class InstanceNormalization(_RowNormOp):
    """Rows are (batch, channel) planes; scale and bias are per channel."""

    name = "InstanceNormalization"
    min_opset = 6
    attrs = {"epsilon": EPSILON}

    def geometry(self, node: Node) -> RowNorm:
        x = input_type(node, 0)
        if x.rank < 2:
            raise ModelError(f"InstanceNormalization node '{node.name}': rank {x.rank} < 2")
        n, c = x.shape[:2]
        per_channel = ParamIndex(rows=c, row_mul=1)
        return RowNorm(n * c, prod(x.shape[2:]), per_channel, per_channel)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        for i in (1, 2):
            if input_type(node, i).shape != (x.shape[1],):
                raise ModelError(f"InstanceNormalization node '{node.name}': parameter {i} "
                                 f"is not [{x.shape[1]}]")
        return [x]


@register_op
class GroupNormalization(_RowNormOp):
    """Rows are (batch, group) blocks; scale and bias are per channel (opset >= 21) or per
    group (opset 18), told apart by their length."""

    name = "GroupNormalization"
    attrs = {"epsilon": EPSILON, "num_groups": Attr("int"),
             "stash_type": Attr("int", 1)}

    def normalize(self, node: Node, opset: int) -> None:
        if node.attrs.pop("stash_type", 1) != 1:
            raise UnsupportedError(f"GroupNormalization node '{node.name}': stash_type")

    def geometry(self, node: Node) -> RowNorm:
        x = input_type(node, 0)
        groups = node.attrs["num_groups"]
        n, c = x.shape[:2]
        if groups <= 0 or c % groups:
            raise ModelError(f"GroupNormalization node '{node.name}': {c} channels in "
                             f"{groups} groups")
        spatial = prod(x.shape[2:])
        per = c // groups
        scale = input_type(node, 1)
        if scale.numel == c:
            index = ParamIndex(groups, per, spatial, per, 1)
        elif scale.numel == groups:
            index = ParamIndex(groups, 1)
        else:
            raise ModelError(f"GroupNormalization node '{node.name}': scale has {scale.numel} "
                             "values")
        return RowNorm(n * groups, per * spatial, index, index)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank < 2:
            raise ModelError(f"GroupNormalization node '{node.name}': rank {x.rank} < 2")
        self.geometry(node)
        return [x]


@register_op
class LRN(OpDef):
    """Local response normalization across channels (NC + spatial layout)."""

    name = "LRN"
    min_opset = 1
    attrs = {"alpha": Attr("float", 1e-4), "beta": Attr("float", 0.75),
             "bias": Attr("float", 1.0), "size": Attr("int")}

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        if x.rank < 2:
            raise ModelError(f"LRN node '{node.name}': rank {x.rank} < 2")
        return [x]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        a = node.attrs
        size, c = a["size"], x.shape[1]
        sq = x.astype(np.float64) ** 2
        total = np.zeros_like(sq)
        for k in range(c):
            lo, hi = max(0, k - (size - 1) // 2), min(c - 1, k + size // 2)
            total[:, k] = sq[:, lo : hi + 1].sum(axis=1)
        y = x / (a["bias"] + a["alpha"] / size * total) ** a["beta"]
        return [y.astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op LRN (node '{node.name}') on {x.dtype.value}")
        a = node.attrs
        if not y.type.numel:
            return
        n, c = x.shape[:2]
        ctx.call("normalize", "tinyc_lrn_f32", ctx.ptr(x), ctx.ptr(y), n, c,
                 x.type.numel // (n * c), a["size"],
                 *(c_scalar(a[k], DType.F32) for k in ("alpha", "beta", "bias")))


@register_op
class LpNormalization(OpDef):
    """x / ||x||_p along `axis` (p is 1 or 2); a zero norm gives 0."""

    name = "LpNormalization"
    min_opset = 1
    attrs = {"axis": Attr("int", -1), "p": replace(POSITIVE, default=2, max=2)}

    def normalize(self, node: Node, opset: int) -> None:
        node.attrs["axis"] = normalize_axis(node.attrs["axis"], input_type(node, 0).rank, node)
        if node.attrs["p"] not in (1, 2):
            raise ModelError(f"LpNormalization node '{node.name}': p must be 1 or 2")

    def infer(self, node: Node) -> list[TensorType]:
        return [input_type(node, 0)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        xf = x.astype(np.float64)
        axis = node.attrs["axis"]
        if node.attrs["p"] == 1:
            norm = np.abs(xf).sum(axis=axis, keepdims=True)
        else:
            norm = np.sqrt((xf * xf).sum(axis=axis, keepdims=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(norm == 0, 0.0, xf / norm)
        return [y.astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op LpNormalization (node '{node.name}') on {x.dtype.value}")
        if y.type.numel:
            outer, n, inner = split_axis(x.shape, node.attrs["axis"])
            ctx.call("normalize", "tinyc_lp_normalize_f32", ctx.ptr(x), ctx.ptr(y), outer, n,
                     inner, node.attrs["p"])


@register_op
class MeanVarianceNormalization(OpDef):
    """(x - mean) / (sqrt(E[x^2] - mean^2) + 1e-9) over `axes` (default N and spatial)."""

    name = "MeanVarianceNormalization"
    min_opset = 9
    attrs = {"axes": Attr("ints", [0, 2, 3])}

    def normalize(self, node: Node, opset: int) -> None:
        rank = input_type(node, 0).rank
        node.attrs["axes"] = sorted({normalize_axis(a, rank, node) for a in node.attrs["axes"]})

    def infer(self, node: Node) -> list[TensorType]:
        return [input_type(node, 0)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        axes = tuple(node.attrs["axes"])
        xf = x.astype(np.float64)
        mean = xf.mean(axis=axes, keepdims=True)
        var = np.maximum((xf * xf).mean(axis=axes, keepdims=True) - mean * mean, 0.0)
        return [((xf - mean) / (np.sqrt(var) + 1e-9)).astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32 or x.type.rank > 8:
            raise UnsupportedError(f"op MeanVarianceNormalization (node '{node.name}') on "
                                   f"{x.dtype.value} rank {x.type.rank}")
        if not y.type.numel:
            return
        st = strides(x.shape)
        axes = node.attrs["axes"]
        keep = [d for d in range(x.type.rank) if d not in axes]

        def ints(values: list[int]) -> str:
            return c_int_list(values)

        init = (f"{{{len(keep)}, {len(axes)}, {ints([x.shape[d] for d in keep])}, "
                f"{ints([st[d] for d in keep])}, {ints([x.shape[d] for d in axes])}, "
                f"{ints([st[d] for d in axes])}}}")
        params = ctx.params("tinyc_mvn_params", init, f"mvn_{y.name}")
        ctx.call("normalize", "tinyc_mvn_f32", ctx.ptr(x), ctx.ptr(y), params)
