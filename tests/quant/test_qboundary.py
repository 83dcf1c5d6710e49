"""fuse-qboundary: the first int8 layer reads the float input and the last writes the float
output. On small hand-built graphs (strided, padded, dilated, grouped, depthwise, 1-D,
batched convolutions; fully connected layers on the fly, staged and chunked) quantized
with `--quantize int8`, the fused graph computes bit for bit what the staged
QuantizeLinear -> op -> DequantizeLinear graph computes, and its C (ASan/UBSan, -Werror)
what the interpreter computes, with the default workspace budget and with the smallest
(one output row or channel at a time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.strategies import make_node
from tinyc.compiler import Compiled, Options, compile_graph, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType, Value
from tinyc.ir.text import external_constants, parse_graph, print_graph
from tinyc.ops.qwork import QCONV_PARAMS_BYTES

FUSED_OPS = ("QConvBoundary", "QGemmBoundary")


class _Model:
    """A float graph with one input, built layer by layer from seeded weights."""

    def __init__(self, shape: tuple[int, ...], seed: int = 0) -> None:
        self.g = Graph("qb")
        self.x = self.g.add_input("x", TensorType(DType.F32, shape))
        self.rng = np.random.default_rng(seed)

    def const(self, *shape: int) -> Value:
        data = (self.rng.standard_normal(shape) * 0.4).astype(np.float32)
        return self.g.add_const(f"w{len(self.g.constants)}", data)

    def conv(self, x: Value, m: int, k: tuple[int, ...], group: int = 1, **attrs: object) -> Value:
        w = self.const(m, x.shape[1] // group, *k)
        return make_node(self.g, "Conv", [x, w, self.const(m)], group=group, **attrs).outputs[0]

    def gemm(self, x: Value, n: int) -> Value:
        w = self.const(n, x.shape[-1])
        return make_node(self.g, "Gemm", [x, w, self.const(n)], transB=1).outputs[0]

    def op(self, op: str, *inputs: Value, **attrs: object) -> Value:
        return make_node(self.g, op, list(inputs), **attrs).outputs[0]

    def done(self, y: Value) -> Graph:
        self.g.outputs = [y]
        return self.g


def conv_same() -> Graph:
    t = _Model((1, 3, 9, 7))
    return t.done(t.op("Relu", t.conv(t.op("Relu", t.conv(t.x, 4, (3, 3), pads=[1, 1, 1, 1])),
                                      2, (1, 1))))


def conv_kws_like() -> Graph:
    """kws's first layer: 10x4 kernel, stride 2, asymmetric padding."""
    t = _Model((1, 1, 21, 10))
    y = t.conv(t.x, 6, (10, 4), strides=[2, 2], pads=[4, 1, 5, 2])
    return t.done(t.op("GlobalAveragePool", t.op("Relu", y)))


def conv_dilated_big_pads() -> Graph:
    """Pads wider than the kernel's reach: some bands see no input row at all."""
    t = _Model((1, 2, 5, 6))
    y = t.conv(t.x, 3, (2, 3), dilations=[2, 1], pads=[4, 1, 5, 0], strides=[1, 2])
    return t.done(t.op("GlobalAveragePool", y))


def conv_depthwise_first() -> Graph:
    t = _Model((1, 4, 8, 8))
    y = t.conv(t.x, 4, (3, 3), group=4, pads=[1, 1, 1, 1], strides=[2, 2])
    return t.done(t.op("GlobalAveragePool", t.conv(y, 8, (1, 1))))


def conv_batch2_float_in_out() -> Graph:
    """One conv: both boundaries fuse into one node (f32 -> f32), two images."""
    t = _Model((2, 3, 6, 5))
    return t.done(t.conv(t.x, 5, (3, 3), pads=[1, 0, 1, 2]))


def conv_grouped_float_out() -> Graph:
    """The last conv (grouped, 8 output channels) outweighs the first's 2: its output is
    dequantized chunk by chunk of whole groups."""
    t = _Model((1, 2, 6, 6))
    y = t.op("Relu", t.conv(t.x, 4, (3, 3), pads=[1, 1, 1, 1]))
    return t.done(t.conv(y, 8, (3, 3), group=2, pads=[1, 1, 1, 1]))


def conv_1d() -> Graph:
    t = _Model((1, 3, 17))
    y = t.conv(t.x, 4, (5,), pads=[2, 1], strides=[2])
    return t.done(t.op("GlobalAveragePool", t.op("Relu", y)))


