"""Which integer arithmetic an integer op follows: its `semantics` attribute.

- `fixedpoint` (the default): tinyc's own, for models tinyc quantizes itself -- int32
  multiplier + shift, one rounding half up (`tinyc.quant.fixedpoint`).
- `onnxruntime`: what onnxruntime's CPU kernels compute, for models whose quantization comes
  from the ONNX file (QDQ and com.microsoft QOperator imports). The ONNX frontend records it
  in the graph's metadata (`METADATA_KEY`); `qdq-lower` lowers with it (`Lowering`, `mark`).
- `tflite`: what TFLite Micro's reference kernels compute, for `.tflite` imports (the TFLite
  frontend asks the ONNX importer for it: `import_model(quant_semantics=)`).

The onnxruntime rules (read from its source; onnxruntime 1.32, x86-64 with AVX2/AVX-512;
tests/quant/test_qoperator.py checks each against onnxruntime, tie-heavy cases included):

- Conv/Gemm/GlobalAveragePool: acc (exact int32, bias included, minus the input zero
  point) times a float32 scale, rounded to nearest even, clamped, plus the zero point
  (`MlasRequantizeOutput`); conv/gemm scale `(s_x * s_w[c]) / s_y`, global pool
  `s_x / (s_y * float(count))`. Encoded in the ops' (multiplier, shift) tables as shift ==
  `FLOAT_SHIFT` with the float32's bits as the multiplier (`tinyc.quant.fixedpoint`), so
  every kernel that requantizes with `tinyc_requantize_one`/`tinyc_mbqm` follows it.
- QLinearAveragePool: each tap dequantized in float32, summed in window order, / count,
  / s_y, + zp_y, rounded to nearest even (`avgpool_value`).
- QLinearAdd (its AVX2 kernel, FMA): r_a = s_a/s_y, r_b = s_b/s_y,
  k = float(zp_y) - fma(r_a, zp_a, r_b * zp_b), y = sat(rint(fma(a, r_a, fma(b, r_b, k))))
  on the raw codes; onnxruntime's broadcast loop passes an operand that is one value per
  innermost run second (`QAdd.swapped`), and a uint8 model's codes are its uint8 ones
  (`u8_codes`: tinyc stores them as int8; average pools too).
- QLinearMul: y = sat(rint(float((a - zp_a)(b - zp_b)) * ((s_a * s_b) / s_y) + zp_y)),
  two float32 roundings, no FMA.
- QLinearConcat, and DequantizeLinear -> QuantizeLinear (`QRequantize`): a 256-entry table
  quantize(dequantize(x)) = sat(rint(float32((x - zp_x) * s_x) / s_y) + zp_y).
- QLinearSoftmax: a float32 table exp((c - d) s_x) for d = max - x (c = max(0,
  ln(FLT_MAX / D) - 5) / s_x, computed in double), the row's float32 sum in index order,
  y = rint(e * floor(1/s_y) / sum) + zp_y with the quotient in double. onnxruntime has
  scalar, AVX2 and AVX-512 MLAS kernels for this step that sum and normalize differently;
  this form equals the test models' softmax everywhere tried and onnxruntime (on an
  AVX-512 x86) on all but about 3 rows in 100,000 of random parameters and logits.

QMaxPool and QLut need no rule (a max does not round; a table is its own semantics).

The TFLite rules (read from TFLite Micro's and gemmlowp's source, built without
TFLITE_SINGLE_ROUNDING as the `tflite-micro` package is; numpy in
`tinyc.quant.tflite_fixedpoint`; tests/tflite/test_tflite_semantics.py checks whole models
against TFLite Micro, test_tflite_models.py every op on TFLite Micro's own inputs):

- QConv/QGemm (per-channel or per-tensor), QAdd, QSub, QMul, QRequantize: TFLite's
  multipliers (QuantizeMultiplier of the double products and quotients of the float32 scales;
  Add's 2*max(s_a, s_b) with a left shift of 20, Sub's the same in float32; QSub exists only
  in this semantics) applied by MultiplyByQuantizedMultiplier:
  a rounding doubling high multiply, then a rounding divide by a power of two (half away
  from zero). Encoded in the (multiplier, shift) tables as shift + `TFLITE_SHIFT_BIAS`
  (`tinyc.quant.fixedpoint`), so every kernel that requantizes with
  `tinyc_requantize_one`/`tinyc_mbqm` follows it.
- QAveragePool: the window's raw codes summed, divided by the count of valid taps rounding
  half away from zero, clamped; the parameters are TFLite's input ones (it requires equal
  input and output parameters).
- QGlobalAveragePool (MEAN over H, W): (sum - count zp_x) through MultiplyByQuantizedMultiplier
  with QuantizeMultiplier(s_x / s_y) whose mantissa takes 1/count as TFLite folds it
  (`tflite_fixedpoint.mean_multiplier`).
- QSoftmax: gemmlowp's fixed-point exp of the Q5.26 scaled difference, as a 256-entry table,
  the row's Q12.19 sum, TFLite's reciprocal, output zero point -128 and scale 1/256
  (`tflite_fixedpoint.softmax_rows`).
- QLut of Sigmoid, Tanh, LeakyRelu, HardSwish: the table is TFLite's integer kernel on each
  code (gemmlowp's logistic and tanh on Q4.27, LEAKY_RELU's two multipliers, HARD_SWISH's
  int16 fixed point; `tflite_fixedpoint.lut_table`, chosen by `qdq-lower`).
- An int8 LSTM: `QLSTMTFLite` (`tinyc/ops/qlstm_tflite.py`), TFLite Micro's integer LSTM with
  its int16 gates, int16 logistic/tanh tables and quantized cell clip, made by
  `tinyc.quant.lower_tflite_lstm` (QLSTM/QGRU are never made in this semantics).
"""

