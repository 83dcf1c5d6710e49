"""The Cortex-M4 dense int8 tiles' compile-time packed records (tinyc/ops/qpack.py): the
table holds exactly the int8 weights (sign-extended, interleaved), biases and short-form
requantization constants, and the M4 kernel (its C form on the host) reading it gives the
portable kernel's bytes; a layer that does not qualify (odd m, a clamp, a long shift,
K % 4 != 0) is left unpacked."""

from __future__ import annotations

import ctypes
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from mcu_kernels import CONV_FIELDS, QConvParams, build_family, i32p, vp
from test_qemu_qconv_shapes import assert_exact_on_cortex_m4

from tinyc.compiler import Options, load_model, optimize
from tinyc.ops.qpack import RECORD_EXTRA, pack_records, packs_dense
from tinyc.ops.qwork import ConvGeometry, qconv_work_bytes
from tinyc.passes.manager import pipeline_without


def straightforward(w: np.ndarray, b: np.ndarray | None, q: np.ndarray, shift: np.ndarray,
                    zp: int) -> list[int]:
    """The records word by word, as the tiles read them."""
    m = w.shape[0]
    wk = w.reshape(m, -1).astype(np.int64)
    k = wk.shape[1]
    out: list[int] = []

    def pair(lo: int, hi: int) -> int:
        v = (lo & 0xFFFF) | ((hi & 0xFFFF) << 16)
        return v - (1 << 32) if v >= 1 << 31 else v

    for c in range(0, m, 2):
        out += [0 if b is None else int(b[c]), 0 if b is None else int(b[c + 1])]
        for s in range(0, k, 4):
            out += [pair(wk[c, s], wk[c, s + 2]), pair(wk[c + 1, s], wk[c + 1, s + 2]),
                    pair(wk[c, s + 1], wk[c, s + 3]), pair(wk[c + 1, s + 1], wk[c + 1, s + 3])]
        for ch in (c, c + 1):
            rs = -1 - int(shift[ch])
            out += [int(q[ch]), (2 * zp + 1) * (1 << (rs - 1)), rs]
    return out


@pytest.mark.parametrize("m,k,bias,zp", [(2, 4, True, 0), (6, 12, False, -128), (64, 64, True, 127),
                                         (16, 144, True, -7)])
def test_records_hold_the_int8_weights(m: int, k: int, bias: bool, zp: int) -> None:
    rng = np.random.default_rng(m * k)
    w = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-(1 << 20), 1 << 20, m).astype(np.int32) if bias else None
    q = rng.integers(1 << 30, (1 << 31) - 1, m).astype(np.int32)
    shift = rng.integers(-21, -1, m).astype(np.int32)
    got = pack_records(w, b, q.tolist(), shift.tolist(), zp)
    assert got.dtype == np.int32 and got.size == m // 2 * (k + RECORD_EXTRA)
    assert got.tolist() == straightforward(w, b, q, shift, zp)


def geometry(c: int, m: int, k: int = 1, group: int = 1) -> ConvGeometry:
    return ConvGeometry(1, c, 5, 5, m, 5, 5, k, k, group, 1, 1, 1, 1, k // 2, k // 2)


def test_layers_that_do_not_qualify_stay_unpacked() -> None:
    short = [-5] * 64
    assert packs_dense(geometry(16, 64), short, (-128, 127))
    assert not packs_dense(geometry(16, 63), short[:63], (-128, 127))  # odd m
    assert not packs_dense(geometry(16, 64), short, (0, 127))  # a clamp
    assert not packs_dense(geometry(16, 64), short[:63] + [-1], (-128, 127))  # long shift
    assert not packs_dense(geometry(16, 64), short[:63] + [-22], (-128, 127))
    assert not packs_dense(geometry(3, 64, 3), short, (-128, 127))  # K = 27
    assert not packs_dense(geometry(16, 64, 1, 2), short, (-128, 127))  # grouped


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ctypes.CDLL]:
    """The portable kernel, and the M4 kernel's C form with the host cc and with clang
    (when there is one)."""
    tmp = tmp_path_factory.mktemp("qpack")
    out = {v: build_family(v, "qconv", tmp) for v in ("ref", "cortex-m4")}
    if shutil.which("clang"):
        sub = tmp / "clang"
        sub.mkdir()
        out["cortex-m4 clang"] = build_family("cortex-m4", "qconv", sub, cc="clang")
    return out


