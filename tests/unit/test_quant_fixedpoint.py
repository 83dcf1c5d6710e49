"""Fixed-point requantization: the stated rounding mode, TFLite's edge cases, and bit-exact
agreement of tinyc/quant/fixedpoint.py with codegen/runtime/tinyc_fixedpoint.h."""

from __future__ import annotations

import math
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyc.backend.generate import codegen_root
from tinyc.harness import SANITIZE_FLAGS, STRICT_FLAGS
from tinyc.quant.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    TFLITE_SHIFT_BIAS,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    quantize_multipliers,
    requantize,
    round_half_away,
)

INT32 = st.integers(INT32_MIN, INT32_MAX)


def exact_mbqm(x: int, q: int, shift: int) -> int:
    """round-half-up of x * q * 2^(shift - 31), saturated: the documented contract."""
    value = Fraction(x * q) * Fraction(2) ** (shift - 31)
    rounded = math.floor(value + Fraction(1, 2))
    return max(INT32_MIN, min(INT32_MAX, rounded))


@pytest.mark.parametrize(
    ("real", "expected"),
    [
        (0.0, (0, 0)),
        (1.0, (2**30, 1)),
        (0.5, (2**30, 0)),
        (0.75, (3 * 2**29, 0)),
        (2.0**-31, (2**30, -30)),
        (2.0**-33, (0, 0)),  # below 2^-32: flushed to zero, as in TFLite
        (1.0 - 2.0**-40, (2**30, 1)),  # mantissa rounds up to 2^31: halved, shift + 1
    ],
)
def test_quantize_multiplier_edge_cases(real: float, expected: tuple[int, int]) -> None:
    assert quantize_multiplier(real) == expected


@pytest.mark.parametrize("bad", [-0.5, float("inf"), float("nan"), 2.0**30])
def test_quantize_multiplier_refuses_out_of_contract(bad: float) -> None:
    with pytest.raises(ValueError):
        quantize_multiplier(bad)


@given(st.floats(2.0**-31, 2.0**29, allow_nan=False))
def test_multiplier_represents_the_real_value(real: float) -> None:
    q, shift = quantize_multiplier(real)
    assert 2**30 <= q < 2**31
    approx = q * 2.0 ** (shift - 31)
    assert abs(approx - real) <= real * 2.0**-31


@given(INT32, st.integers(0, 2**31 - 1), st.integers(-31, 30))
def test_mbqm_rounds_half_up_and_saturates(x: int, q: int, shift: int) -> None:
    assert int(multiply_by_quantized_multiplier(x, q, shift)) == exact_mbqm(x, q, shift)


def test_ties_round_toward_positive_infinity() -> None:
    # x * 0.5 for odd x is an exact tie: 3 -> 2, -3 -> -1
    q, s = quantize_multiplier(0.5)
    got = multiply_by_quantized_multiplier(np.array([3, -3, 1, -1]), q, s)
    assert got.tolist() == [2, -1, 1, 0]


def test_requantize_clamps_after_the_zero_point() -> None:
    q, s = quantize_multiplier(1.0)
    acc = np.array([-1000, -5, 0, 5, 1000])
    assert requantize(acc, q, s, 3, -128, 5).tolist() == [-128, -2, 3, 5, 5]


def test_round_half_away() -> None:
    assert round_half_away(np.array([5, -5, 4, -4, 7]), 2).tolist() == [3, -3, 2, -2, 4]


def test_quantize_multipliers_per_channel() -> None:
    q, s = quantize_multipliers([0.25, 1.0, 0.0])
    assert q.dtype == np.int32 and s.dtype == np.int32
    assert q.tolist() == [2**30, 2**30, 0] and s.tolist() == [-1, 1, 0]


_C_DRIVER = r"""
#include <stdio.h>
#include "tinyc_fixedpoint.h"
int main(int argc, char **argv) {
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
  int32_t v[6];
  (void)argc;
  while (fread(v, sizeof v[0], 6, in) == 6) {
    int32_t r[3];
    r[0] = tinyc_mbqm(v[0], v[1], v[2]);
    r[1] = tinyc_requantize_one(v[0], v[1], v[2], v[3], v[4], v[5]);
    r[2] = v[5] > 0 ? tinyc_div_round(v[0] / 256, v[5]) : 0;
    fwrite(r, sizeof r[0], 3, out);
  }
  fclose(in);
  fclose(out);
  return 0;
}
"""


def _cases(n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    x[: n // 4] = rng.integers(-(2**20), 2**20, n // 4)  # typical accumulators
    reals = np.exp(rng.uniform(np.log(2.0**-34), np.log(2.0**29), n))
    pairs = [quantize_multiplier(r) for r in reals]
    q = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs])
    # exact ties: x * 2^-k with x odd
    k = rng.integers(1, 20, n // 8)
    q[: n // 8], s[: n // 8] = 2**30, 1 - k
    zp = rng.integers(-128, 128, n)
    lo = rng.integers(-128, 0, n)
    hi = rng.integers(0, 128, n)
    edges = [
        (INT32_MIN, 2**31 - 1, 30, 0, -128, 127),
        (INT32_MAX, 2**31 - 1, 30, 0, -128, 127),
        (INT32_MIN, 2**31 - 1, -31, 0, -128, 127),
        (INT32_MAX, 2**30, 1, -128, -128, 127),
        (-1, 2**30, -31, 0, -128, 127),
    ]
    s[n // 16: n // 2] += TFLITE_SHIFT_BIAS  # TFLite's double rounding, ties included
    rows = np.stack([x, q, s, zp, lo, hi], axis=1)
    return np.concatenate([rows, np.array(edges)]).astype(np.int32)


def test_c_helper_is_bit_exact_with_python(tmp_path: Path) -> None:
    cases = _cases(40000)
    (tmp_path / "driver.c").write_text(_C_DRIVER)
    exe = tmp_path / "driver"
    runtime = codegen_root() / "runtime"
    cmd = ["cc", *STRICT_FLAGS, *SANITIZE_FLAGS, "-DTINYC_TFLITE", "-O1", "-I", str(runtime),
           str(tmp_path / "driver.c"), "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    cases.tofile(tmp_path / "in.bin")
    subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    got = np.fromfile(tmp_path / "out.bin", dtype=np.int32).reshape(-1, 3)
    x, q, s, zp, lo, hi = (cases[:, i].astype(np.int64) for i in range(6))
    np.testing.assert_array_equal(got[:, 0], multiply_by_quantized_multiplier(x, q, s))
    want = np.clip(multiply_by_quantized_multiplier(x, q, s).astype(np.int64) + zp, lo, hi)
    np.testing.assert_array_equal(got[:, 1], want)
    den = np.where(hi > 0, hi, 1)
    div = np.where(hi > 0, round_half_away(np.trunc(x / 256).astype(np.int64), den), 0)
    np.testing.assert_array_equal(got[:, 2], div)