from __future__ import annotations

import math

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import Graph, Node

FIXEDPOINT = "fixedpoint"
ONNXRUNTIME = "onnxruntime"
TFLITE = "tflite"
VALUES = (FIXEDPOINT, ONNXRUNTIME, TFLITE)
#: the integer ops' attribute
ATTR = "semantics"
#: graph metadata the frontend sets: the semantics `qdq-lower` gives the ops it makes
METADATA_KEY = "quant semantics"

#: the integer ops whose onnxruntime rule is implemented (`qdq-lower` marks these)
ONNXRUNTIME_OPS = frozenset({"QConv", "QGemm", "QAveragePool", "QGlobalAveragePool", "QAdd",
                             "QMul", "QConcat", "QRequantize", "QSoftmax"})
#: the integer ops whose TFLite rule is implemented
TFLITE_OPS = frozenset({"QConv", "QGemm", "QAveragePool", "QGlobalAveragePool", "QAdd", "QSub",
                        "QMul", "QRequantize", "QSoftmax"})
#: ONNX ops whose presence means the file carries its own quantization
QUANTIZATION_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv",
                              "QLinearMatMul", "ConvInteger", "MatMulInteger"})


def of(node: Node) -> str:
    """The node's semantics (the default for ops that do not carry the attribute)."""
    value = str(node.attrs.get(ATTR, FIXEDPOINT))
    if value not in VALUES:
        raise ModelError(f"{node.op} node '{node.name}': unknown {ATTR} '{value}' "
                         f"(expected {' or '.join(VALUES)})")
    return value


def is_onnxruntime(node: Node) -> bool:
    return of(node) == ONNXRUNTIME


def is_tflite(node: Node) -> bool:
    return of(node) == TFLITE


def code_offset(node: Node) -> int:
    """What onnxruntime's codes add to tinyc's: 128 where the model's tensors were uint8
    (`u8_codes`: tinyc stores them as int8 with zero points - 128), else 0."""
    return 128 if node.attrs.get("u8_codes") else 0