def run(lib: ctypes.CDLL, case: dict, x: np.ndarray, w: np.ndarray, b: np.ndarray,
        q: np.ndarray, shift: np.ndarray, packed: np.ndarray | None, act_min: int = -128
        ) -> np.ndarray:
    p = QConvParams(*(case[f] for f in CONV_FIELDS), -case["zp_x"], case["zp_y"], act_min, 127,
                    i32p(q), i32p(shift), None if packed is None else i32p(packed))
    y = np.zeros((1, case["m"], case["oh"], case["ow"]), np.int8)
    g = ConvGeometry.of([case[f] for f in CONV_FIELDS])
    nbytes = qconv_work_bytes(g, False)
    work = np.full(nbytes + 72, 0x5A, np.uint8)
    start = (-work.ctypes.data) % 8
    lib.tinyc_conv2d_s8(vp(x), vp(w), vp(b), vp(y),
                        ctypes.c_void_p(work.ctypes.data + start) if nbytes else None,
                        ctypes.byref(p))
    assert (work[start + nbytes:] == 0x5A).all()
    return y


# pointwise 64 x 64 (triples), KWS's 10x4 first conv, ResNet-8's 3x3 (pairs, odd pixel
# counts), a short K (one group of 4 steps), many groups (entered mid-round)
@pytest.mark.parametrize("c,m,kh,kw,h,w,stride", [
    (64, 64, 1, 1, 5, 5, 1), (1, 64, 10, 4, 12, 9, 2), (16, 16, 3, 3, 5, 7, 1),
    (32, 64, 3, 3, 7, 5, 2), (4, 6, 1, 1, 3, 3, 1), (64, 2, 3, 3, 3, 5, 1),
    (48, 64, 1, 1, 3, 7, 1), (12, 8, 1, 1, 1, 1, 1)])
def test_packed_tiles_match_the_portable_kernel(libs: dict, c: int, m: int, kh: int, kw: int,
                                                h: int, w: int, stride: int) -> None:
    pad = kh // 2, kw // 2
    oh, ow = (h + 2 * pad[0] - kh) // stride + 1, (w + 2 * pad[1] - kw) // stride + 1
    case = dict(n=1, c=c, h=h, w=w, m=m, oh=oh, ow=ow, kh=kh, kw=kw, group=1, stride_h=stride,
                stride_w=stride, dil_h=1, dil_w=1, pad_top=pad[0], pad_left=pad[1], zp_x=9,
                zp_y=-17)
    rng = np.random.default_rng(c * m + kh)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    wt = rng.integers(-127, 128, (m, c, kh, kw), dtype=np.int8)
    b = rng.integers(-5000, 5000, m).astype(np.int32)
    q = rng.integers(1 << 30, (1 << 31) - 1, m).astype(np.int32)
    shift = rng.integers(-14, -1, m).astype(np.int32)
    packed = pack_records(wt, b, q.tolist(), shift.tolist(), case["zp_y"])
    expected = run(libs["ref"], case, x, wt, b, q, shift, None)
    for name, lib in libs.items():
        if name == "ref":
            continue
        np.testing.assert_array_equal(run(lib, case, x, wt, b, q, shift, packed), expected)
        # the int8 weights are not read: garbage there changes nothing
        np.testing.assert_array_equal(
            run(lib, case, x, np.full_like(wt, 77), b, q, shift, packed), expected)


