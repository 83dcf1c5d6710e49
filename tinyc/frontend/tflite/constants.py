"""Constant DEQUANTIZE ops folded away before conversion. The converter's float16-weight
models store each weight as float16 and DEQUANTIZE it to float32 at run time; some
dynamic-range models do the same with int8 weights. Folded, the weight is a float32
constant that the op converters read like any other (tinyc's own `--quantize float16`,
when used, stores it narrow again)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tinyc.frontend.tflite.reader import Subgraph, Tensor


def fold_constant_dequantize(sub: Subgraph) -> Subgraph:
    """`sub` without its DEQUANTIZE ops of constants: each one's float32 output becomes a
    constant holding the dequantized data (real = scale * (q - zero_point), per channel
    along the quantized dimension)."""
    tensors = list(sub.tensors)
    kept = []
    for op in sub.operators:
        src = tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
        if (op.name != "DEQUANTIZE" or src is None or src.data is None
                or len(op.outputs) != 1 or op.outputs[0] in sub.outputs):
            kept.append(op)
            continue
        out = tensors[op.outputs[0]]
        tensors[out.index] = replace(out, data=dequantized(src).reshape(out.shape),
                                     dtype=np.dtype(np.float32), quant=None)
    return replace(sub, tensors=tensors, operators=kept)


def dequantized(t: Tensor) -> np.ndarray:
    """Constant `t`'s data as float32 real numbers."""
    data = t.data
    assert data is not None
    if t.quant is None or data.dtype.kind == "f":
        return data.astype(np.float32)
    shape = [1] * data.ndim
    if t.quant.per_channel:
        shape[t.quant.axis] = -1
    scale = t.quant.scale.astype(np.float32).reshape(shape)
    zp = t.quant.zero_point.astype(np.int64).reshape(shape)
    return ((data.astype(np.int64) - zp) * scale).astype(np.float32)
