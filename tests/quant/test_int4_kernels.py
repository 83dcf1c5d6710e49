"""The int4-weight kernels (`codegen/kernels/*_w4*`, portable and Cortex-M4 variants, built
for the host) give exactly the bytes of the portable int8 kernels run on the same weights
unpacked -- the int8 kernels are bit-exact with the interpreter (tests/quant,
tests/property) -- for random convolutions (dense, grouped, depthwise with a depth
multiplier, pointwise, 1-D, reductions past the M4 column), fully connected layers, and
the in-place forms over overlapping buffers. Each call gets exactly the workspace
`tinyc.ops.qint4` plans, followed by a guard zone that must stay untouched."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mcu.mcu_kernels import CONV_FIELDS, QConvParams, QFcParams, i32p, vp
from tinyc.backend.generate import codegen_root
from tinyc.harness import STRICT_FLAGS
from tinyc.ops.qint4 import conv_w4_work_bytes, fc_w4_work_bytes
from tinyc.ops.qwork import ConvGeometry
from tinyc.quant.packing import pack_rows, pack_stream

VARIANTS = ("ref", "cortex-m4")


def _build(tmp: Path, variant: str, families: tuple[str, ...]) -> ctypes.CDLL:
    """The families' most specific sources for `variant` in one host library."""
    kernels = codegen_root() / "kernels"
    sources = []
    for family in families:
        own = kernels / variant / f"tinyc_{family}.c"
        sources.append(own if own.is_file() else kernels / "ref" / f"tinyc_{family}.c")
    lib = tmp / f"{variant}.so"
    subprocess.run(["cc", *STRICT_FLAGS, "-O2", "-fPIC", "-shared", "-Wl,-Bsymbolic",
                    "-I", str(kernels), "-I", str(kernels / variant),
                    "-I", str(codegen_root() / "runtime"), *map(str, sources), "-o", str(lib)],
                   check=True, capture_output=True, text=True)
    return ctypes.CDLL(str(lib))


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ctypes.CDLL]:
    out = {"int8": _build(tmp_path_factory.mktemp("int8"), "ref", ("qconv", "qfc"))}
    for variant in VARIANTS:
        out[variant] = _build(tmp_path_factory.mktemp(variant), variant,
                              ("qconv_w4", "qdwconv_w4", "qfc_w4", "qconv"))
    return out


