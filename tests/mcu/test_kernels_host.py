"""The target kernel variants agree with numpy on the host, for random shapes covering each
specialization (pointwise, depthwise 3x3, general with padding/stride/dilation/groups,
Gemm with every transpose and bias mode). QEMU then checks the same code on the core."""

from __future__ import annotations

import ctypes
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcu_kernels import (
    CONV_FIELDS,
    Act,
    ConvParams,
    GemmParams,
    Guarded,
    build_family,
    variant_includes,
)

from tinyc.backend.generate import codegen_root
from tinyc.harness import STRICT_FLAGS
from tinyc.ops.activation import apply_activation
from tinyc.ops.conv import (
    CONV1X1_TILE,
    conv_reference,
    fpu_dw_plane_bytes,
    fpu_padded_rows_bytes,
)

ACTS = {  # name -> (C kind, a, b, numpy name, numpy params)
    "none": (0, 0.0, 0.0, "", []),
    "relu": (1, 0.0, float("inf"), "Relu", []),
    "clip": (1, -0.5, 0.5, "Clip", [-0.5, 0.5]),
    "leaky": (2, 0.1, 0.0, "LeakyRelu", [0.1]),
}


def variants(family: str) -> list[str]:
    kernels = codegen_root() / "kernels"
    return sorted(d.name for d in kernels.iterdir() if (d / f"tinyc_{family}.c").is_file())


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], ctypes.CDLL]:
    tmp = tmp_path_factory.mktemp("kernels")
    return {
        (variant, family): build_family(variant, family, tmp)
        for family in ("conv", "gemm", "inplace")
        for variant in variants(family)
    }



