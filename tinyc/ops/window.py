"""Sliding-window geometry shared by Conv and the pools: attribute defaults, `auto_pad`
resolved into explicit pads, and output sizes (with ceil_mode for pools)."""

from __future__ import annotations

from math import ceil

from tinyc.errors import ModelError
from tinyc.ir import Node


def check_window_lengths(node: Node, n: int) -> None:
    """strides, dilations and kernel_shape hold one value per spatial axis, pads two."""
    for key in ("strides", "dilations", "kernel_shape", "pads"):
        values = node.attrs.get(key)
        expected = 2 * n if key == "pads" else n
        if values and len(values) != expected:
            raise ModelError(f"{node.op} node '{node.name}': {key} must have {expected} values")


def normalize_window(node: Node, spatial: tuple[int, ...], kernel: tuple[int, ...]) -> None:
    """Fill kernel_shape/strides/dilations/pads defaults and turn auto_pad into pads."""
    n = len(spatial)
    attrs = node.attrs
    given = attrs.get("kernel_shape") or []
    if given and list(given) != list(kernel):
        raise ModelError(f"{node.op} node '{node.name}': kernel_shape {list(given)} does not "
                         f"match the {n}-d kernel {list(kernel)}")
    if len(kernel) != n:
        raise ModelError(f"{node.op} node '{node.name}': kernel_shape must have {n} values")
    attrs["kernel_shape"] = list(kernel)
    for key in ("strides", "dilations"):
        if key in attrs and not attrs[key]:
            attrs[key] = [1] * n
    check_window_lengths(node, n)
    strides = attrs.get("strides") or [1] * n
    dilations = attrs.get("dilations") or [1] * n
    auto_pad = attrs.pop("auto_pad", "NOTSET") or "NOTSET"
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads_begin, pads_end = [], []
        for size, k, s, d in zip(spatial, kernel, strides, dilations, strict=False):
            out = ceil(size / s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            begin, end = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
            pads_begin.append(begin)
            pads_end.append(end)
        attrs["pads"] = pads_begin + pads_end
    elif auto_pad == "VALID":
        attrs["pads"] = [0] * (2 * n)
    elif auto_pad != "NOTSET":
        raise ModelError(f"{node.op} node '{node.name}': unknown auto_pad {auto_pad}")
    if not attrs.get("pads"):
        attrs["pads"] = [0] * (2 * n)
    if len(attrs["pads"]) != 2 * n:
        raise ModelError(f"{node.op} node '{node.name}': pads must have {2 * n} values")
    pads = attrs["pads"]
    for i, (size, k) in enumerate(zip(spatial, kernel, strict=True)):
        extent = (k - 1) * dilations[i] + 1
        if extent > size + pads[i] + pads[i + n]:
            raise ModelError(
                f"{node.op} node '{node.name}': the kernel spans {extent} on spatial axis {i}, "
                f"more than the padded input ({size} + {pads[i]} + {pads[i + n]})"
            )


def output_size(
    size: int, k: int, stride: int, dil: int, pad_begin: int, pad_end: int, ceil_mode: bool
) -> int:
    span = size + pad_begin + pad_end - ((k - 1) * dil + 1)
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    # the last window must start inside the input or its leading pad
    if (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out
