"""Resize (opset 11+): nearest, linear and cubic interpolation with every coordinate
transformation mode, nearest rounding mode, antialiasing, exclude_outside, crop-and-resize
extrapolation and keep_aspect_ratio_policy.

Interpolation is separable: along each resized axis, output index y maps to a source
coordinate and a window of taps with weights, both following the ONNX reference
implementation step by step (in double precision, so nearest-neighbour ties round the same
way). The numpy reference below and `tinyc_resize.c` compute the same taps.

IR form: inputs (X, roi, scales, sizes) with absent or empty ones as None (roi only for
tf_crop_and_resize), normalized attributes, and `shape`, the output shape. scales, sizes and
roi may be run-time data: the kernel checks they give `shape` and returns an error if not.
"""

from __future__ import annotations

from math import floor
from typing import TYPE_CHECKING

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import MAX_RANK, c_int_list
from tinyc.ops.registry import (
    Attr,
    OpDef,
    declared_shape,
    input_type,
    normalize_axis,
    register_op,
)
from tinyc.ops.shape import check_failed

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

MODES = {"nearest": 0, "linear": 1, "cubic": 2}
COORDS = {"half_pixel": 0, "asymmetric": 1, "align_corners": 2, "pytorch_half_pixel": 3,
          "tf_crop_and_resize": 4, "half_pixel_symmetric": 5,
          "tf_half_pixel_for_nn": 6}  # the last one in opsets 11-12 only
NEAREST = {"round_prefer_floor": 0, "round_prefer_ceil": 1, "floor": 2, "ceil": 3}
POLICIES = {"stretch": 0, "not_larger": 1, "not_smaller": 2}
MAX_TAPS = 16


def resolve_scales(
    attrs: dict, in_shape: tuple[int, ...], scales: np.ndarray | None, sizes: np.ndarray | None
) -> tuple[list[float], list[int]]:
    """(per-axis scale, output shape) from the scales or sizes operand, as ONNX defines."""
    r = len(in_shape)
    axes = attrs["axes"]
    scale, out = [1.0] * r, list(in_shape)
    if scales is not None:
        for a, s in zip(axes, scales.reshape(-1).tolist(), strict=True):
            if not s > 0:
                raise ModelError(f"Resize: scale {s} is not positive")
            scale[a] = float(np.float32(s))
            out[a] = int(scale[a] * in_shape[a])
        return scale, out
    assert sizes is not None
    wanted = [int(v) for v in sizes.reshape(-1)]
    ratios = [w / in_shape[a] if in_shape[a] else 1.0 for a, w in zip(axes, wanted, strict=True)]
    policy = attrs["keep_aspect_ratio_policy"]
    for i, a in enumerate(axes):
        if policy == "stretch":
            scale[a], out[a] = ratios[i], wanted[i]
        else:
            pick = min(ratios) if policy == "not_larger" else max(ratios)
            scale[a], out[a] = pick, int(pick * in_shape[a] + 0.5)
    return scale, out


def _cubic(x: float, a: float) -> float:
    x = abs(x)
    if x <= 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return 0.0


def window_weights(attrs: dict, ratio: float, scale: float) -> list[float]:
    """Weights of the window of taps at fractional position `ratio` in (0, 1]."""
    mode, a = attrs["mode"], attrs["cubic_coeff_a"]
    if mode == "nearest":
        if ratio == 1.0:
            up = True
        else:
            up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
                  "floor": False, "ceil": True}[attrs["nearest_mode"]]
        return [0.0, 1.0] if up else [1.0, 0.0]
    if not attrs["antialias"]:
        if mode == "linear":
            return [1.0 - ratio, ratio]
        return [_cubic(ratio + 1.0, a), _cubic(ratio, a), _cubic(1.0 - ratio, a),
                _cubic(2.0 - ratio, a)]
    s = min(scale, 1.0)
    start = floor((-1.0 if mode == "linear" else -2.0) / s) + 1
    n = 2 - 2 * start
    if mode == "linear":
        w = [min(max(1.0 - abs((start + i - ratio) * s), 0.0), 1.0) for i in range(n)]
    else:
        w = [_cubic((start + i - ratio) * s, a) for i in range(n)]
    total = sum(w)
    return [v / total for v in w]


def source_coord(attrs: dict, y: int, n_in: int, n_out: int, scale: float, roi: tuple
                 ) -> tuple[float, bool]:
    """Source coordinate of output index y, and whether a crop extrapolates there."""
    width = scale * n_in
    coord = attrs["coordinate_transformation_mode"]
    if coord == "asymmetric":
        return y / scale, False
    if coord == "align_corners":
        return (0.0 if width == 1.0 else y * (n_in - 1) / (width - 1.0)), False
    if coord == "pytorch_half_pixel":
        return (-0.5 if width == 1.0 else (y + 0.5) / scale - 0.5), False
    if coord == "half_pixel_symmetric":
        return n_in / 2.0 * (1.0 - n_out / width) + (y + 0.5) / scale - 0.5, False
    if coord == "tf_half_pixel_for_nn":
        return (y + 0.5) / scale, False
    if coord == "tf_crop_and_resize":
        lo, hi = np.float32(roi[0]), np.float32(roi[1])
        span = float(hi - lo)
        x = span * (n_in - 1) / 2.0 if width == 1.0 else y * span * (n_in - 1) / (width - 1.0)
        x += float(lo * np.float32(n_in - 1))
        return x, bool(x < 0.0 or x > n_in - 1)
    return (y + 0.5) / scale - 0.5, False