def run_exact(proto: onnx.ModelProto, shape: tuple[int, ...], tmp_path: Path,
              weight_layout: str = "speed") -> Path:
    """Compile for the Cortex-M4 (convs unbanded, each on its whole image), run on QEMU and
    on the host: both bit-exact with the interpreter. Returns the output directory."""
    path = tmp_path / "pk.onnx"
    onnx.save(proto, path)
    rng = np.random.default_rng(5)
    calib = tmp_path / "calib.npy"
    np.save(calib, rng.standard_normal((6, *shape[1:])).astype(np.float32))
    passes = pipeline_without(1, None, frozenset({"fuse-qboundary"}))
    options = Options(target="cortex-m4", quantize="int8", calib=str(calib), passes=passes,
                      weight_layout=weight_layout)
    graph, _ = optimize(load_model(path, options), options)
    assert_exact_on_cortex_m4(graph, options, rng.standard_normal(shape).astype(np.float32),
                              tmp_path / "out")
    return tmp_path / "out"


def test_every_entry_of_the_packed_rounds_on_cortex_m4(mcu_tools: None, tmp_path: Path) -> None:
    """Pointwise convs with K / 4 = 1, 2, 3, 5, ... 17 groups of 4 steps enter the asm
    runs' rounds of 16 groups at 11 different groups (packed_pairs; packed_triples from 64
    outputs), over 35 pixels (a last pixel pair of one pixel); all packed
    (TINYC_QCONV_PACKED_ONLY)."""
    from test_qemu_qconv_shapes import conv, model

    chans = [4, 8, 12, 20, 28, 36, 44, 52, 60, 64, 68, 72]
    layers = [conv(f"c{i}", "x" if i == 0 else f"a{i}", f"a{i + 1}", a, b, 1, seed=i)
              for i, (a, b) in enumerate(zip(chans, chans[1:]))]
    out = run_exact(model((1, 4, 5, 7), layers, f"a{len(layers)}"), (1, 4, 5, 7), tmp_path)
    c = (out / "net.c").read_text()
    assert c.count("int32_t net_tinyc_packed_") == len(layers)
    assert "TINYC_QCONV_PACKED_ONLY" in "".join(p.read_text() for p in out.glob("*rt.h"))


def test_a_model_packs_what_qualifies_and_stays_exact_on_cortex_m4(mcu_tools: None,
                                                                     tmp_path: Path) -> None:
    """A 3x3 conv with 8 outputs gets records and no int8 weights in the C; the next, with
    5 outputs (odd m), keeps its int8 weights and the int8 tiles (no
    TINYC_QCONV_PACKED_ONLY); both bit-exact on the core and on the host."""
    from test_qemu_qconv_shapes import conv, model, relu

    proto = model((1, 4, 6, 7), [conv("c0", "x", "a", 4, 8, 3, pads=(1, 1, 1, 1), seed=3),
                                 conv("c1", "ar", "y", 8, 5, 1, seed=4)], "y",
                  [relu("a", "ar")])
    out = run_exact(proto, (1, 4, 6, 7), tmp_path)
    c = (out / "net.c").read_text()
    assert c.count("int32_t net_tinyc_packed_") == 1
    assert "w_c0_w" not in c and "w_c1_w" in c  # the packed layer's int8 weights are gone
    assert "TINYC_QCONV_PACKED_ONLY" not in "".join(p.read_text() for p in out.glob("*rt.h"))


def test_weight_layout_flash_keeps_int8_weights_and_stays_exact_on_cortex_m4(
        mcu_tools: None, tmp_path: Path) -> None:
    """`--weight-layout flash`: the layer that would be packed keeps its int8 weights and the
    int8 tiles, no records are emitted, and the outputs stay bit-exact."""
    from test_qemu_qconv_shapes import conv, model

    proto = model((1, 8, 5, 6), [conv("c0", "x", "y", 8, 64, 1, seed=6)], "y")
    out = run_exact(proto, (1, 8, 5, 6), tmp_path, weight_layout="flash")
    c = (out / "net.c").read_text()
    assert "net_tinyc_packed_" not in c and "w_c0_w" in c
    assert "TINYC_QCONV_PACKED_ONLY" not in "".join(p.read_text() for p in out.glob("*rt.h"))