@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["pointwise", "depthwise", "general", "grouped"]))
    n = draw(st.sampled_from([1, 1, 1, 2]))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    if kind == "pointwise":
        c, m, group = draw(st.integers(1, 9)), draw(st.integers(1, 10)), 1
        kh = kw = 1
        strides, dil, pads = [1, 1], [1, 1], [0, 0, 0, 0]
    else:
        if kind == "depthwise":
            c = draw(st.integers(1, 6))
            m, group, kh, kw = c, c, 3, 3
        elif kind == "grouped":
            group = draw(st.integers(2, 3))
            c, m = group * draw(st.integers(1, 3)), group * draw(st.integers(1, 5))
            kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        else:
            c, m, group = draw(st.integers(1, 5)), draw(st.integers(1, 9)), 1
            kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        strides = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
        dil = [1, 1] if kind == "depthwise" else [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
        pads = [draw(st.integers(0, 2)) for _ in range(4)]
    oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    if oh < 1 or ow < 1:
        h, w = h + dil[0] * (kh - 1), w + dil[1] * (kw - 1)
        oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
        ow = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    return dict(n=n, c=c, h=h, w=w, m=m, oh=oh, ow=ow, kh=kh, kw=kw, group=group,
                strides=strides, dil=dil, pads=pads, bias=draw(st.booleans()),
                act=draw(st.sampled_from(sorted(ACTS))), seed=draw(st.integers(0, 2**16)))


def dw_work(f: dict) -> Guarded | None:
    """The workspace the compiler plans for a conv on the Cortex-M4: a depthwise conv's
    padded plane (`fpu_dw_plane_bytes`), a dense conv's padded window rows
    (`fpu_padded_rows_bytes`; the compiler leaves them out when the conv may stream in
    place, the kernel takes them whenever given), guarded; None when it plans none."""
    window = ((f["kh"], f["kw"]), (f["stride_h"], f["stride_w"]), (f["dil_h"], f["dil_w"]),
              (f["pad_top"], f["pad_left"]))
    if f["c"] == f["m"] == f["group"]:
        nbytes = fpu_dw_plane_bytes(*window, (f["oh"], f["ow"]))
    else:
        nbytes = fpu_padded_rows_bytes((f["c"], f["h"], f["w"]), *window, f["group"],
                                       (f["oh"], f["ow"]))
    return Guarded(np.zeros(nbytes // 4, np.float32)) if nbytes else None


@pytest.mark.parametrize("variant", variants("conv"))
@settings(max_examples=80)
@given(case=conv_cases())
def test_conv_matches_numpy(libs: dict, variant: str, case: dict) -> None:
    rng = np.random.default_rng(case["seed"])
    c, m, g = case["c"], case["m"], case["group"]
    x = rng.standard_normal((case["n"], c, case["h"], case["w"])).astype(np.float32)
    wt = rng.standard_normal((m, c // g, case["kh"], case["kw"])).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) if case["bias"] else None
    expected = conv_reference(x.astype(np.float64), wt.astype(np.float64),
                              None if b is None else b.astype(np.float64), case["strides"],
                              case["dil"], case["pads"], g, (case["oh"], case["ow"]),
                              acc_dtype=np.float64)
    kind, a, bb, name, params = ACTS[case["act"]]
    expected = apply_activation(expected.astype(np.float32), name, params)
    values = dict(case, stride_h=case["strides"][0], stride_w=case["strides"][1],
                  dil_h=case["dil"][0], dil_w=case["dil"][1], pad_top=case["pads"][0],
                  pad_left=case["pads"][1])
    p = ConvParams(*(values[f] for f in CONV_FIELDS), Act(kind, a, bb))
    gx, gw = Guarded(x), Guarded(wt)
    gb = Guarded(b) if b is not None else None
    gy = Guarded(np.zeros(expected.shape, np.float32))
    work = dw_work(values)
    libs[(variant, "conv")].tinyc_conv2d_f32(gx.ptr, gw.ptr, gb.ptr if gb else None, gy.ptr,
                                             work.ptr if work else None, ctypes.byref(p))
    assert gy.guards_intact(), "wrote outside Y"
    assert work is None or work.guards_intact(), "wrote outside the workspace"
    np.testing.assert_allclose(gy.value, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [
    (1, 1, 49, 10, 8, 10, 4, 2, 1, (5, 1, 4, 1)),  # KWS's first layer (fewer channels)
    (2, 3, 7, 6, 5, 3, 3, 1, 2, (2, 2, 2, 2)),  # batch 2, dilated, padding on every side
])
def test_padded_rows_equal_the_direct_kernel(libs: dict, shape: tuple) -> None:
    """The Cortex-M4 dense conv through padded window rows (with its workspace) gives the
    direct kernel's results (without one) and numpy's, up to the order of the sums."""
    n, c, h, w, m, kh, kw, stride, dil, pads = shape
    oh = (h + pads[0] + pads[2] - dil * (kh - 1) - 1) // stride + 1
    ow = (w + pads[1] + pads[3] - dil * (kw - 1) - 1) // stride + 1
    f = dict(n=n, c=c, h=h, w=w, m=m, oh=oh, ow=ow, kh=kh, kw=kw, group=1, stride_h=stride,
             stride_w=stride, dil_h=dil, dil_w=dil, pad_top=pads[0], pad_left=pads[1])
    work = dw_work(f)
    assert work is not None
    rng = np.random.default_rng(c * m)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((m, c, kh, kw)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    expected = conv_reference(x.astype(np.float64), wt.astype(np.float64), b.astype(np.float64),
                              [stride] * 2, [dil] * 2, list(pads), 1, (oh, ow),
                              acc_dtype=np.float64)
    p = _conv_params(f, (0, 0.0, 0.0))
    gx, gw, gb = Guarded(x), Guarded(wt), Guarded(b)
    outs = []
    for buf in (work, None):
        gy = Guarded(np.zeros((n, m, oh, ow), np.float32))
        libs[("cortex-m4", "conv")].tinyc_conv2d_f32(gx.ptr, gw.ptr, gb.ptr, gy.ptr,
                                                     buf.ptr if buf else None, ctypes.byref(p))
        assert gy.guards_intact()
        outs.append(gy.value.copy())
    assert work.guards_intact(), "wrote outside the workspace"
    np.testing.assert_allclose(outs[0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)


BIAS_MODES = ["none", "scalar", "row", "col", "full"]


@st.composite
def gemm_cases(draw: st.DrawFn) -> dict:
    return dict(m=draw(st.integers(1, 7)), n=draw(st.integers(1, 11)), k=draw(st.integers(1, 13)),
                trans_a=draw(st.integers(0, 1)), trans_b=draw(st.integers(0, 1)),
                alpha=draw(st.sampled_from([1.0, 0.5])), beta=draw(st.sampled_from([1.0, 2.0])),
                bias=draw(st.sampled_from(BIAS_MODES)), act=draw(st.sampled_from(sorted(ACTS))),
                seed=draw(st.integers(0, 2**16)))


@pytest.mark.parametrize("variant", variants("gemm"))
@settings(max_examples=60)
@given(case=gemm_cases())
def test_gemm_matches_numpy(libs: dict, variant: str, case: dict) -> None:
    rng = np.random.default_rng(case["seed"])
    m, n, k = case["m"], case["n"], case["k"]
    a = rng.standard_normal((k, m) if case["trans_a"] else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if case["trans_b"] else (k, n)).astype(np.float32)
    cshape = {"none": (1,), "scalar": (1,), "row": (n,), "col": (m, 1), "full": (m, n)}
    c = rng.standard_normal(cshape[case["bias"]]).astype(np.float32)
    a2 = a.T if case["trans_a"] else a
    b2 = b.T if case["trans_b"] else b
    expected = case["alpha"] * (a2.astype(np.float64) @ b2.astype(np.float64))
    if case["bias"] != "none":
        expected = expected + case["beta"] * c.astype(np.float64)
    kind, lo, hi, name, params = ACTS[case["act"]]
    expected = apply_activation(expected.astype(np.float32), name, params)
    p = GemmParams(m, n, k, case["trans_a"], case["trans_b"], case["alpha"], case["beta"],
                   BIAS_MODES.index(case["bias"]), Act(kind, lo, hi))
    ga, gb, gc = Guarded(a), Guarded(b), Guarded(c)
    gy = Guarded(np.zeros((m, n), np.float32))
    libs[(variant, "gemm")].tinyc_gemm_f32(ga.ptr, gb.ptr, gc.ptr, gy.ptr, ctypes.byref(p))
    assert gy.guards_intact(), "wrote outside Y"
    np.testing.assert_allclose(gy.value, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("variant", variants("gemm"))
@pytest.mark.parametrize("batch,m,k,n,sa,sb", [(1, 1, 7, 5, 0, 0), (3, 2, 5, 6, 10, 30),
                                               (2, 5, 3, 9, 15, 0), (2, 4, 8, 4, 0, 32)])
def test_matmul_matches_numpy(libs: dict, variant: str, batch: int, m: int, k: int, n: int,
                              sa: int, sb: int) -> None:
    rng = np.random.default_rng(batch * 100 + m)
    a = rng.standard_normal(max(sa * (batch - 1), 0) + m * k).astype(np.float32)
    b = rng.standard_normal(max(sb * (batch - 1), 0) + k * n).astype(np.float32)
    expected = np.stack([
        a[t * sa : t * sa + m * k].reshape(m, k).astype(np.float64)
        @ b[t * sb : t * sb + k * n].reshape(k, n)
        for t in range(batch)
    ])  # fmt: skip
    ga, gb = Guarded(a), Guarded(b)
    gy = Guarded(np.zeros((batch, m, n), np.float32))
    act = Act(1, 0.0, float("inf"))
    libs[(variant, "gemm")].tinyc_matmul_f32(ga.ptr, gb.ptr, gy.ptr, batch, m, k, n, sa, sb,
                                             ctypes.byref(act))
    assert gy.guards_intact()
    np.testing.assert_allclose(gy.value, np.maximum(expected, 0), rtol=1e-4, atol=1e-4)


def test_variants_are_found() -> None:
    assert "cortex-m4" in variants("conv") and "ref" in variants("conv")


def test_library_builds_from_a_fresh_dir(tmp_path: Path) -> None:
    assert build_family("cortex-m4", "conv", tmp_path).tinyc_conv2d_f32 is not None


def _conv_params(fields: dict, act: tuple = (1, 0.0, float("inf"))) -> ConvParams:
    return ConvParams(*(fields[f] for f in CONV_FIELDS), Act(*act))


def _run_overlapped(fn, x: np.ndarray, y_size: int, delta: int, *args) -> np.ndarray:  # noqa: ANN001
    """Place X at its own offset and Y `delta` floats after it in one buffer, run `fn`."""
    lo = min(0, delta)
    size = max(x.size, delta + y_size) - lo
    buf = Guarded(np.zeros(size, np.float32))
    view = buf.value
    view[-lo : -lo + x.size] = x.reshape(-1)
    base = ctypes.cast(buf.ptr, ctypes.c_void_p).value
    fp = ctypes.POINTER(ctypes.c_float)
    xp = ctypes.cast(base + 4 * (-lo), fp)
    yp = ctypes.cast(base + 4 * (delta - lo), fp)
    fn(xp, *args[:2], yp, *args[2:])
    assert buf.guards_intact()
    return view[delta - lo : delta - lo + y_size].copy()


@pytest.mark.parametrize("variant", variants("inplace"))
@pytest.mark.parametrize("shape", [(5, 7, 7, 1, 1, 1), (3, 6, 5, 2, 2, 0), (4, 9, 9, 1, 1, 1)])
def test_dwconv_stream_equals_the_ordinary_kernel(libs: dict, variant: str, shape: tuple) -> None:
    c, h, w, stride, pad, _ = shape
    oh, ow = (h + 2 * pad - 3) // stride + 1, (w + 2 * pad - 3) // stride + 1
    f = dict(n=1, c=c, h=h, w=w, m=c, oh=oh, ow=ow, kh=3, kw=3, group=c, stride_h=stride,
             stride_w=stride, dil_h=1, dil_w=1, pad_top=pad, pad_left=pad)
    rng = np.random.default_rng(c * h)
    x = rng.standard_normal((1, c, h, w)).astype(np.float32)
    wt, b = rng.standard_normal((c, 1, 3, 3)).astype(np.float32), rng.standard_normal(c)
    p = _conv_params(f)
    gx, gw, gb = Guarded(x), Guarded(wt), Guarded(b.astype(np.float32))
    gy = Guarded(np.zeros((1, c, oh, ow), np.float32))
    work = dw_work(f)
    work_ptr = work.ptr if work else None
    libs[(variant, "conv")].tinyc_conv2d_f32(gx.ptr, gw.ptr, gb.ptr, gy.ptr, work_ptr,
                                             ctypes.byref(p))
    scratch = Guarded(np.zeros(oh * ow, np.float32))
    fn = libs[(variant, "inplace")].tinyc_dwconv2d_stream_f32
    max_delta = h * w - oh * ow  # BlockStream.max_delta for in_block >= out_block
    for delta in sorted({0, max_delta, -oh * ow}):
        got = _run_overlapped(fn, x, c * oh * ow, delta, gw.ptr, gb.ptr, scratch.ptr,
                              work_ptr, ctypes.byref(p))
        np.testing.assert_array_equal(got, gy.value.reshape(-1))


@pytest.mark.parametrize("variant", variants("inplace"))
@pytest.mark.parametrize("c,m,pixels",
                         [(8, 12, 10), (12, 5, 7), (4, 4, 9), (9, 19, 5), (21, 18, 3)])
def test_conv1x1_stream_equals_the_ordinary_kernel(libs: dict, variant: str, c: int, m: int,
                                                   pixels: int) -> None:
    f = dict(n=1, c=c, h=1, w=pixels, m=m, oh=1, ow=pixels, kh=1, kw=1, group=1, stride_h=1,
             stride_w=1, dil_h=1, dil_w=1, pad_top=0, pad_left=0)
    rng = np.random.default_rng(c * m)
    x = rng.standard_normal((1, c, 1, pixels)).astype(np.float32)
    gw = Guarded(rng.standard_normal((m, c, 1, 1)).astype(np.float32))
    gb = Guarded(rng.standard_normal(m).astype(np.float32))
    p = _conv_params(f)
    gx, gy = Guarded(x), Guarded(np.zeros((1, m, 1, pixels), np.float32))
    libs[(variant, "conv")].tinyc_conv2d_f32(gx.ptr, gw.ptr, gb.ptr, gy.ptr, None,
                                             ctypes.byref(p))
    scratch = Guarded(np.zeros(CONV1X1_TILE * min(c, m), np.float32))
    fn = libs[(variant, "inplace")].tinyc_conv1x1_stream_f32
    for q in (0, 1, -1, 2):
        got = _run_overlapped(fn, x, m * pixels, q * pixels, gw.ptr, gb.ptr, scratch.ptr,
                              ctypes.byref(p))
        if variant == "cortex-m55":  # one pixel's dot products vs pixels in lanes: reordered
            np.testing.assert_allclose(got, gy.value.reshape(-1), rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, gy.value.reshape(-1))


@pytest.mark.parametrize("variant", variants("inplace"))
@pytest.mark.parametrize("m,k,n,trans_b", [(3, 10, 6, 1), (2, 5, 9, 0), (4, 8, 8, 1)])
def test_gemm_stream_equals_the_ordinary_kernel(libs: dict, variant: str, m: int, k: int, n: int,
                                                trans_b: int) -> None:
    rng = np.random.default_rng(m * k * n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    gb = Guarded(rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32))
    gc = Guarded(rng.standard_normal(n).astype(np.float32))
    p = GemmParams(m, n, k, 0, trans_b, 1.0, 1.0, 2, Act(1, 0.0, float("inf")))
    ga, gy = Guarded(a), Guarded(np.zeros((m, n), np.float32))
    libs[(variant, "gemm")].tinyc_gemm_f32(ga.ptr, gb.ptr, gc.ptr, gy.ptr, ctypes.byref(p))
    scratch = Guarded(np.zeros(min(k, n), np.float32))
    fn = libs[(variant, "inplace")].tinyc_gemm_rows_stream_f32
    max_delta = k - n if k >= n else (m - 1) * (k - n)
    for delta in sorted({max_delta, -m * n}):
        got = _run_overlapped(fn, a, m * n, delta, gb.ptr, gc.ptr, scratch.ptr, ctypes.byref(p))
        np.testing.assert_array_equal(got, gy.value.reshape(-1))


@pytest.mark.parametrize("variant", variants("inplace"))
@pytest.mark.parametrize("c,m,h,w,k,dil", [(3, 5, 6, 7, 3, 1), (4, 4, 5, 9, 5, 1),
                                           (2, 6, 7, 6, 3, 2)])
def test_conv_rows_stream_equals_the_ordinary_kernel(libs: dict, variant: str, c: int, m: int,
                                                     h: int, w: int, k: int, dil: int) -> None:
    pad = dil * (k - 1) // 2
    f = dict(n=1, c=c, h=h, w=w, m=m, oh=h, ow=w, kh=k, kw=k, group=1, stride_h=1,
             stride_w=1, dil_h=dil, dil_w=dil, pad_top=pad, pad_left=pad)
    rng = np.random.default_rng(c * m + h)
    x = rng.standard_normal((1, c, h, w)).astype(np.float32)
    gw = Guarded(rng.standard_normal((m, c, k, k)).astype(np.float32))
    gb = Guarded(rng.standard_normal(m).astype(np.float32))
    p = _conv_params(f)
    gx, gy = Guarded(x), Guarded(np.zeros((1, m, h, w), np.float32))
    libs[(variant, "conv")].tinyc_conv2d_f32(gx.ptr, gw.ptr, gb.ptr, gy.ptr, None,
                                             ctypes.byref(p))
    scratch = Guarded(np.zeros((pad + 1) * m * w, np.float32))
    fn = libs[(variant, "inplace")].tinyc_conv2d_rows_stream_f32
    for q in (0, 1, -1):
        got = _run_overlapped(fn, x, m * h * w, q * h * w, gw.ptr, gb.ptr, scratch.ptr,
                              ctypes.byref(p))
        np.testing.assert_array_equal(got, gy.value.reshape(-1))


def declared_functions(family: str) -> set[str]:
    """The functions tinyc_<family>.h declares (after macro expansion)."""
    root = codegen_root()
    header = root / "kernels" / f"tinyc_{family}.h"
    text = subprocess.run(["cc", "-E", "-I", str(root / "runtime"), "-I",
                           str(root / "kernels"), str(header)],
                          check=True, capture_output=True, text=True).stdout
    own, current = [], ""
    for line in text.splitlines():  # keep the lines that came from the family header itself
        marker = re.match(r'# \d+ "(.*)"', line)
        if marker:
            current = marker.group(1)
        elif Path(current).name == header.name:
            own.append(line)
    return set(re.findall(r"\b(tinyc_\w+)\s*\([^;{)]*\)\s*;", " ".join(own)))


@pytest.mark.parametrize(
    "variant,family",
    [(d.parent.name, d.stem[len("tinyc_"):])
     for d in sorted((codegen_root() / "kernels").glob("*/tinyc_*.c"))
     if d.parent.name != "ref"],
)
def test_variant_defines_every_declared_kernel(variant: str, family: str, tmp_path: Path) -> None:
    """A variant replaces the whole family file, so it must define everything the shared
    header declares (a kernel added to the header needs one here too)."""
    root = codegen_root()
    obj = tmp_path / "k.o"
    subprocess.run(["cc", *STRICT_FLAGS, "-c", "-I", str(root / "kernels"),
                    *variant_includes(variant), "-I", str(root / "runtime"),
                    str(root / "kernels" / variant / f"tinyc_{family}.c"), "-o", str(obj)],
                   check=True)
    defined = set(subprocess.run(["nm", "--defined-only", "-j", str(obj)], check=True,
                                 capture_output=True, text=True).stdout.split())
    missing = declared_functions(family) - defined
    assert not missing, f"{variant}/tinyc_{family}.c lacks {sorted(missing)}"
