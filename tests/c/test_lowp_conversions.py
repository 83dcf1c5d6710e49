"""codegen/runtime/tinyc_lowp.h against ml_dtypes and onnx, the ONNX reference: every
bfloat16 / float8 / float4 / float8e8m0 code decoded, and float32 values around every code, at every
rounding midpoint, the specials and random bit patterns encoded, with and without Cast's
`saturate`. One small C program, built with the strict flags and ASan/UBSan."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from onnx.numpy_helper import saturate_cast, to_float8e8m0

from tinyc.harness import SANITIZE_FLAGS, STRICT_FLAGS

RUNTIME = Path(__file__).resolve().parents[2] / "codegen" / "runtime"
#: name in C, numpy type, whether Cast's saturate applies (the float8 types)
MINIFLOATS = [
    ("f8e4m3fn", ml_dtypes.float8_e4m3fn, True),
    ("f8e4m3fnuz", ml_dtypes.float8_e4m3fnuz, True),
    ("f8e5m2", ml_dtypes.float8_e5m2, True),
    ("f8e5m2fnuz", ml_dtypes.float8_e5m2fnuz, True),
    ("f4e2m1", ml_dtypes.float4_e2m1fn, False),
]
WRAPS = [("i4", ml_dtypes.int4), ("u4", ml_dtypes.uint4), ("i2", ml_dtypes.int2),
         ("u2", ml_dtypes.uint2)]


def _program() -> str:
    lines = ['#include <stdio.h>', '#include <stdlib.h>', '#include "tinyc_lowp.h"', "",
             "static void put(const void *p, size_t size, FILE *f) {",
             "  if (fwrite(p, 1, size, f) != size) exit(3);", "}", "",
             "int main(int argc, char **argv) {",
             "  FILE *in, *out;", "  long n, i;", "  float *x;", "  if (argc != 3) return 2;",
             '  in = fopen(argv[1], "rb");', "  if (!in) return 2;",
             "  fseek(in, 0, SEEK_END);", "  n = ftell(in) / 4;", "  fseek(in, 0, SEEK_SET);",
             "  x = malloc((size_t)n * 4 + 4);",
             "  if (!x || fread(x, 4, (size_t)n, in) != (size_t)n) return 2;", "  fclose(in);",
             '  out = fopen(argv[2], "wb");', "  if (!out) return 2;",
             "  for (i = 0; i < 65536; ++i) {",
             "    float v = tinyc_bf16_to_f32((uint16_t)i); put(&v, 4, out); }",
             "  for (i = 0; i < n; ++i) { uint16_t b = tinyc_f32_to_bf16(x[i]); put(&b, 2, out); }"]
    for name, _, _ in MINIFLOATS:
        lines += [f"  for (i = 0; i < 256; ++i) {{ float v = tinyc_{name}_to_f32((uint8_t)i);"
                  " put(&v, 4, out); }",
                  "  for (i = 0; i < n; ++i) {",
                  f"    uint8_t s = tinyc_f32_to_{name}(x[i], 1);",
                  f"    uint8_t u = tinyc_f32_to_{name}(x[i], 0);",
                  "    put(&s, 1, out); put(&u, 1, out); }"]
    lines += ["  for (i = 0; i < 256; ++i) { float v = tinyc_f8e8m0_to_f32((uint8_t)i);"
              " put(&v, 4, out); }",
              "  for (i = 0; i < n; ++i) {",
              "    int sat, mode;",
              "    for (sat = 0; sat < 2; ++sat) for (mode = 0; mode < 3; ++mode) {",
              "      uint8_t b = tinyc_f32_to_f8e8m0(x[i], sat, mode); put(&b, 1, out); } }"]
    for name, _ in WRAPS:
        lines += ["  for (i = -300; i < 300; ++i) {",
                  f"    int8_t w = (int8_t)tinyc_wrap_{name}(i); put(&w, 1, out); }}"]
    lines += ["  free(x);", "  return fclose(out) != 0;", "}"]
    return "\n".join(lines) + "\n"


def _inputs() -> np.ndarray:
    """float32 values that exercise every rounding decision of every format."""
    rng = np.random.default_rng(0)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 1e-38,
                        3.4e38, -3.4e38, 1e6, -1e6], np.float32)
    grids = [np.arange(65536, dtype=np.uint32).astype(np.uint32) << 16,
             (np.arange(256, dtype=np.uint32) << 23) | 0x400000,  # e8m0 rounding midpoints
             (np.arange(256, dtype=np.uint32) << 23) | 0x200000]
    for _, t, _ in MINIFLOATS:
        codes = np.arange(256 if np.dtype(t).itemsize == 1 else 16, dtype=np.uint8)
        vals = np.sort(codes.view(t).astype(np.float32))
        vals = vals[np.isfinite(vals)]
        mids = ((vals[1:].astype(np.float64) + vals[:-1]) / 2).astype(np.float32)
        top = vals[-1] * np.float32(1.0625)  # past the largest finite value
        grids.append(np.concatenate([vals, mids, [top, -top]]).astype(np.float32).view(np.uint32))
    base = np.concatenate(grids)
    near = np.concatenate([base, base + 1, base - 1])
    randbits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    return np.concatenate([special.view(np.uint32), near, randbits]).view(np.float32)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, bytes]:
    tmp = tmp_path_factory.mktemp("lowp")
    (tmp / "main.c").write_text(_program())
    exe = tmp / "lowp"
    cmd = ["cc", *STRICT_FLAGS, *SANITIZE_FLAGS, "-O1", "-I", str(RUNTIME), str(tmp / "main.c"),
           "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    x = _inputs()
    x.tofile(tmp / "in.bin")
    subprocess.run([str(exe), str(tmp / "in.bin"), str(tmp / "out.bin")], check=True)
    return x, (tmp / "out.bin").read_bytes()


def _same_floats(got: np.ndarray, want: np.ndarray) -> None:
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))


def _sections(x: np.ndarray, raw: bytes) -> dict[str, np.ndarray]:
    n, pos, out = x.size, 0, {}

    def take(key: str, dtype: type, count: int) -> None:
        nonlocal pos
        size = np.dtype(dtype).itemsize * count
        out[key] = np.frombuffer(raw[pos : pos + size], dtype)
        pos += size

    take("bf16_dec", np.float32, 65536)
    take("bf16_enc", np.uint16, n)
    for name, _, _ in MINIFLOATS:
        take(f"{name}_dec", np.float32, 256)
        take(f"{name}_enc", np.uint8, 2 * n)
    take("e8m0_dec", np.float32, 256)
    take("e8m0_enc", np.uint8, 6 * n)
    for name, _ in WRAPS:
        take(f"{name}_wrap", np.int8, 600)
    assert pos == len(raw)
    return out


def test_bfloat16(results: tuple[np.ndarray, bytes]) -> None:
    x, raw = results
    s = _sections(x, raw)
    codes = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    _same_floats(s["bf16_dec"], codes.view(ml_dtypes.bfloat16).astype(np.float32))
    with np.errstate(invalid="ignore"):
        want = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    nan = np.isnan(x)
    np.testing.assert_array_equal(s["bf16_enc"][~nan], want[~nan])
    assert np.isnan(s["bf16_enc"][nan].view(ml_dtypes.bfloat16).astype(np.float32)).all()


@pytest.mark.parametrize("name,dtype,has_saturate", MINIFLOATS, ids=[m[0] for m in MINIFLOATS])
def test_minifloat(results: tuple[np.ndarray, bytes], name: str, dtype: type,
                   has_saturate: bool) -> None:
    x, raw = results
    s = _sections(x, raw)
    ncodes = 256 if name.startswith("f8") else 16
    codes = np.arange(ncodes, dtype=np.uint8)
    _same_floats(s[f"{name}_dec"][:ncodes], codes.view(dtype).astype(np.float32))
    enc = s[f"{name}_enc"].reshape(-1, 2)
    with np.errstate(all="ignore"):
        nosat = x.astype(dtype).view(np.uint8)
        sat = saturate_cast(x, np.dtype(dtype)).view(np.uint8) if has_saturate else nosat
    np.testing.assert_array_equal(enc[:, 1], nosat)
    np.testing.assert_array_equal(enc[:, 0], sat)


def test_float8_e8m0(results: tuple[np.ndarray, bytes]) -> None:
    x, raw = results
    s = _sections(x, raw)
    codes = np.arange(256, dtype=np.uint8)
    _same_floats(s["e8m0_dec"], codes.view(ml_dtypes.float8_e8m0fnu).astype(np.float32))
    enc = s["e8m0_enc"].reshape(-1, 2, 3)
    for sat in (0, 1):
        for mode, name in enumerate(("up", "down", "nearest")):  # TINYC_E8M0_* order
            want = to_float8e8m0(x, bool(sat), name).view(np.uint8)
            np.testing.assert_array_equal(enc[:, sat, mode], want, err_msg=f"{sat} {name}")


@pytest.mark.parametrize("name,dtype", WRAPS, ids=[w[0] for w in WRAPS])
def test_subbyte_wrap(results: tuple[np.ndarray, bytes], name: str, dtype: type) -> None:
    x, raw = results
    got = _sections(x, raw)[f"{name}_wrap"]
    want = np.arange(-300, 300).astype(dtype).astype(np.int8)
    np.testing.assert_array_equal(got, want)