def gemm_autoencoder() -> Graph:
    """ad_autoencoder in small: 21 float inputs quantized on the fly, 8 rows a pass (and a
    tail of 3), the 37 outputs dequantized in chunks."""
    t = _Model((1, 21))
    y = t.op("Relu", t.gemm(t.x, 11))
    y = t.op("Relu", t.gemm(y, 6))
    return t.done(t.gemm(y, 37))


def gemm_batch3_in_out() -> Graph:
    t = _Model((3, 12))
    return t.done(t.gemm(t.x, 19))


CASES: dict[str, Callable[[], Graph]] = {
    f.__name__: f
    for f in (conv_same, conv_kws_like, conv_dilated_big_pads, conv_depthwise_first,
              conv_batch2_float_in_out, conv_grouped_float_out, conv_1d, gemm_autoencoder,
              gemm_batch3_in_out)
}
#: how many fused nodes each graph gets: (reading the float input, writing the float output)
EXPECTED = {
    "conv_same": (1, 0), "conv_kws_like": (1, 0), "conv_dilated_big_pads": (1, 0),
    "conv_depthwise_first": (1, 0), "conv_batch2_float_in_out": (1, 1),
    "conv_grouped_float_out": (1, 1), "conv_1d": (1, 0), "gemm_autoencoder": (1, 1),
    "gemm_batch3_in_out": (1, 1),
}
#: at the default budget, a conv whose one band would stage the whole int8 input stays
#: staged (the same bytes and work, and no band loop on the stack of NAME_run)
ONE_BAND_STAGED = {"conv_1d": (0, 0), "conv_dilated_big_pads": (0, 0)}


def _quantize(builder: Callable[[], Graph], tmp: Path, passes: str) -> Graph:
    graph = builder()
    shape = graph.inputs[0].shape
    calib = tmp / "calib.npy"
    np.save(calib, np.random.default_rng(3).standard_normal((4,) + shape).astype(np.float32))
    options = Options(quantize="int8", calib=str(calib), passes=passes, verify_each=True)
    return optimize(graph, options)[0]


def _inputs(graph: Graph, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(graph.inputs[0].shape) * 1.5).astype(np.float32)
    return [x]


def _run(graph: Graph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return run_graph(graph, {v.name: a for v, a in zip(graph.inputs, inputs, strict=True)})


def _build(graph: Graph, tmp: Path, name: str = "qb") -> tuple[Compiled, Path]:
    compiled = compile_graph(graph, Options(), name)
    compiled.code.write(tmp)
    flags = [*SANITIZE_FLAGS, "-O1", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
    return compiled, build_host(tmp, compiled.graph, compiled.code.name, flags)


@pytest.mark.parametrize("budget", [0, 1])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_graph_is_bit_exact_with_the_staged_one_and_its_c(
    case: str, budget: int, tmp_path: Path
) -> None:
    staged = _quantize(CASES[case], tmp_path, "fuse-activation")
    pipeline = f"fuse-activation,fuse-qboundary{{max-workspace={budget}}}"
    fused = _quantize(CASES[case], tmp_path, pipeline)
    ops = [n for n in fused.nodes if n.op in FUSED_OPS]
    got = (sum(bool(n.attrs["x_quant"]) for n in ops), sum(bool(n.attrs["y_quant"]) for n in ops))
    assert got == (ONE_BAND_STAGED.get(case, EXPECTED[case]) if budget == 0 else EXPECTED[case])
    assert sum(n.op in ("QuantizeLinear", "DequantizeLinear") for n in fused.nodes) == 2 - sum(got)
    if budget == 1:  # the smallest tiles: one output row per band, one channel per chunk
        for n in ops:
            assert n.attrs["tile"] == 1 or n.op == "QConvBoundary" and not n.attrs["x_quant"]
    # the text IR keeps the fused attributes
    text = print_graph(fused)
    assert print_graph(parse_graph(text, constants=external_constants(fused))) == text
    _, exe = _build(fused, tmp_path / "c")
    for seed in (0, 1):
        inputs = _inputs(fused, seed)
        want = _run(staged, inputs)
        ref = _run(fused, inputs)
        np.testing.assert_array_equal(ref[0], want[0])
        np.testing.assert_array_equal(run_host(exe, fused, inputs)[0], ref[0])


def test_quantization_on_the_fly_matches_quantize_linear_at_the_edges(tmp_path: Path) -> None:
    """Ties (k + 0.5) * scale, both sides of them, saturation, infinities, NaN, -0.0: the
    fused kernels quantize like the QuantizeLinear kernel (its interpreter reference), in
    both the on-the-fly fully connected loop and the staged conv band."""
    for case in ("gemm_autoencoder", "conv_same"):
        fused = _quantize(CASES[case], tmp_path, "fuse-qboundary")
        node = next(n for n in fused.nodes if n.op in FUSED_OPS)
        scale, zp = node.attrs["x_quant"]
        shape = fused.inputs[0].shape
        k = np.arange(-140, 140, dtype=np.float32)
        ties = (np.float32(scale) * (k + np.float32(0.5))).astype(np.float32)
        edges = np.concatenate([
            ties, np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, -np.float32(np.inf)),
            np.array([np.inf, -np.inf, np.nan, -0.0, 1e30, -1e30, 3e-39], np.float32),
        ])
        x = np.resize(edges, int(np.prod(shape))).reshape(shape).astype(np.float32)
        _, exe = _build(fused, tmp_path / case)
        np.testing.assert_array_equal(run_host(exe, fused, [x])[0], _run(fused, [x])[0])
        assert zp == int(zp)


def test_small_outputs_stay_staged_and_the_pass_is_idempotent(tmp_path: Path) -> None:
    """A 2-wide output after a 16-channel conv costs nothing staged: only the input fuses;
    a second run changes nothing."""
    t = _Model((1, 3, 6, 6))
    y = t.op("Flatten", t.op("GlobalAveragePool", t.conv(t.x, 16, (3, 3), pads=[1, 1, 1, 1])))
    graph = _quantize(lambda: t.done(t.gemm(y, 2)), tmp_path, "fuse-qboundary")
    assert [n.op for n in graph.nodes].count("DequantizeLinear") == 1
    from tinyc.passes import PassContext
    from tinyc.passes.fuse_qboundary import FuseQBoundary

    before = print_graph(graph)
    assert not FuseQBoundary()(graph, PassContext()).modified
    assert print_graph(graph) == before


def test_int8_interface_is_not_fused(tmp_path: Path) -> None:
    """With `--io int8` there is no float boundary to fuse."""
    graph = conv_same()
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(3).standard_normal((4, 1, 3, 9, 7)).astype(np.float32))
    fused, _ = optimize(graph, Options(quantize="int8", calib=str(calib), io="int8"))
    assert not any(n.op in FUSED_OPS for n in fused.nodes)
    assert fused.inputs[0].dtype is DType.I8


