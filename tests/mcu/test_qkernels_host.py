"""The int8 kernel variants give exactly the portable kernels' bytes on the host, for
random shapes (dense, grouped, depthwise, pointwise, fully connected) and random
requantization parameters (both the fast and the 64-bit rounding path). Each call gets the
arena workspace the compiler plans for it (`tinyc.ops.qwork`), exactly that many bytes
followed by a guard zone that must stay untouched (NULL when the size is 0)."""

from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcu_kernels import (
    CONV_FIELDS,
    QConvParams,
    QFcParams,
    build_family,
    i32p,
    variant_includes,
    vp,
)

from tinyc.backend.generate import codegen_root
from tinyc.ops.qbanded import walk_constants
from tinyc.ops.qwork import ConvGeometry, qconv_work_bytes, qfc_work_bytes, qpool_work_bytes
from tinyc.quant.fixedpoint import TFLITE_SHIFT_BIAS


def variants(family: str) -> list[str]:
    kernels = codegen_root() / "kernels"
    return sorted(d.name for d in kernels.iterdir()
                  if d.name != "ref" and (d / f"tinyc_{family}.c").is_file())


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], ctypes.CDLL]:
    tmp = tmp_path_factory.mktemp("qkernels")
    return {
        (variant, family): build_family(variant, family, tmp)
        for family in ("qconv", "qfc")
        for variant in ["ref", *variants(family)]
    }


class Workspace:
    """`nbytes` of 8-aligned scratch followed by a guard zone; `check` asserts the kernel
    wrote nothing past its size."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.buf = np.full(nbytes + 64 + 8, 0x5A, np.uint8)
        self.start = (-self.buf.ctypes.data) % 8

    @property
    def ptr(self) -> ctypes.c_void_p | None:
        return ctypes.c_void_p(self.buf.ctypes.data + self.start) if self.nbytes else None

    def check(self) -> None:
        tail = self.buf[self.start + self.nbytes :]
        assert (tail == 0x5A).all(), f"the kernel wrote past its {self.nbytes} B workspace"
        assert (self.buf[: self.start] == 0x5A).all()


def pool(lib: ctypes.CDLL, fn: str, x: np.ndarray, y: np.ndarray, case: dict) -> None:
    """Call an int8 pool kernel with its params and, for the windowed pools, the workspace
    the compiler plans for it (checked for writes past its size)."""
    fields = [case[f] for f in QPOOL_FIELDS]
    p = QPoolParams(*fields)
    if "global" in fn:
        getattr(lib, fn)(vp(x), vp(y), ctypes.byref(p))
        return
    work = Workspace(qpool_work_bytes("max" if "max" in fn else "avg", fields))
    getattr(lib, fn)(vp(x), vp(y), work.ptr, ctypes.byref(p))
    work.check()


def conv_workspace(case: dict, depthwise: bool) -> Workspace:
    return Workspace(qconv_work_bytes(ConvGeometry.of([case[f] for f in CONV_FIELDS]),
                                      depthwise))


def requant_params(rng: np.random.Generator, m: int,
                   tflite: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) as tinyc.quant emits them: q in [2^30, 2^31).
    `tflite`: every other channel with TFLite's double rounding (else none, so channel
    pairs can take the conv kernel's short form together)."""
    q = rng.integers(1 << 30, (1 << 31) - 1, m).astype(np.int32)
    shift = rng.integers(-12, 2, m).astype(np.int32)  # -1 and above take the 64-bit path
    if tflite:
        shift[1::2] += TFLITE_SHIFT_BIAS
    return q, shift


@st.composite
def qconv_cases(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["pointwise", "general", "grouped", "depthwise", "long"]))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    group, kh, kw = 1, 1, 1
    strides, dil, pads = [1, 1], [1, 1], [0, 0, 0, 0]
    if kind == "pointwise":
        c, m = draw(st.integers(1, 13)), draw(st.integers(1, 9))
    elif kind == "long":  # longer than the column buffer
        c, m, h, w = 600, 3, 2, 3
    else:
        kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        strides = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
        dil = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
        pads = [draw(st.integers(0, 2)) for _ in range(4)]
        if kind == "depthwise":
            c = draw(st.integers(1, 4))
            m, group = c * draw(st.integers(1, 2)), c
        elif kind == "grouped":
            group = draw(st.integers(2, 3))
            c, m = group * draw(st.integers(1, 3)), group * draw(st.integers(1, 3))
        else:
            c, m = draw(st.integers(1, 7)), draw(st.integers(1, 7))
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
                tflite=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def run_qconv(lib: ctypes.CDLL, case: dict, x: np.ndarray, wt: np.ndarray, b: np.ndarray | None,
              q: np.ndarray, shift: np.ndarray) -> np.ndarray:
    act_min = max(case["zp_y"], -128) if case["relu"] else -128
    p = QConvParams(*(case[f] for f in CONV_FIELDS), -case["zp_x"], case["zp_y"], act_min, 127,
                    i32p(q), i32p(shift))
    y = np.zeros((case["n"], case["m"], case["oh"], case["ow"]), np.int8)
    depthwise = case["kind"] == "depthwise"
    fn = lib.tinyc_depthwise_conv2d_s8 if depthwise else lib.tinyc_conv2d_s8
    work = conv_workspace(case, depthwise)
    fn(vp(x), vp(wt), None if b is None else vp(b), vp(y), work.ptr, ctypes.byref(p))
    work.check()
    return y