def mark(graph: Graph, value: str) -> None:
    """Give the integer ops of `graph` whose rule exists in `value` that semantics (the
    lowering's last step; fused Boundary forms copy it from their op)."""
    if value == FIXEDPOINT:
        return
    ops = ONNXRUNTIME_OPS if value == ONNXRUNTIME else TFLITE_OPS
    for node in graph.nodes:
        if node.op.removesuffix("Boundary") in ops:
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


def avgpool_value(x: np.ndarray, sx: float, sy: float, zy: int, attrs: dict[str, object],
                  out_spatial: tuple[int, ...]) -> np.ndarray:
    """QLinearAveragePool on `x` (codes minus the input zero point, [n, c, *spatial], 1-D or
    2-D, no dilation): float32 s_x * x summed over each window's taps in row-major order
    (padding skipped), / count (the kernel size with count_include_pad), / s_y, + zp_y
    (onnxruntime's zero point), rounded to nearest even. int64, unclamped."""
    k, s, pads = attrs["kernel_shape"], attrs["strides"], attrs["pads"]
    assert isinstance(k, list) and isinstance(s, list) and isinstance(pads, list)
    n = len(out_spatial)
    real = (np.asarray(x, np.int64).astype(f32) * f32(sx)).astype(f32)
    real = real.reshape(real.shape[:2] + (1,) * (2 - n) + real.shape[2:])
    k2, s2 = [1] * (2 - n) + list(k), [1] * (2 - n) + list(s)
    p2 = [0] * (2 - n) + list(pads[:n])
    oh, ow = ([1] * (2 - n) + list(out_spatial))
    h, w = real.shape[2:]
    out = np.zeros(real.shape[:2] + (oh, ow), np.int64)
    for oy in range(oh):
        y0 = oy * s2[0] - p2[0]
        y1 = min(y0 + k2[0], h)
        y0 = max(y0, 0)
        for ox in range(ow):
            x0 = ox * s2[1] - p2[1]
            x1 = min(x0 + k2[1], w)
            x0 = max(x0, 0)
            total = np.zeros(real.shape[:2], f32)
            for iy in range(y0, y1):
                for ix in range(x0, x1):
                    total = (total + real[:, :, iy, ix]).astype(f32)
            count = k2[0] * k2[1] if attrs.get("count_include_pad") else (y1 - y0) * (x1 - x0)
            v = ((total / f32(count)).astype(f32) / f32(sy)).astype(f32)
            out[:, :, oy, ox] = rint_f32((v + f32(zy)).astype(f32))
    return out.reshape(out.shape[:2] + tuple(out_spatial))


def softmax_table(x_scale: float, length: int) -> np.ndarray:
    """QLinearSoftmax's float32 table for d = max - x in [0, 255], exp((c - d) s_x) computed
    in double with c = max(0, ln(FLT_MAX / D) - 5) / s_x, as int32 bit patterns."""
    xs = float(f32(x_scale))
    shift = max(0.0, math.log(float(np.finfo(f32).max) / length) - 5.0) / xs
    table = np.array([math.exp((shift - d) * xs) for d in range(256)], np.float64)
    return table.astype(f32).view(np.int32)


def softmax_factor(y_scale: float) -> np.float32:
    """QLinearSoftmax's output factor floor(1 / s_y) (float32)."""
    return f32(math.floor(f32(1.0) / f32(y_scale)))


def softmax_value(d: np.ndarray, table_bits: np.ndarray, y_scale: float) -> np.ndarray:
    """rint(e * floor(1/s_y) / sum e) for differences d = max - x along axis 1 of
    [outer, length, inner]: e from the float32 table, the sum in float32 in index order,
    the quotient in double. int64, before the zero point."""
    e = np.asarray(table_bits, np.int32).view(f32)[d]
    total = np.zeros(e[:, :1].shape, f32)
    for j in range(e.shape[1]):
        total = (total + e[:, j:j + 1]).astype(f32)
    factor = float(softmax_factor(y_scale))
    return np.rint(e.astype(np.float64) * factor / total.astype(np.float64)).astype(np.int64)
