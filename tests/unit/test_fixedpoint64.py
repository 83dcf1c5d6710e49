"""The 64-bit accumulator form of the fixed-point requantization (int16x8 layers): the
numpy reference (`multiply_by_quantized_multiplier` on |x| < 2^47) is the exact rounded
product, and codegen/runtime/tinyc_fixedpoint64.h's `tinyc_mbqm64` is bit-exact with it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_quant_fixedpoint import exact_mbqm
from tinyc.backend.generate import codegen_root
from tinyc.harness import SANITIZE_FLAGS, STRICT_FLAGS
from tinyc.quant.fixedpoint import (
    WIDE_ACC_LIMIT,
    WIDE_MAX_SHIFT,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
)

WIDE = st.integers(-(WIDE_ACC_LIMIT - 1), WIDE_ACC_LIMIT - 1)


@given(WIDE, st.integers(2**30, 2**31 - 1), st.integers(-31, WIDE_MAX_SHIFT))
def test_wide_mbqm_is_the_exact_rounded_product(x: int, q: int, shift: int) -> None:
    got = int(multiply_by_quantized_multiplier(np.array([x, -x]), q, shift)[0])
    assert got == exact_mbqm(x, q, shift)


def test_wide_mbqm_refuses_out_of_contract() -> None:
    with pytest.raises(ValueError, match="2\\^47"):
        multiply_by_quantized_multiplier(np.array([WIDE_ACC_LIMIT]), 2**30, 0)
    with pytest.raises(ValueError, match="shift above"):
        multiply_by_quantized_multiplier(np.array([2**40]), 2**30, WIDE_MAX_SHIFT + 1)


_C_DRIVER = r"""
#include <stdio.h>
#include "tinyc_fixedpoint64.h"
int main(int argc, char **argv) {
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
  int64_t v[3];
  (void)argc;
  while (fread(v, sizeof v[0], 3, in) == 3) {
    int32_t r[2];
    r[0] = tinyc_mbqm64(v[0], (int32_t)v[1], (int32_t)v[2]);
    r[1] = tinyc_requantize64_one_s16(v[0], (int32_t)v[1], (int32_t)v[2], 0, -32768, 32767);
    fwrite(r, sizeof r[0], 2, out);
  }
  fclose(in);
  fclose(out);
  return 0;
}
"""


def test_c_mbqm64_is_bit_exact_with_python(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 20000
    x = rng.integers(-(WIDE_ACC_LIMIT - 1), WIDE_ACC_LIMIT - 1, n, endpoint=True)
    x[: n // 4] = rng.integers(-(2**31), 2**31, n // 4)
    reals = np.exp(rng.uniform(np.log(2.0**-40), np.log(2.0**14), n))
    pairs = [quantize_multiplier(r) for r in reals]
    q = np.array([p[0] for p in pairs], np.int64)
    s = np.array([p[1] for p in pairs], np.int64)
    k = rng.integers(1, 32, n // 8)  # exact ties
    q[: n // 8], s[: n // 8] = 2**30, 1 - k
    edges = np.array([[WIDE_ACC_LIMIT - 1, 2**31 - 1, WIDE_MAX_SHIFT],
                      [-(WIDE_ACC_LIMIT - 1), 2**31 - 1, WIDE_MAX_SHIFT],
                      [-(WIDE_ACC_LIMIT - 1), 2**31 - 1, -31], [-1, 2**30, -31]], np.int64)
    cases = np.concatenate([np.stack([x, q, s], axis=1), edges]).astype(np.int64)
    (tmp_path / "driver.c").write_text(_C_DRIVER)
    exe = tmp_path / "driver"
    cmd = ["cc", *STRICT_FLAGS, *SANITIZE_FLAGS, "-O1", "-I", str(codegen_root() / "runtime"),
           str(tmp_path / "driver.c"), "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    cases.tofile(tmp_path / "in.bin")
    subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    got = np.fromfile(tmp_path / "out.bin", dtype=np.int32).reshape(-1, 2)
    want = multiply_by_quantized_multiplier(cases[:, 0], cases[:, 1], cases[:, 2])
    np.testing.assert_array_equal(got[:, 0], want)
    np.testing.assert_array_equal(got[:, 1], np.clip(want, -32768, 32767))