@pytest.mark.parametrize("variant", variants("qconv"))
@settings(max_examples=80)
@given(case=qconv_cases())
def test_qconv_matches_the_portable_kernel(libs: dict, variant: str, case: dict) -> None:
    rng = np.random.default_rng(case["seed"])
    x = rng.integers(-128, 128, (case["n"], case["c"], case["h"], case["w"]), dtype=np.int8)
    wt = rng.integers(-127, 128, (case["m"], case["c"] // case["group"], case["kh"], case["kw"]),
                      dtype=np.int8)
    b = rng.integers(-5000, 5000, case["m"]).astype(np.int32) if case["bias"] else None
    q, shift = requant_params(rng, case["m"], case["tflite"])
    expected = run_qconv(libs[("ref", "qconv")], case, x, wt, b, q, shift)
    got = run_qconv(libs[(variant, "qconv")], case, x, wt, b, q, shift)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("variant", variants("qfc"))
@pytest.mark.parametrize("batch,n_in,n_out", [(1, 64, 12), (1, 13, 5), (2, 7, 3), (1, 3, 1),
                                              (3, 130, 10), (1, 1030, 3),
                                              (1, 640, 9), (2, 515, 4)])
def test_qfc_matches_the_portable_kernel(libs: dict, variant: str, batch: int, n_in: int,
                                         n_out: int) -> None:
    rng = np.random.default_rng(batch * n_in + n_out)
    x = rng.integers(-128, 128, (batch, n_in), dtype=np.int8)
    wt = rng.integers(-127, 128, (n_out, n_in), dtype=np.int8)
    b = rng.integers(-5000, 5000, n_out).astype(np.int32)
    q, shift = requant_params(rng, n_out)
    outs = []
    for lib in (libs[("ref", "qfc")], libs[(variant, "qfc")]):
        p = QFcParams(batch, n_in, n_out, 17, -3, -128, 127, i32p(q), i32p(shift))
        y = np.zeros((batch, n_out), np.int8)
        work = Workspace(qfc_work_bytes(n_in))
        lib.tinyc_fully_connected_s8(vp(x), vp(wt), vp(b), vp(y), work.ptr, ctypes.byref(p))
        work.check()
        outs.append(y)
    np.testing.assert_array_equal(outs[1], outs[0])


def _overlapped_s8(fn, x: np.ndarray, y_size: int, delta: int, *args) -> np.ndarray:  # noqa: ANN001
    """X at its own offset and Y `delta` bytes after it in one buffer; run `fn`."""
    lo = min(0, delta)
    buf = np.zeros(max(x.size, delta + y_size) - lo + 128, np.int8)
    buf[-lo : -lo + x.size] = x.reshape(-1)
    base = buf.ctypes.data
    fn(ctypes.c_void_p(base - lo), args[0], args[1], ctypes.c_void_p(base + delta - lo), *args[2:])
    return buf[delta - lo : delta - lo + y_size].copy()


@pytest.mark.parametrize("variant", variants("qconv"))
@pytest.mark.parametrize("c,k,stride,h,w", [(40, 1, 1, 5, 7), (44, 1, 1, 5, 3), (52, 1, 1, 4, 4),
                                            (8, 3, 1, 6, 5), (12, 3, 2, 9, 7)])
@pytest.mark.parametrize("relu", [False, True])
def test_qconv_wide_layers_match_the_portable_kernel(libs: dict, variant: str, c: int, k: int,
                                                     stride: int, h: int, w: int,
                                                     relu: bool) -> None:
    """64 output channels, K % 4 == 0 and every shift in the short form: the M4 kernel's
    2 x 3 tile (tinyc_qconv.c triples_of; its C form here) over its column of triples; with
    a ReLU clamp, the pairs' paths on the same column buffer. At stride 1 the streaming
    forms too, their output over their input (a triple reads one pixel past its column)."""
    pad = k // 2
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    case = dict(kind="general", n=1, c=c, h=h, w=w, m=64, oh=oh, ow=ow, kh=k, kw=k, group=1,
                stride_h=stride, stride_w=stride, dil_h=1, dil_w=1, pad_top=pad, pad_left=pad,
                zp_x=5, zp_y=-20, relu=relu, bias=True)
    rng = np.random.default_rng(c * k + stride)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    wt = rng.integers(-127, 128, (64, c, k, k), dtype=np.int8)
    b = rng.integers(-5000, 5000, 64).astype(np.int32)
    q = rng.integers(1 << 30, (1 << 31) - 1, 64).astype(np.int32)
    shift = rng.integers(-14, -1, 64).astype(np.int32)  # all in the short form
    expected = run_qconv(libs[("ref", "qconv")], case, x, wt, b, q, shift)
    lib = libs[(variant, "qconv")]
    np.testing.assert_array_equal(run_qconv(lib, case, x, wt, b, q, shift), expected)
    if stride != 1:
        return
    act_min = -20 if relu else -128
    p = QConvParams(*(case[f] for f in CONV_FIELDS), -5, -20, act_min, 127, i32p(q), i32p(shift))
    if k == 1:
        fn, scratch = lib.tinyc_conv1x1_stream_s8, np.zeros(c, np.int8)
    else:
        fn, scratch = lib.tinyc_conv2d_rows_stream_s8, np.zeros((pad + 1) * 64 * w, np.int8)
    for delta in (0, h * w, -h * w):
        work = conv_workspace(case, False)
        got = _overlapped_s8(fn, x, 64 * h * w, delta, vp(wt), vp(b), vp(scratch), work.ptr,
                             ctypes.byref(p))
        work.check()
        np.testing.assert_array_equal(got, expected.reshape(-1))


@pytest.mark.parametrize("variant", variants("qconv"))
@pytest.mark.parametrize("kind,c,m,h,w", [("1x1", 6, 9, 3, 5), ("1x1", 9, 4, 4, 3),
                                          ("1x1", 700, 3, 1, 3), ("1x1", 3, 700, 1, 3),
                                          ("1x1", 600, 610, 1, 2),
                                          ("dw", 5, 5, 6, 7), ("rows", 4, 6, 5, 7),
                                          ("rows", 70, 3, 3, 4)])
def test_qconv_streams_equal_the_ordinary_kernels(libs: dict, variant: str, kind: str, c: int,
                                                  m: int, h: int, w: int) -> None:
    k = 1 if kind == "1x1" else 3
    pad = k // 2
    case = dict(kind="depthwise" if kind == "dw" else "pointwise", n=1, c=c, h=h, w=w, m=m,
                oh=h, ow=w, kh=k, kw=k, group=c if kind == "dw" else 1, stride_h=1, stride_w=1,
                dil_h=1, dil_w=1, pad_top=pad, pad_left=pad, zp_x=7, zp_y=-9, relu=True,
                bias=True)
    rng = np.random.default_rng(c + m)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    wt = rng.integers(-127, 128, (m, c // case["group"], k, k), dtype=np.int8)
    b = rng.integers(-5000, 5000, m).astype(np.int32)
    q, shift = requant_params(rng, m)
    lib = libs[(variant, "qconv")]
    expected = run_qconv(lib, case, x, wt, b, q, shift).reshape(-1)
    p = QConvParams(*(case[f] for f in CONV_FIELDS), -7, -9, -9, 127, i32p(q), i32p(shift))
    if kind == "dw":
        fn, scratch, deltas = lib.tinyc_dwconv2d_stream_s8, np.zeros(h * w, np.int8), (0, -h * w)
    elif kind == "rows":
        fn, scratch = lib.tinyc_conv2d_rows_stream_s8, np.zeros((pad + 1) * m * w, np.int8)
        deltas = (0, h * w, -h * w)
    else:
        fn, scratch = lib.tinyc_conv1x1_stream_s8, np.zeros(min(c, m), np.int8)
        deltas = (0, h * w, -h * w)
    for delta in deltas:
        work = conv_workspace(case, kind == "dw")
        got = _overlapped_s8(fn, x, m * h * w, delta, vp(wt), vp(b), vp(scratch), work.ptr,
                             ctypes.byref(p))
        work.check()
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("c,w,halo_in,new,halo_out,pad_top,oh", [
    (6, 5, 0, 10, 2, 1, 9),  # a chain's first band (KWS): the halo kept for the next
    (6, 5, 2, 10, 2, 0, 10),  # a middle band
    (6, 5, 2, 5, 0, 0, 6),  # the last: output planes larger than the new rows (last first)
    (5, 5, 2, 1, 0, 0, 2),
    (4, 3, 2, 3, 1, 0, 3),  # rows of 3 bytes: no word copies
    (3, 14, 1, 4, 1, 0, 3),  # the wide walk (rows 16 bytes apart)
    (5, 5, 1, 2, 2, 0, 3),  # a halo growing: planes last first keeps it off unread rows
])
def test_dwconv2d_halo_equals_the_assembled_window(libs: dict, c: int, w: int, halo_in: int,
                                                    new: int, halo_out: int, pad_top: int,
                                                    oh: int) -> None:
    """tinyc_dwconv2d_halo_s8 (the Cortex-M4 kernels' band form, tinyc_qband.c run_chain)
    reads a window split into its kept rows and the new ones and writes over the new ones:
    the outputs of the whole window's depthwise conv, and the window's last halo_out rows
    kept; a step whose halos would overlap unread rows is refused, with nothing written."""
    h = halo_in + new
    case = dict(kind="depthwise", n=1, c=c, h=h, w=w, m=c, oh=oh, ow=w, kh=3, kw=3, group=c,
                stride_h=1, stride_w=1, dil_h=1, dil_w=1, pad_top=pad_top, pad_left=1,
                zp_x=7, zp_y=-9, relu=False, bias=True)
    rng = np.random.default_rng(h * w + c)
    window = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    wt = rng.integers(-127, 128, (c, 1, 3, 3), dtype=np.int8)
    b = rng.integers(-5000, 5000, c).astype(np.int32)
    q, shift = requant_params(rng, c)
    lib = libs[("cortex-m4", "qconv")]
    expected = run_qconv(lib, case, window, wt, b, q, shift).reshape(-1)
    p = QConvParams(*(case[f] for f in CONV_FIELDS), -7, -9, -128, 127, i32p(q), i32p(shift))
    size = max(c * new * w, c * oh * w)
    buf = np.full(size + 64, 0x5A, np.int8)
    buf[: c * new * w] = window[0, :, halo_in:].reshape(-1)
    halo = np.full(c * max(halo_in, halo_out) * w + 64, 0x5A, np.int8)
    halo[: c * halo_in * w] = window[0, :, :halo_in].reshape(-1)
    work = conv_workspace(case, True)
    fn = lib.tinyc_dwconv2d_halo_s8
    fn.restype = ctypes.c_int32
    done = fn(vp(buf), vp(halo), halo_in | halo_out << 16, vp(wt), vp(b), None, work.ptr,
              ctypes.byref(p))
    work.check()
    assert done == 1
    np.testing.assert_array_equal(buf[: c * oh * w], expected)
    np.testing.assert_array_equal(halo[: c * halo_out * w],
                                  window[0, :, h - halo_out:].reshape(-1))
    assert (buf[size:] == 0x5A).all() and (halo[c * max(halo_in, halo_out) * w:] == 0x5A).all()
    # a halo longer than the new rows: refused, untouched
    before = buf.copy()
    assert fn(vp(buf), vp(halo), halo_in | (new + 1) << 16, vp(wt), vp(b), None, work.ptr,
              ctypes.byref(p)) == 0
    np.testing.assert_array_equal(buf, before)


#: the Cortex-M4 column walk's set-up of one channel, as dw3_walk_planes_of does it
#: (weights' pairs, the bias with input_offset * sum(w), the test for the assembly)
WALK_SETUP = """#include "tinyc_qconv.c"
int32_t walk_setup(const int8_t *wc, int32_t bias, int32_t sh, int32_t input_offset,
                   int32_t *k6);
int32_t walk_setup(const int8_t *wc, int32_t bias, int32_t sh, int32_t input_offset,
                   int32_t *k6) {
  const int32_t off2 = tinyc_pack16(input_offset, input_offset);
  const int32_t a = tinyc_load4(wc), b = tinyc_load4(wc + 4), w8 = wc[8];
  const int32_t p02 = tinyc_sxtb16(a), p13 = tinyc_sxtb16_hi(a);
  const int32_t p46 = tinyc_sxtb16(b), p57 = tinyc_sxtb16_hi(b);
  const int32_t j = TINYC_QDW_WALK_SHIFT + 1 + sh;
  dw3_walk_k k;
  bias = tinyc_smlad(p02, off2, tinyc_smlad(p13, off2, bias + input_offset * w8));
  bias = tinyc_smlad(p46, off2, tinyc_smlad(p57, off2, bias));
  if (!((uint32_t)j <= 8 && (uint32_t)(bias + (1 << (30 - j))) <= 2u << (30 - j))) return 0;
  k = dw3_walk_setup(p02, p13, p46, p57, w8, bias, 0, 0, j);
  k6[0] = k.u0;
  k6[1] = k.u1;
  k6[2] = k.u2;
  k6[3] = k.v01;
  k6[4] = (int32_t)(((uint32_t)k.v2 & 0xFFFFu) | 0x10000u);
  k6[5] = k.bias;
  return 1;
}
"""


def test_walk_constants_equal_the_kernels_setup(tmp_path) -> None:  # noqa: ANN001
    """The band's precomputed walk constants (qbanded.walk_constants, which the M4 kernel
    takes instead of its set-up per channel per band call) are the set-up's own."""
    src = tmp_path / "walk.c"
    src.write_text(WALK_SETUP)
    root = codegen_root()
    lib = tmp_path / "walk.so"
    subprocess.run(["cc", "-std=c99", "-O2", "-fPIC", "-shared", "-I", str(root / "kernels"),
                    *variant_includes("cortex-m4"), "-I", str(root / "runtime"), str(src),
                    "-o", str(lib)], check=True)
    setup = ctypes.CDLL(str(lib)).walk_setup
    rng = np.random.default_rng(16)
    weights = rng.integers(-128, 128, (64, 1, 3, 3)).astype(np.int8)
    weights[0] = -128  # the extremes: scaled by 2^8 they still fit 16 bits
    weights[1] = 127
    bias = rng.integers(-(1 << 21), 1 << 21, 64).astype(np.int32)
    bias[2] = (1 << 22) - 5  # beyond what the assembly takes at j = 8
    shifts = rng.integers(-13, 0, 64).astype(np.int32)
    for offset in (-128, 0, 93):
        got = walk_constants(weights, bias, shifts, offset, True)
        for ch in range(64):
            k6 = np.zeros(6, np.int32)
            ok = setup(vp(np.ascontiguousarray(weights[ch].reshape(-1))), int(bias[ch]),
                       int(shifts[ch]), offset, vp(k6))
            expected = k6.tolist() if ok else [0] * 6
            assert got[6 * ch : 6 * ch + 6] == expected, (offset, ch)
    assert walk_constants(weights, bias, shifts, 0, False) == [0] * (6 * 64)


QPOOL_FIELDS = ("nc", "h", "w", "oh", "ow", "kh", "kw", "stride_h", "stride_w", "dil_h",
                "dil_w", "pad_top", "pad_left", "pad_bottom", "pad_right", "count_include_pad",
                "input_offset", "output_offset", "multiplier", "shift", "act_min", "act_max",
                "divisor")


class QPoolParams(ctypes.Structure):
    # the whole C struct: the onnxruntime-semantics fields stay 0 (integer requantization)
    _fields_ = [(f, ctypes.c_int32)
                for f in (*QPOOL_FIELDS, "x_scale_bits", "y_scale_bits", "code_offset")]


@pytest.fixture(scope="module")
def more_libs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], ctypes.CDLL]:
    tmp = tmp_path_factory.mktemp("qkernels2")
    return {
        (variant, family): build_family(variant, family, tmp)
        for family in ("qpool", "qelementwise")
        for variant in ["ref", *variants(family)]
    }


@st.composite
def qpool_cases(draw: st.DrawFn) -> dict:
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw, dh, dw = (draw(st.integers(1, 2)) for _ in range(4))
    pads = [draw(st.integers(0, min(2, kh - 1))), draw(st.integers(0, min(2, kw - 1))),
            draw(st.integers(0, min(2, kh - 1))), draw(st.integers(0, min(2, kw - 1)))]
    h = draw(st.integers(dh * (kh - 1) + 1, 9))
    w = draw(st.integers(dw * (kw - 1) + 1, 9))
    oh = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    q, shift = draw(st.integers(1 << 30, (1 << 31) - 1)), draw(st.integers(-3, 1))
    return dict(nc=draw(st.integers(1, 4)), h=h, w=w, oh=oh, ow=ow, kh=kh, kw=kw, stride_h=sh,
                stride_w=sw, dil_h=dh, dil_w=dw, pad_top=pads[0], pad_left=pads[1],
                pad_bottom=pads[2], pad_right=pads[3],
                count_include_pad=int(draw(st.booleans())),
                input_offset=draw(st.integers(-127, 128)),
                output_offset=draw(st.integers(-128, 127)), multiplier=q, shift=shift,
                act_min=-128, act_max=127, seed=draw(st.integers(0, 2**16)),
                divisor=draw(st.sampled_from([0, kh * kw])))


@pytest.mark.parametrize("variant", variants("qpool"))
@settings(max_examples=60)
@given(case=qpool_cases())
def test_qpool_matches_the_portable_kernel(more_libs: dict, variant: str, case: dict) -> None:
    x = np.random.default_rng(case["seed"]).integers(-128, 128, case["nc"] * case["h"] * case["w"],
                                                     dtype=np.int8)
    for fn in ("tinyc_maxpool2d_s8", "tinyc_avgpool2d_s8", "tinyc_global_avgpool_s8"):
        size = case["nc"] * (1 if "global" in fn else case["oh"] * case["ow"])
        outs = []
        for lib in (more_libs[("ref", "qpool")], more_libs[(variant, "qpool")]):
            y = np.zeros(size, np.int8)
            pool(lib, fn, x, y, case)
            outs.append(y)
        np.testing.assert_array_equal(outs[1], outs[0], err_msg=fn)


def pool_case(h: int, w: int, k: int, stride: int, pads: tuple[int, int, int, int],
              ceil: bool = False, **fields: int) -> dict:
    """A k x k pool over nc planes of h x w, its output size as ONNX (ceil_mode) gives it."""
    rnd = (lambda n, d: -(-n // d)) if ceil else (lambda n, d: n // d)
    oh = rnd(h + pads[0] + pads[2] - k, stride) + 1
    ow = rnd(w + pads[1] + pads[3] - k, stride) + 1
    return dict(nc=3, h=h, w=w, oh=oh, ow=ow, kh=k, kw=k, stride_h=stride, stride_w=stride,
                dil_h=1, dil_w=1, pad_top=pads[0], pad_left=pads[1], pad_bottom=pads[2],
                pad_right=pads[3], count_include_pad=0, input_offset=5, output_offset=-5,
                multiplier=1 << 30, shift=1, act_min=-128, act_max=127, divisor=0) | fields


#: the shapes the Cortex-M4 row path vectorises (2x2 and 3x3 windows, strides 1 and 2, with
#: and without padding, widths around multiples of four), with the requantizations it
#: distinguishes: the identity (max: four outputs a word), a rescale, a clamp, the average's
#: folded divisor and count_include_pad; then shapes it leaves to the window path
QPOOL_ROW_CASES = [
    pool_case(h, w, k, s, pads, **extra)
    for h, w in ((6, 5), (7, 8), (9, 10), (5, 13))
    for k, s, pads in ((2, 2, (0, 0, 0, 0)), (2, 1, (0, 0, 0, 0)), (3, 1, (1, 1, 1, 1)),
                       (3, 2, (1, 1, 1, 1)), (3, 2, (0, 1, 1, 0)), (3, 1, (2, 0, 0, 2)))
    for extra in ({}, dict(act_min=-20, act_max=90),
                  dict(multiplier=1_518_500_250, shift=0, input_offset=17, output_offset=3),
                  dict(count_include_pad=1, multiplier=1_908_874_354, shift=-2),
                  dict(divisor=k * k, multiplier=1_431_655_765, shift=-2))
] + [
    pool_case(7, 9, 3, 2, (1, 1, 1, 1), ceil=True),  # windows past the right padding
    pool_case(7, 9, 3, 2, (1, 1, 1, 1), ceil=True, count_include_pad=1),
    pool_case(8, 8, 8, 8, (0, 0, 0, 0)),  # a window over the whole plane
    pool_case(3, 3, 3, 3, (0, 0, 0, 0)),
    pool_case(4, 300, 3, 1, (1, 1, 1, 1)),  # wider than the row buffer
    pool_case(6, 9, 2, 1, (0, 0, 0, 0), dil_h=2, dil_w=2, oh=4, ow=7),
]


@pytest.mark.parametrize("variant", variants("qpool"))
def test_qpool_row_paths_match_the_portable_kernel(more_libs: dict, variant: str) -> None:
    guard = 16
    for i, case in enumerate(QPOOL_ROW_CASES):
        x = np.random.default_rng(i).integers(-128, 128, case["nc"] * case["h"] * case["w"],
                                              dtype=np.int8)
        for fn in ("tinyc_maxpool2d_s8", "tinyc_avgpool2d_s8"):
            size = case["nc"] * case["oh"] * case["ow"]
            outs = []
            for lib in (more_libs[("ref", "qpool")], more_libs[(variant, "qpool")]):
                y = np.full(size + 2 * guard, 77, np.int8)
                pool(lib, fn, x, y[guard:], case)
                assert (y[:guard] == 77).all() and (y[-guard:] == 77).all(), (fn, case)
                outs.append(y[guard:-guard])
            np.testing.assert_array_equal(outs[1], outs[0], err_msg=f"{fn} {case}")


class QRequantParams(ctypes.Structure):
    _fields_ = [*((f, ctypes.c_int32) for f in ("outer", "inner", "x_stride", "y_stride",
                                                "input_offset", "output_offset", "multiplier",
                                                "shift", "act_min", "act_max")),
                ("table", ctypes.c_void_p)]


@pytest.mark.parametrize("variant", variants("qelementwise"))
@pytest.mark.parametrize("outer,inner,x_stride,y_stride",
                         [(1, 511, 0, 0), (1, 512, 0, 0), (1, 1027, 0, 0), (6, 90, 90, 270),
                          (3, 250, 250, 253)])
@pytest.mark.parametrize("mult", [(1 << 30, 1), (1_518_500_250, 0), (1_908_874_354, -3), None])
def test_requantize_matches_the_portable_kernel(more_libs: dict, variant: str, outer: int,
                                                inner: int, x_stride: int, y_stride: int,
                                                mult: tuple[int, int] | None) -> None:
    """Long requantizations (QConcat's inputs) go through the 256-entry table; `mult` None:
    the model's own table (onnxruntime semantics), which every length must use."""
    rng = np.random.default_rng(inner + outer)
    x = rng.integers(-128, 128, max(1, outer) * max(inner, x_stride), dtype=np.int8)
    table = rng.integers(-128, 128, 256, dtype=np.int8)
    p = QRequantParams(outer, inner, x_stride, y_stride, 9, -4, *(mult or (1 << 30, 1)),
                       -100, 120, None if mult else table.ctypes.data)
    outs = []
    for lib in (more_libs[("ref", "qelementwise")], more_libs[(variant, "qelementwise")]):
        y = np.full(outer * max(inner, y_stride), 55, np.int8)
        lib.tinyc_requantize_s8(vp(x), vp(y), ctypes.byref(p))
        outs.append(y)
        if x_stride == y_stride:  # in place
            z = x.copy()
            lib.tinyc_requantize_s8(vp(z), vp(z), ctypes.byref(p))
            np.testing.assert_array_equal(z.reshape(outer, -1)[:, :inner],
                                          y.reshape(outer, -1)[:, :inner])
    np.testing.assert_array_equal(outs[1], outs[0])


class QBinaryParams(ctypes.Structure):
    _fields_ = [("rank", ctypes.c_int32), ("dims", ctypes.c_int32 * 8),
                ("a_strides", ctypes.c_int32 * 8), ("b_strides", ctypes.c_int32 * 8)] + [
        (f, ctypes.c_int32) for f in ("a_offset", "b_offset", "a_multiplier", "a_shift",
                                      "b_multiplier", "b_shift", "left_shift",
                                      "output_multiplier", "output_shift", "output_offset",
                                      "act_min", "act_max")
    ]


@pytest.mark.parametrize("variant", variants("qelementwise"))
@pytest.mark.parametrize("shifts", [(0, -1, -8), (-1, -3, -2), (-2, 0, -1), (1, -5, 0)])
@pytest.mark.parametrize("broadcast", [False, True])
def test_qelementwise_matches_the_portable_kernel(more_libs: dict, variant: str, shifts: tuple,
                                                  broadcast: bool) -> None:
    rng = np.random.default_rng(abs(sum(shifts)) + 10 * broadcast)
    dims = (6, 17)
    a = rng.integers(-128, 128, dims, dtype=np.int8)
    b = rng.integers(-128, 128, (dims[1],) if broadcast else dims, dtype=np.int8)
    q = rng.integers(1 << 30, (1 << 31) - 1, 3)
    arr = ctypes.c_int32 * 8
    p = QBinaryParams(2, arr(*dims), arr(dims[1], 1), arr(0 if broadcast else dims[1], 1),
                      11, -7, int(q[0]), shifts[0], int(q[1]), shifts[1], 20, int(q[2]),
                      shifts[2] - 18, 5, -100, 120)
    for fn in ("tinyc_add_s8", "tinyc_mul_s8"):
        outs = []
        for lib in (more_libs[("ref", "qelementwise")], more_libs[(variant, "qelementwise")]):
            y = np.zeros(dims, np.int8)
            getattr(lib, fn)(vp(a), vp(b), vp(y), ctypes.byref(p))
            outs.append(y)
        np.testing.assert_array_equal(outs[1], outs[0], err_msg=fn)


@pytest.mark.parametrize("variant", variants("qelementwise"))
@pytest.mark.parametrize("exact", ["a", "b", "both"])
@pytest.mark.parametrize(("shift", "act"), [(-6, (-128, 127)), (-1, (-100, 120)),
                                            (-20, (-128, 127)), (0, (-128, 90))])
@pytest.mark.parametrize("bias", [0, TFLITE_SHIFT_BIAS])
def test_qadd_with_an_exact_input_matches_the_portable_kernel(
        more_libs: dict, variant: str, exact: str, shift: int, act: tuple, bias: int) -> None:
    """Add where an input's multiplier is exactly 1/2 (the larger scale's, as tinyc's
    multipliers make it): the M4's exact forms (tinyc's rounding; TFLite's, shifts biased by
    TFLITE_SHIFT_BIAS) on either operand, every tail length of their loops, with and
    without an activation clamp, out of place and in place."""
    rng = np.random.default_rng(abs(shift) + 7 * len(exact) + act[1] + bias)
    q = [int(v) for v in rng.integers(1 << 30, (1 << 31) - 1, 3)]
    if shift in (0, -20):  # 0: 1/2 is 2^30 (TFLite's form needs it so); -20: ties to round
        q[0] = 1 << 30
    qa, sa, qb, sb = q[0], shift + bias, 1 << 30, bias
    if exact == "a":
        qa, sa, qb, sb = qb, sb, qa, sa
    elif exact == "both":
        qa, sa = qb, sb
    arr = ctypes.c_int32 * 8
    for n in [*range(1, 18), 203]:
        a = rng.integers(-128, 128, n, dtype=np.int8)
        b = rng.integers(-128, 128, n, dtype=np.int8)
        p = QBinaryParams(1, arr(n), arr(1), arr(1), 128, -13, qa, sa, qb, sb, 20, q[2],
                          -18 + bias, int(rng.integers(-128, 128)), *act)
        outs = []
        for lib in (more_libs[("ref", "qelementwise")], more_libs[(variant, "qelementwise")]):
            y = np.zeros(n + 4, np.int8)
            lib.tinyc_add_s8(vp(a), vp(b), vp(y), ctypes.byref(p))
            assert not y[n:].any(), "wrote past the output"
            outs.append(y[:n])
            z = b.copy()
            lib.tinyc_add_s8(vp(a), vp(z), vp(z), ctypes.byref(p))
            np.testing.assert_array_equal(z, y[:n], err_msg=f"in place, n={n}")
        np.testing.assert_array_equal(outs[1], outs[0], err_msg=f"n={n}")


@pytest.mark.parametrize("variant", variants("qelementwise"))
@pytest.mark.parametrize(("shifts", "act"), [((0, -1, -1), (-128, 127)),
                                             ((-1, -3, -2), (-128, 127)),
                                             ((-2, 0, -8), (-100, 120)),
                                             ((1, -5, 0), (-128, 127))])
@pytest.mark.parametrize("broadcast", [False, True])
def test_qelementwise_tflite_matches_the_portable_kernel(
        more_libs: dict, variant: str, shifts: tuple, act: tuple, broadcast: bool) -> None:
    """TFLite semantics (shifts + TFLITE_SHIFT_BIAS): the M4 Add's short form, including an
    input whose multiplier is exactly 1/2 (shift 0, q = 2^30), and the general path; Sub."""
    rng = np.random.default_rng(abs(sum(shifts)) + 10 * broadcast + 100)
    dims = (6, 17)
    a = rng.integers(-128, 128, dims, dtype=np.int8)
    b = rng.integers(-128, 128, (dims[1],) if broadcast else dims, dtype=np.int8)
    q = rng.integers(1 << 30, (1 << 31) - 1, 3)
    q[0] = 1 << 30 if shifts[0] == 0 else q[0]
    arr = ctypes.c_int32 * 8
    bias = TFLITE_SHIFT_BIAS
    p = QBinaryParams(2, arr(*dims), arr(dims[1], 1), arr(0 if broadcast else dims[1], 1),
                      11, -7, int(q[0]), shifts[0] + bias, int(q[1]), shifts[1] + bias, 20,
                      int(q[2]), shifts[2] - 18 + bias, 5, *act)
    for fn in ("tinyc_add_s8", "tinyc_sub_s8", "tinyc_mul_s8"):
        outs = []
        for lib in (more_libs[("ref", "qelementwise")], more_libs[(variant, "qelementwise")]):
            y = np.zeros(dims, np.int8)
            getattr(lib, fn)(vp(a), vp(b), vp(y), ctypes.byref(p))
            outs.append(y)
        np.testing.assert_array_equal(outs[1], outs[0], err_msg=fn)