def test_workspace_is_planned_and_passed_to_the_kernel(tmp_path: Path) -> None:
    """The fused conv's band workspace is a planned buffer live at its step only."""
    graph = _quantize(conv_kws_like, tmp_path, "fuse-qboundary{max-workspace=200}")
    compiled, _ = _build(graph, tmp_path / "c")
    index = next(i for i, n in enumerate(graph.nodes) if n.op == "QConvBoundary")
    node = graph.nodes[index]
    assert 1 < node.attrs["tile"] < node.outputs[0].shape[2]  # banded
    from tinyc.ops import get_op

    op = get_op(node.op)
    plan = compiled.plan
    # the int8 kernel's own scratch (for the target's kernels), the band's conv parameters
    # (off the stack), then the band under the budget
    need = op.workspace(node, plan.kernel_dirs)
    assert 0 < need - op.kernel_work(node, plan.kernel_dirs) - QCONV_PARAMS_BYTES <= 200
    assert index in plan.workspace
    work = [r for r in plan.reqs if r.name == f"work@{index}"]
    assert len(work) == 1 and work[0].size == need and work[0].first == work[0].last
    off = plan.workspace[index]
    assert f"(&qb_tinyc_arena.i8[{off}])" in compiled.code.files["qb.c"]


def test_a_band_bigger_than_the_int8_copy_keeps_the_input_staged(tmp_path: Path) -> None:
    """16 channels, 3 rows, 40 wide: one output row's band (all 3 input rows plus the band's
    output) outweighs the whole int8 input, so fusing would only grow the arena."""

    def wide() -> Graph:
        t = _Model((1, 16, 3, 40))
        y = t.op("Relu", t.conv(t.x, 16, (3, 3), pads=[1, 1, 1, 1]))
        return t.done(t.conv(y, 4, (1, 1)))

    staged = _quantize(wide, tmp_path, "fuse-activation")
    fused = _quantize(wide, tmp_path, "fuse-activation,fuse-qboundary")
    assert not any(n.op in FUSED_OPS and n.attrs["x_quant"] for n in fused.nodes)
    staged_c, _ = _build(staged, tmp_path / "staged")
    fused_c, _ = _build(fused, tmp_path / "fused")
    assert fused_c.plan.size <= staged_c.plan.size
