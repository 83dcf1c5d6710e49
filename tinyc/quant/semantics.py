"""Which integer arithmetic an integer op follows: its `semantics` attribute.

- `fixedpoint` (the default): tinyc's own, for models tinyc quantizes itself -- int32
  multiplier + shift, one rounding half up (`tinyc.quant.fixedpoint`).
- `onnxruntime`: what onnxruntime's CPU kernels compute, for models whose quantization comes
  from the ONNX file (QDQ and com.microsoft QOperator imports). The ONNX frontend records it
  in the graph's metadata (`METADATA_KEY`) and `qdq-lower` puts it on the ops it makes.

The onnxruntime rules (read from its source, onnxruntime 1.32 on x86-64):

- Conv/Gemm/pools (implemented; tests/quant/test_qoperator.py): acc (exact int32, bias
  included, minus the input zero point) times a float32 scale, rounded to nearest even,
  clamped, plus the zero point (`MlasRequantizeOutput`). The scales are float32 expressions:
  conv/gemm `(s_x * s_w[c]) / s_y`, pools `s_x / (s_y * float(count))`.
  Encoded in the ops' (multiplier, shift) tables as shift == `FLOAT_SHIFT` with the
  float32's bits as the multiplier (`tinyc.quant.fixedpoint`), so every kernel that
  requantizes with `tinyc_requantize_one`/`tinyc_mbqm` follows it.

Measured, not implemented yet (these ops keep `fixedpoint`):

- QLinearAdd (same-shape inputs, AVX2/FMA kernel; equal to onnxruntime on 40 random
  parameter sets x every code pair): r_a = s_a/s_y, r_b = s_b/s_y,
  k = float(zp_y) - fma(r_a, zp_a, r_b * zp_b), y = sat(rint(fma(a, r_a, fma(b, r_b, k)))).
  A broadcast scalar operand folds into k instead.
- QLinearSoftmax: a 256-entry float32 table exp((i - 255 + c) s_x) (computed in double,
  c = max(0, ln(FLT_MAX / D) - 5) / s_x), y = sat(rint(fma(e, (1/sum) * floor(1/s_y),
  zp_y))); the float32 sum's order depends on the host's kernel (AVX-512: 16 lanes over
  blocks of 32 then a tree, AVX2: 8 lanes over blocks of 16, scalar: in order), so no one
  C kernel equals onnxruntime on every host.
- QLinearConcat: a per-input table quantize(dequantize(q)) (division by s_y).

A TFLite mode (double rounding) would be a third value here.
"""

from __future__ import annotations

import numpy as np

from tinyc.ir import Graph, Node

FIXEDPOINT = "fixedpoint"
ONNXRUNTIME = "onnxruntime"
VALUES = (FIXEDPOINT, ONNXRUNTIME)
#: the integer ops' attribute
ATTR = "semantics"
#: graph metadata the frontend sets: the semantics `qdq-lower` gives the ops it makes
METADATA_KEY = "quant semantics"

#: the integer ops whose onnxruntime rule is implemented (`qdq-lower` marks these)
ONNXRUNTIME_OPS = frozenset({"QConv", "QGemm", "QAveragePool", "QGlobalAveragePool", "QAdd",
                             "QMul", "QConcat", "QRequantize"})
#: ONNX ops whose presence means the file carries its own quantization
QUANTIZATION_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv",
                              "QLinearMatMul", "ConvInteger", "MatMulInteger"})


def of(node: Node) -> str:
    """The node's semantics (the default for ops that do not carry the attribute)."""
    return str(node.attrs.get(ATTR, FIXEDPOINT))


def is_onnxruntime(node: Node) -> bool:
    return of(node) == ONNXRUNTIME


def mark(graph: Graph, value: str) -> None:
    """Give the integer ops of `graph` whose rule exists in `value` that semantics."""
    if value == FIXEDPOINT:
        return
    for node in graph.nodes:
        if node.op in ONNXRUNTIME_OPS or node.op.removesuffix("Boundary") in ONNXRUNTIME_OPS:
            node.attrs[ATTR] = value


# -- onnxruntime's float32 arithmetic (numpy; the C is tinyc_fixedpoint.h) ---------------

f32 = np.float32


def fma_f32(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """float32 fused multiply-add x*y + z, rounded once (float32 inputs, broadcasting).

    x*y is exact in float64; s = x*y + z in float64 plus its exact error e (TwoSum) is
    rounded to float32, which double rounding gets wrong only when s lies exactly halfway
    between two float32 values and e != 0: then the side of e decides."""
    p = np.asarray(x, f32).astype(np.float64) * np.asarray(y, f32).astype(np.float64)
    zz = np.asarray(z, f32).astype(np.float64)
    s = p + zz
    bb = s - p
    e = (p - (s - bb)) + (zz - bb)
    r = s.astype(f32)
    rd = r.astype(np.float64)
    other = np.nextafter(r, np.where(s > rd, np.inf, -np.inf).astype(f32))
    tie = (s != rd) & (s == (rd + other.astype(np.float64)) / 2) & (e != 0)
    toward_e = (other.astype(np.float64) > rd) == (e > 0)
    return np.where(tie & toward_e, other, r).astype(f32)


def rint_f32(v: np.ndarray) -> np.ndarray:
    """float32 rounded to nearest even (clamped to +-2^22 as the C does), int64."""
    return np.rint(np.clip(np.asarray(v, f32), -(2.0**22), 2.0**22)).astype(np.int64)


def add_constants(sa: float, za: int, sb: float, zb: int, sy: float,
                  zy: int) -> tuple[np.float32, np.float32, np.float32]:
    """QLinearAdd's (r_a, r_b, k) for kernel operands a (first) and b."""
    ra, rb = f32(f32(sa) / f32(sy)), f32(f32(sb) / f32(sy))
    k = f32(f32(zy) - fma_f32(ra, f32(za), f32(rb * f32(zb))))
    return ra, rb, k


def add_value(a: np.ndarray, b: np.ndarray, ra: np.float32, rb: np.float32,
              k: np.float32) -> np.ndarray:
    """rint(fma(a, r_a, fma(b, r_b, k))) of raw int8 codes a, b: zero point included."""
    return rint_f32(fma_f32(np.asarray(a, f32), ra, fma_f32(np.asarray(b, f32), rb, k)))


def mul_scale(sa: float, sb: float, sy: float) -> np.float32:
    """QLinearMul's float32 (s_a * s_b) / s_y."""
    return f32(f32(f32(sa) * f32(sb)) / f32(sy))


def mul_value(prod: np.ndarray, scale: np.float32, zy: int) -> np.ndarray:
    """rint(float(prod) * scale + zp_y), prod = (a - zp_a)(b - zp_b): zero point included."""
    v = (np.asarray(prod, np.int64).astype(f32) * scale).astype(f32)
    return rint_f32((v + f32(zy)).astype(f32))


def requant_table(sx: float, zx: int, sy: float, zy: int, lo: int, hi: int) -> np.ndarray:
    """int8[256] for codes -128..127: clamp(rint(float32((x - zp_x) * s_x) / s_y) + zp_y),
    dequantize then quantize in float32 (QLinearConcat's table, DequantizeLinear ->
    QuantizeLinear)."""
    codes = np.arange(-128, 128, dtype=np.int64)
    real = ((codes - zx).astype(f32) * f32(sx)).astype(f32)
    q = rint_f32((real / f32(sy)).astype(f32)) + zy
    return np.clip(q, lo, hi).astype(np.int8)