def axis_taps(attrs: dict, n_in: int, n_out: int, scale: float, roi: tuple
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices [n_out, n], weights [n_out, n], extrapolated [n_out]) along one axis."""
    rows_i, rows_w, extra = [], [], []
    for y in range(n_out):
        x, ext = source_coord(attrs, y, n_in, n_out, scale, roi)
        fl = floor(x)
        ratio = 1.0 if x == fl else x - fl
        w = window_weights(attrs, ratio, scale)
        n = len(w)
        pad = (n + 1) // 2
        xp = x + pad
        flp = floor(xp)
        frac = xp - flp
        if n % 2 == 0:
            start = flp + (-(n // 2) if frac == 0.0 else -(n // 2) + 1) - pad
        else:
            start = flp + (-((n - 1) // 2) if frac <= 0.5 else -((n - 1) // 2) + 1) - pad
        at = np.arange(start, start + n)
        wa = np.asarray(w)
        if attrs["exclude_outside"]:
            wa = np.where((at < 0) | (at >= n_in), 0.0, wa)
            wa = wa / (wa.sum() or 1.0)
        rows_i.append(np.clip(at, 0, n_in - 1))
        rows_w.append(wa)
        extra.append(ext)
    n = len(rows_w[0]) if rows_w else 1
    return (np.asarray(rows_i, np.int64).reshape(n_out, n),
            np.asarray(rows_w, np.float64).reshape(n_out, n), np.asarray(extra, bool))


def resize_reference(x: np.ndarray, attrs: dict, roi: np.ndarray | None,
                     scale: list[float], out: list[int]) -> np.ndarray:
    r = x.ndim
    axes = attrs["axes"]
    lo, hi = [0.0] * r, [1.0] * r
    if roi is not None and attrs["coordinate_transformation_mode"] == "tf_crop_and_resize":
        flat = roi.reshape(-1).tolist()
        for i, a in enumerate(axes):
            lo[a], hi[a] = flat[i], flat[len(axes) + i]
    y = x.astype(np.float64)
    extrapolated = np.zeros(out, bool)
    for d in range(r):
        if abs(scale[d] - 1.0) <= 1e-9 and x.shape[d] == out[d] and (lo[d], hi[d]) == (0, 1):
            continue
        idx, w, ext = axis_taps(attrs, x.shape[d], out[d], scale[d], (lo[d], hi[d]))
        taken = np.take(y, idx, axis=d)  # [..., out, n, ...]
        shape = (1,) * d + w.shape + (1,) * (r - d - 1)
        y = (taken * w.reshape(shape)).sum(axis=d + 1)
        extrapolated |= ext.reshape((1,) * d + (-1,) + (1,) * (r - d - 1))
    y = np.where(extrapolated, attrs["extrapolation_value"], y)
    return y.astype(x.dtype)


def _operand(node: Node, index: int) -> int | None:
    """`index` if that input is present and not an empty constant, else None."""
    v = node.input(index)
    if v is None or (v.const is not None and v.const.size == 0):
        return None
    return index


@register_op
class Resize(OpDef):
    name = "Resize"
    min_opset = 10
    attrs = {
        "mode": Attr("string", "nearest"),
        "coordinate_transformation_mode": Attr("string", "half_pixel"),
        "nearest_mode": Attr("string", "round_prefer_floor"),
        "cubic_coeff_a": Attr("float", -0.75),
        "exclude_outside": Attr("int", 0),
        "extrapolation_value": Attr("float", 0.0),
        "antialias": Attr("int", 0),
        "axes": Attr("ints", []),
        "keep_aspect_ratio_policy": Attr("string", "stretch"),
        "shape": Attr("ints", []),
    }

    def normalize(self, node: Node, opset: int) -> None:
        x = input_type(node, 0)
        a = node.attrs
        if opset < 11:
            # Resize-10 (and Upsample): inputs (X, scales), asymmetric coordinates, and
            # nearest neighbours that floor
            node.set_inputs([node.inputs[0], None, node.input(1)])
            a.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        for key, table in (("mode", MODES), ("coordinate_transformation_mode", COORDS),
                           ("nearest_mode", NEAREST), ("keep_aspect_ratio_policy", POLICIES)):
            if a[key] not in table:
                raise UnsupportedError(f"Resize node '{node.name}': {key} {a[key]}")
        a["axes"] = [normalize_axis(ax, x.rank, node) for ax in a.get("axes") or range(x.rank)]
        if a["mode"] == "nearest":
            a["antialias"] = 0
        roi = _operand(node, 1) if a["coordinate_transformation_mode"] == "tf_crop_and_resize" \
            else None
        scales, sizes = _operand(node, 2), _operand(node, 3)
        attr_scales = a.get("scales") or []  # Upsample before opset 9
        if (scales is None) == (sizes is None) and not (attr_scales and sizes is None):
            raise ModelError(f"Resize node '{node.name}': give exactly one of scales and sizes")
        used = [i for i in (roi, scales, sizes) if i is not None]
        given = node.input(scales) if scales is not None else node.input(3)
        count = given.type.numel if given is not None else len(attr_scales)
        if count != len(a["axes"]):
            raise ModelError(f"Resize node '{node.name}': {count} scales/sizes for "
                             f"{len(a['axes'])} axes")
        operands = {i: node.input(i) for i in used}
        if all(v is not None and v.const is not None for v in operands.values()):
            s_in = node.input(2).const if scales is not None else None  # type: ignore[union-attr]
            z_in = node.input(3).const if sizes is not None else None  # type: ignore[union-attr]
            if s_in is None and z_in is None:
                s_in = np.asarray(attr_scales, np.float32)
            a["shape"] = resolve_scales(a, x.shape, s_in, z_in)[1]
        else:
            a["shape"] = list(declared_shape(node, 0, "the scales/sizes operand"))
        keep = [node.inputs[0]] + [node.input(i) if i in used else None for i in (1, 2, 3)]
        while keep[-1] is None:
            keep.pop()
        node.set_inputs(keep)

    def infer(self, node: Node) -> list[TensorType]:
        x = input_type(node, 0)
        shape = tuple(node.attrs["shape"])
        if len(shape) != x.rank:
            raise ModelError(f"Resize node '{node.name}': output rank {len(shape)}")
        for i, dtype in ((2, DType.F32), (3, DType.I64)):
            v = node.input(i)
            if v is not None and v.dtype is not dtype:
                raise ModelError(f"Resize node '{node.name}': input {i} must be {dtype.value}")
        return [x.with_shape(shape)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        padded = list(inputs) + [None] * (4 - len(inputs))
        roi, scales, sizes = padded[1], padded[2], padded[3]
        if scales is None and sizes is None:
            scales = np.asarray(node.attrs["scales"], np.float32)
        scale, out = resolve_scales(node.attrs, x.shape, scales, sizes)
        if out != list(node.attrs["shape"]):
            raise check_failed(node, "scales/sizes", out, node.attrs["shape"])
        return [resize_reference(x, node.attrs, roi, scale, out)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        a = node.attrs
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op Resize (node '{node.name}') on {x.dtype.value}")
        if x.type.rank > MAX_RANK:
            raise UnsupportedError(f"Resize node '{node.name}': rank {x.type.rank}")
        self._check_taps(node)
        init = ", ".join([
            str(x.type.rank), c_int_list(x.shape), c_int_list(y.shape), str(len(a["axes"])),
            c_int_list(a["axes"]), str(MODES[a["mode"]]),
            str(COORDS[a["coordinate_transformation_mode"]]), str(NEAREST[a["nearest_mode"]]),
            str(POLICIES[a["keep_aspect_ratio_policy"]]), str(a["exclude_outside"]),
            str(a["antialias"]), c_scalar(a["cubic_coeff_a"], DType.F32),
            c_scalar(a["extrapolation_value"], DType.F32),
        ])
        params = ctx.params("tinyc_resize_params", f"{{{init}}}", f"resize_{y.name}")
        ptrs = [ctx.ptr(v) if v is not None else "NULL" for v in (node.input(i)
                                                                    for i in (1, 2, 3))]
        if node.attrs.get("scales") and ptrs[1:] == ["NULL", "NULL"]:
            ptrs[1] = ctx.table(DType.F32, node.attrs["scales"], f"scales_{y.name}")
        ctx.checked_call("resize", "tinyc_resize_f32", ctx.ptr(x), ctx.ptr(y), *ptrs, params)

    def _check_taps(self, node: Node) -> None:
        """Refuse at compile time a known antialias window wider than the C kernel allows."""
        a = node.attrs
        x = input_type(node, 0)
        if not a["antialias"]:
            return
        for d in a["axes"]:
            if not x.shape[d]:
                continue
            s = min(node.attrs["shape"][d] / x.shape[d], 1.0)
            if s > 0 and 2 - 2 * (floor((-1.0 if a["mode"] == "linear" else -2.0) / s) + 1) > \
                    MAX_TAPS:
                raise UnsupportedError(f"Resize node '{node.name}': antialias window wider "
                                       f"than {MAX_TAPS} taps")


@register_op
class Upsample(Resize):
    """Deprecated (opsets 7-9): Resize with asymmetric coordinates and flooring nearest
    neighbours; the scales are an attribute before opset 9."""

    name = "Upsample"
    min_opset = 7
    attrs = {**Resize.attrs, "scales": Attr("floats", [])}

    def normalize(self, node: Node, opset: int) -> None:
        scales = node.attrs.pop("scales", None)
        if scales and node.input(1) is None:
            node.attrs["scales"] = list(scales)
            node.set_inputs([node.inputs[0], None])
        node.attrs.setdefault("mode", "nearest")
        super().normalize(node, 10)
