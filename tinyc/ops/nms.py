"""NonMaxSuppression: per batch and class, greedily keep the best-scoring boxes that
overlap no kept box by more than the IoU threshold.

The number of kept boxes depends on the data. The node compiles for the row count the
model declares for `selected_indices` (or, with every input constant, the one it computes),
and the kernel (`tinyc_nms.h`) returns an error, so `NAME_run` returns 1, when the run keeps
another number. Order and ties follow ONNX: scores descending, equal scores by box index;
only scores above `score_threshold` (when given) compete; an absent
`max_output_boxes_per_class` keeps nothing. IoU arithmetic is float32, in the order of the
ONNX reference, in numpy and C alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.registry import Attr, OpDef, declared_shape, input_type, register_op
from tinyc.ops.shape import check_failed

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

_F = np.float32


def _span(a: np.float32, b: np.float32) -> tuple[np.float32, np.float32]:
    return (a, b) if a <= b else (b, a)


def _extent(box: np.ndarray, center: int) -> tuple[np.float32, ...]:
    """(x_min, x_max, y_min, y_max) of a box in either ONNX box format."""
    if center:
        hw, hh = box[2] / _F(2), box[3] / _F(2)
        return box[0] - hw, box[0] + hw, box[1] - hh, box[1] + hh
    return (*_span(box[1], box[3]), *_span(box[0], box[2]))


def suppresses(a: np.ndarray, b: np.ndarray, center: int, iou_threshold: np.float32) -> bool:
    """True when boxes a and b overlap by an IoU above the threshold."""
    ax0, ax1, ay0, ay1 = _extent(a, center)
    bx0, bx1, by0, by1 = _extent(b, center)
    ix0, ix1 = max(ax0, bx0), min(ax1, bx1)
    iy0, iy1 = max(ay0, by0), min(ay1, by1)
    if ix1 <= ix0 or iy1 <= iy0:
        return False
    inter = (ix1 - ix0) * (iy1 - iy0)
    area_a = (ax1 - ax0) * (ay1 - ay0)
    area_b = (bx1 - bx0) * (by1 - by0)
    union = area_a + area_b - inter
    if inter <= 0 or area_a <= 0 or area_b <= 0 or union <= 0:
        return False
    return bool(inter / union > iou_threshold)


def _scalar(v: np.ndarray | None, default: float, dtype: type) -> float:
    return default if v is None or v.size == 0 else dtype(v.reshape(-1)[0])


def select_boxes(node: Node, inputs: list[np.ndarray | None]) -> np.ndarray:
    """The [n, 3] (batch, class, box) rows ONNX's NonMaxSuppression selects."""
    boxes, scores = inputs[0], inputs[1]
    assert boxes is not None and scores is not None
    extra = list(inputs[2:]) + [None] * (5 - len(inputs))
    limit = max(int(_scalar(extra[0], 0, np.int64)), 0)
    iou = _F(_scalar(extra[1], 0.0, _F))
    score_min = None if extra[2] is None or extra[2].size == 0 else _F(extra[2].reshape(-1)[0])
    center = node.attrs["center_point_box"]
    rows = []
    for b in range(boxes.shape[0]):
        for c in range(scores.shape[1]):
            s = scores[b, c]
            cand = [j for j in range(len(s)) if score_min is None or s[j] > score_min]
            cand.sort(key=lambda j: (-s[j], j))
            kept: list[int] = []
            for j in cand:
                if len(kept) >= limit:
                    break
                if not any(suppresses(boxes[b, j], boxes[b, k], center, iou) for k in kept):
                    kept.append(j)
                    rows.append((b, c, j))
    return np.asarray(rows, np.int64).reshape(-1, 3)


@register_op
class NonMaxSuppression(OpDef):
    """IR form: `count`, the number of selected rows the node is compiled for."""

    name = "NonMaxSuppression"
    min_opset = 10
    attrs = {"center_point_box": Attr("int", 0)}

    def normalize(self, node: Node, opset: int) -> None:
        if node.attrs["center_point_box"] not in (0, 1):
            raise ModelError(f"NonMaxSuppression node '{node.name}': center_point_box must be "
                             "0 or 1")
        if all(v is None or v.const is not None for v in node.inputs):
            self._check_types(node)
            count = len(select_boxes(node, [None if v is None else v.const
                                            for v in node.inputs]))
        else:
            count = declared_shape(node, 0, "the number of selected boxes")[0]
        node.attrs["count"] = count

    def _check_types(self, node: Node) -> None:
        boxes, scores = input_type(node, 0), input_type(node, 1)
        if boxes.dtype is not DType.F32 or scores.dtype is not DType.F32:
            raise UnsupportedError(f"NonMaxSuppression node '{node.name}': boxes and scores "
                                   "must be float32")
        if (boxes.rank != 3 or boxes.shape[2] != 4 or scores.rank != 3
                or scores.shape[0] != boxes.shape[0] or scores.shape[2] != boxes.shape[1]):
            raise ModelError(f"NonMaxSuppression node '{node.name}': boxes {list(boxes.shape)} "
                             f"and scores {list(scores.shape)} do not fit")
        wanted = (DType.I64, DType.F32, DType.F32)
        for i, dtype in enumerate(wanted, start=2):
            v = node.input(i)
            if v is not None and (v.dtype is not dtype or v.type.numel > 1):
                raise ModelError(f"NonMaxSuppression node '{node.name}': input {i} must be "
                                 f"an empty or one-element {dtype.value} tensor")

    def infer(self, node: Node) -> list[TensorType]:
        self._check_types(node)
        return [TensorType(DType.I64, (node.attrs["count"], 3))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        rows = select_boxes(node, inputs)
        if len(rows) != node.attrs["count"]:
            raise check_failed(node, "number of selected boxes", len(rows), node.attrs["count"])
        return [rows]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        boxes, scores = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        assert boxes is not None and scores is not None
        ptrs = []
        for i in (2, 3, 4):
            v = node.input(i)
            ptrs.append("NULL" if v is None or v.type.numel == 0 else ctx.ptr(v))
        b, c, n = scores.shape
        ctx.checked_call("nms", "tinyc_nms_f32", ctx.ptr(boxes), ctx.ptr(scores), *ptrs,
                         ctx.ptr(y) if y.type.numel else "NULL", b, c, n,
                         node.attrs["center_point_box"], node.attrs["count"])