class Workspace:
    """`nbytes` of 8-aligned scratch and a guard zone after it."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.buf = np.full(nbytes + 64 + 8, 0x5A, np.uint8)
        self.start = (-self.buf.ctypes.data) % 8

    @property
    def ptr(self) -> ctypes.c_void_p | None:
        return ctypes.c_void_p(self.buf.ctypes.data + self.start) if self.nbytes else None

    def check(self) -> None:
        assert (self.buf[self.start + self.nbytes :] == 0x5A).all(), "wrote past the workspace"


def _requant(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
    q = rng.integers(1 << 30, (1 << 31) - 1, m).astype(np.int32)
    return q, rng.integers(-12, 2, m).astype(np.int32)


@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["pointwise", "general", "grouped", "depthwise", "1d", "long"]))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    group, kh, kw, strides, dil, pads = 1, 1, 1, [1, 1], [1, 1], [0, 0, 0, 0]
    if kind == "pointwise":
        c, m = draw(st.integers(1, 21)), draw(st.integers(1, 9))
    elif kind == "long":  # past the M4 column: the unpacked-row loop
        c, m, h, w, kh, kw = 130, 3, 3, 3, 3, 3
    else:
        kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 5))
        strides = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
        dil = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
        pads = [draw(st.integers(0, 2)) for _ in range(4)]
        if kind == "1d":  # Conv1d: tinyc runs it as a conv over a 1-row image
            h, kh, strides[0], dil[0], pads[0], pads[2] = 1, 1, 1, 1, 0, 0
            w = draw(st.integers(4, 20))
        if kind == "depthwise":
            c = draw(st.integers(1, 4))
            m, group = c * draw(st.integers(1, 2)), c
        elif kind == "grouped":
            group = draw(st.integers(2, 3))
            c, m = group * draw(st.integers(1, 3)), group * draw(st.integers(1, 3))
        else:
            c, m = draw(st.integers(1, 9)), draw(st.integers(1, 7))
    oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    if oh < 1 or ow < 1:
        h, w = h + dil[0] * (kh - 1), w + dil[1] * (kw - 1)
        oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
        ow = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    return dict(kind=kind, n=draw(st.sampled_from([1, 1, 2])), c=c, h=h, w=w, m=m, oh=oh,
                ow=ow, kh=kh, kw=kw, group=group, stride_h=strides[0], stride_w=strides[1],
                dil_h=dil[0], dil_w=dil[1], pad_top=pads[0], pad_left=pads[1],
                zp_x=draw(st.integers(-128, 127)), zp_y=draw(st.integers(-128, 127)),
                relu=draw(st.booleans()), bias=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


def _conv_params(case: dict, q: np.ndarray, shift: np.ndarray) -> QConvParams:
    act_min = max(case["zp_y"], -128) if case["relu"] else -128
    return QConvParams(*(case[f] for f in CONV_FIELDS), -case["zp_x"], case["zp_y"], act_min,
                       127, i32p(q), i32p(shift))


def _conv_data(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray,
                                    np.ndarray]:
    rng = np.random.default_rng(case["seed"])
    x = rng.integers(-128, 128, (case["n"], case["c"], case["h"], case["w"]), dtype=np.int8)
    wt = rng.integers(-8, 8, (case["m"], case["c"] // case["group"], case["kh"], case["kw"]),
                      dtype=np.int8)
    b = rng.integers(-5000, 5000, case["m"]).astype(np.int32) if case["bias"] else None
    return (x, wt, b, *_requant(rng, case["m"]))


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=60, deadline=None)
@given(case=conv_cases())
def test_conv_w4_equals_the_int8_kernel(libs: dict, variant: str, case: dict) -> None:
    x, wt, b, q, shift = _conv_data(case)
    depthwise = case["kind"] == "depthwise"
    p = _conv_params(case, q, shift)
    bias = None if b is None else vp(b)
    want = np.zeros((case["n"], case["m"], case["oh"], case["ow"]), np.int8)
    int8_fn = libs["int8"].tinyc_depthwise_conv2d_s8 if depthwise else libs["int8"].tinyc_conv2d_s8
    int8_fn(vp(x), vp(wt), bias, vp(want), None, ctypes.byref(p))
    rows = wt.reshape(case["m"], -1)
    packed = pack_stream(rows) if depthwise else pack_rows(rows)
    lib = libs[variant]
    fn = lib.tinyc_depthwise_conv2d_s8_w4 if depthwise else lib.tinyc_conv2d_s8_w4
    geometry = ConvGeometry.of([case[f] for f in CONV_FIELDS])
    work = Workspace(conv_w4_work_bytes(geometry, depthwise, None))
    got = np.zeros_like(want)
    fn(vp(x), vp(packed), bias, vp(got), work.ptr, ctypes.byref(p))
    work.check()
    np.testing.assert_array_equal(got, want)


def _overlapped(fn, x: np.ndarray, y_size: int, delta: int, *args) -> np.ndarray:  # noqa: ANN001
    """X at its own offset and Y `delta` bytes after it in one buffer; run `fn`."""
    lo = min(0, delta)
    buf = np.zeros(max(x.size, delta + y_size) - lo + 128, np.int8)
    buf[-lo : -lo + x.size] = x.reshape(-1)
    base = buf.ctypes.data
    fn(ctypes.c_void_p(base - lo), args[0], args[1], ctypes.c_void_p(base + delta - lo), *args[2:])
    return buf[delta - lo : delta - lo + y_size].copy()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind,c,m,h,w", [("1x1", 6, 9, 3, 5), ("1x1", 9, 4, 4, 3),
                                          ("1x1", 1100, 3, 1, 3), ("1x1", 3, 13, 1, 3),
                                          ("dw", 5, 5, 6, 7), ("dw", 3, 3, 1, 9)])
def test_w4_streams_equal_the_ordinary_kernels(libs: dict, variant: str, kind: str, c: int,
                                               m: int, h: int, w: int) -> None:
    k = 1 if kind == "1x1" else 3
    pad = k // 2 if h > 1 else 0
    case = dict(kind="depthwise" if kind == "dw" else "pointwise", n=1, c=c, h=h, w=w, m=m,
                oh=h, ow=w, kh=k if h > 1 else 1, kw=k, group=c if kind == "dw" else 1,
                stride_h=1, stride_w=1, dil_h=1, dil_w=1, pad_top=pad, pad_left=k // 2,
                zp_x=7, zp_y=-9, relu=True, bias=True, seed=c + m)
    x, wt, b, q, shift = _conv_data(case)
    p = _conv_params(case, q, shift)
    lib = libs[variant]
    depthwise = kind == "dw"
    rows = wt.reshape(m, -1)
    packed = pack_stream(rows) if depthwise else pack_rows(rows)
    geometry = ConvGeometry.of([case[f] for f in CONV_FIELDS])
    want = np.zeros(m * h * w, np.int8)
    int8_fn = libs["int8"].tinyc_depthwise_conv2d_s8 if depthwise else libs["int8"].tinyc_conv2d_s8
    int8_fn(vp(x), vp(wt), vp(b), vp(want), None, ctypes.byref(p))
    scratch = np.zeros(h * w, np.int8)
    fn = lib.tinyc_dwconv2d_stream_s8_w4 if depthwise else lib.tinyc_conv1x1_stream_s8_w4
    # the overlaps the planner allows: a depthwise output at or below its input, a 1x1 either way
    for delta in (0, -h * w) if depthwise else (0, h * w, -h * w):
        work = Workspace(conv_w4_work_bytes(geometry, depthwise, None))
        got = _overlapped(fn, x, m * h * w, delta, vp(packed), vp(b), vp(scratch), work.ptr,
                          ctypes.byref(p))
        work.check()
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("batch,n_in,n_out", [(1, 64, 12), (1, 13, 5), (2, 7, 3), (1, 3, 1),
                                              (3, 130, 10), (1, 1030, 3)])
def test_fc_w4_equals_the_int8_kernel(libs: dict, variant: str, batch: int, n_in: int,
                                      n_out: int) -> None:
    rng = np.random.default_rng(batch * n_in + n_out)
    x = rng.integers(-128, 128, (batch, n_in), dtype=np.int8)
    wt = rng.integers(-8, 8, (n_out, n_in), dtype=np.int8)
    b = rng.integers(-5000, 5000, n_out).astype(np.int32)
    q, shift = _requant(rng, n_out)
    p = QFcParams(batch, n_in, n_out, 17, -3, -128, 127, i32p(q), i32p(shift))
    want = np.zeros((batch, n_out), np.int8)
    libs["int8"].tinyc_fully_connected_s8(vp(x), vp(wt), vp(b), vp(want), None, ctypes.byref(p))
    got = np.zeros_like(want)
    work = Workspace(fc_w4_work_bytes(n_in, None))
    packed = pack_rows(wt)  # (kept alive for the call)
    libs[variant].tinyc_fully_connected_s8_w4(vp(x), vp(packed), vp(b), vp(got),
                                              work.ptr, ctypes.byref(p))
    work.check()
    np.testing.assert_array_equal(got, want)
