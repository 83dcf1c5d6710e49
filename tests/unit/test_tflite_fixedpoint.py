"""`tinyc.quant.tflite_fixedpoint` against scalar transcriptions of gemmlowp's and TFLite's
formulas as they are written (the nudge and C's truncating division, the mask and threshold),
on random and tie-heavy values, and its exp/reciprocal against the real functions."""

from __future__ import annotations

import math

import numpy as np

from tinyc.quant import tflite_fixedpoint as tfl
from tinyc.quant.fixedpoint import quantize_multiplier


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _srdhm(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _trunc_div(ab + nudge, 1 << 31)


def _rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _mbqm(x: int, q: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    shifted = ((x << left) + 2**31) % 2**32 - 2**31
    return _rdbpot(_srdhm(shifted, q), right)


def test_mbqm_is_tflites_two_roundings() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    x = rng.integers(-(2**31), 2**31, n)
    x[: n // 2] = rng.integers(-(2**20), 2**20, n // 2)
    reals = np.exp(rng.uniform(math.log(2.0**-30), math.log(2.0**8), n))
    pairs = [quantize_multiplier(r) for r in reals]
    q = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs])
    q[: n // 4], s[: n // 4] = 1 << 30, rng.integers(-12, 1, n // 4)  # ties in both roundings
    got = tfl.mbqm(x, q, s)
    want = [_mbqm(int(a), int(b), int(c)) for a, b, c in zip(x, q, s)]
    np.testing.assert_array_equal(got, want)


def test_srdhm_and_rdbpot_on_signed_operands() -> None:
    rng = np.random.default_rng(4)
    a = np.concatenate([rng.integers(-(2**31), 2**31, 2000), [-(2**31), -(2**31), 2**31 - 1]])
    b = np.concatenate([rng.integers(-(2**31), 2**31, 2000), [-(2**31), 2**31 - 1, -(2**31)]])
    np.testing.assert_array_equal(tfl.srdhm(a, b), [_srdhm(int(u), int(v)) for u, v in zip(a, b)])
    e = rng.integers(0, 32, a.size)
    np.testing.assert_array_equal(tfl.rdbpot(a, e), [_rdbpot(int(u), int(k)) for u, k in zip(a, e)])


def test_exp_and_reciprocal_approximate_the_real_functions() -> None:
    a = -np.arange(0, 32 << 26, 1 << 20, dtype=np.int64)  # Q5.26 values in (-32, 0]
    e = tfl.exp_on_negative_values(a, 5) / 2.0**31
    np.testing.assert_allclose(e, np.exp(a / 2.0**26), atol=3e-7)  # a 4th-order Taylor series
    x = np.arange(0, 2**31, 2**20, dtype=np.int64)  # Q0.31 in [0, 1)
    np.testing.assert_allclose(tfl.one_over_one_plus_x(x) / 2.0**31, 1 / (1 + x / 2.0**31),
                               atol=2e-9)


def test_softmax_of_a_row_sums_to_one() -> None:
    table = tfl.softmax_exp_table(0.1)
    d = np.random.default_rng(5).integers(0, 256, (7, 12, 1))
    d[:, 0] = 0  # each row has its maximum
    p = (tfl.softmax_rows(d, table) + 128) / 256.0
    want = np.exp(-0.1 * d) / np.exp(-0.1 * d).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, want, atol=1 / 256)


def test_mean_multiplier_folds_the_count() -> None:
    q, s = quantize_multiplier(0.8)
    q2, s2 = tfl.mean_multiplier(q, s, 25)
    assert abs(q2 * 2.0 ** (s2 - 31) - 0.8 / 25) < 1e-9
