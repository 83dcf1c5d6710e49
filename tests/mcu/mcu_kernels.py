"""Load one kernel family of one variant directory (`ref`, `cortex-m4`, ...) as a host
shared library, so the target kernels are checked against numpy on the host, quickly and
on every machine, before QEMU runs them on the core.

Out-of-bounds access shows up without a sanitizer: every array sits between NaN guard
zones (a stray read turns a result into NaN) and the output's guards must stay NaN.
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np

from tinyc.backend.generate import codegen_root
from tinyc.harness import STRICT_FLAGS
from tinyc.mcu.targets import kernel_dirs

GUARD = 64


class Act(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("a", ctypes.c_float), ("b", ctypes.c_float)]


CONV_FIELDS = ("n", "c", "h", "w", "m", "oh", "ow", "kh", "kw", "group", "stride_h",
               "stride_w", "dil_h", "dil_w", "pad_top", "pad_left")


class ConvParams(ctypes.Structure):
    _fields_ = [(f, ctypes.c_int32) for f in CONV_FIELDS] + [("act", Act)]


class GemmParams(ctypes.Structure):
    _fields_ = [(f, ctypes.c_int32) for f in ("m", "n", "k", "trans_a", "trans_b")] + [
        ("alpha", ctypes.c_float), ("beta", ctypes.c_float), ("bias_mode", ctypes.c_int32),
        ("act", Act),
    ]  # fmt: skip


class QConvParams(ctypes.Structure):
    _fields_ = [(f, ctypes.c_int32) for f in CONV_FIELDS] + [
        (f, ctypes.c_int32) for f in ("input_offset", "output_offset", "act_min", "act_max")
    ] + [("multiplier", ctypes.POINTER(ctypes.c_int32)), ("shift", ctypes.POINTER(ctypes.c_int32)),
         ("packed", ctypes.POINTER(ctypes.c_int32))]  # NULL unless given (qpack.py)


class QFcParams(ctypes.Structure):
    _fields_ = [(f, ctypes.c_int32) for f in ("batch", "in_features", "out_features",
                                                "input_offset", "output_offset", "act_min",
                                                "act_max")] + [
        ("multiplier", ctypes.POINTER(ctypes.c_int32)), ("shift", ctypes.POINTER(ctypes.c_int32))
    ]


def i32p(a: np.ndarray) -> ctypes._Pointer:
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def vp(a: np.ndarray) -> ctypes.c_void_p:
    """A pointer argument (a bare int would be passed as a 32-bit C int)."""
    return ctypes.c_void_p(a.ctypes.data)


def variant_includes(variant: str) -> list[str]:
    """-I for the variant's private headers, then for those of the variants it falls back
    to (the Cortex-M55 files use the Cortex-M4 blocks), as tinyc copies them into OUT."""
    root = codegen_root()
    private = [d for d in (variant, *kernel_dirs(variant)) if d != "ref"]
    return [a for d in dict.fromkeys(private) for a in ("-I", str(root / "kernels" / d))]


def build_family(variant: str, family: str, tmp: Path, cc: str = "cc") -> ctypes.CDLL:
    """Compile codegen/kernels/<variant>/tinyc_<family>.c into a shared library (with the
    TFLite rounding forms, TINYC_TFLITE, which a generated OUT has only for TFLite models)."""
    root = codegen_root()
    src = root / "kernels" / variant / f"tinyc_{family}.c"
    lib = tmp / f"{variant}_{family}.so"
    cmd = [cc, *STRICT_FLAGS, "-DTINYC_TFLITE", "-O2", "-fPIC", "-shared",
           "-I", str(root / "kernels"), *variant_includes(variant),
           "-I", str(root / "runtime"), str(src),
           "-o", str(lib), "-lm"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return ctypes.CDLL(str(lib))


class Guarded:
    """A float32 array inside NaN guard zones; `.ptr` points at its first element."""

    def __init__(self, data: np.ndarray) -> None:
        flat = np.ascontiguousarray(data, dtype=np.float32).reshape(-1)
        self.shape = data.shape
        self.buf = np.full(flat.size + 2 * GUARD, np.nan, dtype=np.float32)
        self.buf[GUARD : GUARD + flat.size] = flat
        self.ptr = self.buf[GUARD:].ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    @property
    def value(self) -> np.ndarray:
        return self.buf[GUARD : self.buf.size - GUARD].reshape(self.shape)

    def guards_intact(self) -> bool:
        return bool(np.isnan(self.buf[:GUARD]).all() and np.isnan(self.buf[-GUARD:]).all())
