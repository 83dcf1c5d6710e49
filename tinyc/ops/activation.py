"""Activations that a producing kernel can apply on the fly (the C `tinyc_act` record).

An op carries a fused activation as two attributes: `activation` (an ONNX op name such as
"Relu", or "" for none) and `activation_params` (its constants). This module is the one
place that knows each activation's numpy semantics and its C encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.ir import DType

#: name -> (C kind, number of params)
FUSIBLE = {
    "Relu": ("TINYC_ACT_CLIP", 0),
    "Clip": ("TINYC_ACT_CLIP", 2),
    "LeakyRelu": ("TINYC_ACT_LEAKY_RELU", 1),
    "HardSigmoid": ("TINYC_ACT_HARD_SIGMOID", 2),
    "HardSwish": ("TINYC_ACT_HARD_SWISH", 0),
    "Sigmoid": ("TINYC_ACT_SIGMOID", 0),
}


def apply_activation(x: np.ndarray, name: str, params: Sequence[float]) -> np.ndarray:
    """numpy semantics, computed in float32 like the C kernels."""
    if not name:
        return x
    one = np.float32(1)
    if name == "Relu":
        return np.maximum(x, np.float32(0)).astype(x.dtype)
    if name == "Clip":
        return np.minimum(np.maximum(x, np.float32(params[0])), np.float32(params[1]))
    if name == "LeakyRelu":
        return np.where(x < 0, np.float32(params[0]) * x, x).astype(x.dtype)
    if name == "HardSigmoid":
        return np.clip(np.float32(params[0]) * x + np.float32(params[1]), 0, one).astype(x.dtype)
    if name == "HardSwish":
        return (x * np.clip(x * np.float32(1 / 6) + np.float32(0.5), 0, one)).astype(x.dtype)
    if name == "Sigmoid":
        with np.errstate(over="ignore"):
            return (one / (one + np.exp(-x))).astype(x.dtype)
    raise ValueError(f"not a fusible activation: {name}")


def act_c_init(name: str, params: Sequence[float]) -> tuple[str, bool]:
    """The C initializer of a `tinyc_act` and whether it needs <math.h> (for INFINITY)."""
    if not name:
        return "{TINYC_ACT_NONE, 0.0f, 0.0f}", False
    kind, _ = FUSIBLE[name]
    if name == "Relu":
        a, b = 0.0, float("inf")
    elif name == "Clip":
        a, b = params[0], params[1]
    elif name == "LeakyRelu":
        a, b = params[0], 0.0
    elif name == "HardSigmoid":
        a, b = params[0], params[1]
    else:
        a, b = 0.0, 0.0
    ca, cb = c_scalar(a, DType.F32), c_scalar(b, DType.F32)
    uses_math = "INFINITY" in ca + cb or "NAN" in ca + cb
    return f"{{{kind}, {ca}, {cb}}}", uses_math
