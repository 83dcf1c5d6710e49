"""Channels-last graphs from tf2onnx compile like the channels-first export of the same
network (issue 13).

The models are Keras networks exported by examples/exporters/keras_models.py (dev-only,
needs TensorFlow): NAME_tf2onnx.onnx (tf2onnx as a user runs it), NAME_tf2onnx_nhwc.onnx
(tf2onnx without its transpose optimizer: a Transpose pair around every convolution and
pool, NHWC elementwise ops, Pad, Concat and ReduceMean between them) and NAME_nchw.onnx,
the clean twin with the same weights written NCHW as torch would.

The rule for what may stay: a Transpose that reads a graph input and moves data. The
model's interface is NHWC, the twin's NCHW, so the C has to reorder the caller's input once
(an NHWC input with one channel needs no Transpose: cancel-transposes makes it a Reshape).
With int8 that Transpose also stands between the input's QuantizeLinear and the first
convolution, which the twin fuses into a QConvBoundary; QConvBoundary is by definition
QuantizeLinear -> QConv (-> DequantizeLinear), so it is counted as those kinds. Reshape,
Flatten, Squeeze and Unsqueeze are views (no code, no arena of their own) and are not
counted: the NHWC [1,49,10,1] input becomes NCHW through one.

mobilenet_v2 has Keras' explicit ZeroPadding2D before its stride-2 depthwise convolutions:
`fold-pad` folds them into the convolutions once the Transposes are gone, so it is held to
its twin like the others.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinyc
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.ir import Graph
from tinyc.ops import get_op

MODELS = Path(__file__).resolve().parent / "models" / "exporters"
NETS = ("kws_dscnn", "mobilenet_v2", "concat_net", "flatten_cnn")
FORMS = ("tf2onnx", "tf2onnx_nhwc")
#: kernels a net keeps over its twin until Pad folding lands
VIEWS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})
ARENA_TOLERANCE = 0.05
BOUNDARY_OPS = frozenset({"QConvBoundary", "QGemmBoundary"})


def calibration(net: str, form: str, tmp: Path) -> Path:
    """The same 8 seeded samples for every form, NHWC for tf2onnx, NCHW for the twin."""
    x = np.random.default_rng(7).standard_normal((8, *nhwc_shape(net)[1:])).astype(np.float32)
    path = tmp / f"{net}_{form}_calib.npy"
    np.save(path, x.transpose(0, 3, 1, 2) if form == "nchw" else x)
    return path


def nhwc_shape(net: str) -> tuple[int, ...]:
    return load_model(MODELS / f"{net}_tf2onnx.onnx", Options()).inputs[0].shape


def options(net: str, form: str, int8: bool, tmp: Path) -> Options:
    if not int8:
        return Options()
    return Options(quantize="int8", calib=str(calibration(net, form, tmp)))


def optimized(net: str, form: str, int8: bool, tmp: Path) -> Graph:
    opts = options(net, form, int8, tmp)
    graph, _ = optimize(load_model(MODELS / f"{net}_{form}.onnx", opts), opts)
    return graph


def interface_transposes(graph: Graph) -> list[str]:
    """Transposes the NHWC interface needs: they read a graph input (or its quantized copy);
    one that would move no data is a Reshape by then (cancel-transposes)."""
    inputs = {id(v) for v in graph.inputs}
    out = []
    for node in graph.nodes:
        x = node.inputs[0] if node.inputs else None
        if node.op != "Transpose" or x is None:
            continue
        if x.producer is not None and x.producer.op == "QuantizeLinear":
            x = x.producer.inputs[0]
        if x is not None and id(x) in inputs:
            out.append(node.name)
    return out


def kinds(graph: Graph) -> Counter[str]:
    """Node kinds, without the views, and boundary-fused int8 ops as what they fuse."""
    out: Counter[str] = Counter()
    for node in graph.nodes:
        if node.op in VIEWS:
            continue
        if node.op in ("QConvBoundary", "QGemmBoundary"):
            out[node.op.replace("Boundary", "")] += 1
            out["QuantizeLinear"] += bool(node.attrs.get("x_quant"))
            out["DequantizeLinear"] += bool(node.attrs.get("y_quant"))
        else:
            out[node.op] += 1
    return out


def interface_kinds(graph: Graph) -> Counter[str]:
    return Counter("Transpose" for _ in interface_transposes(graph))


@pytest.mark.parametrize("int8", [False, True], ids=["float", "int8"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("net", NETS)
def test_only_interface_transposes_left(net: str, form: str, int8: bool,
                                        tmp_path: Path) -> None:
    graph = optimized(net, form, int8, tmp_path)
    left = [n.name for n in graph.nodes if n.op == "Transpose"]
    assert left == interface_transposes(graph)
    channels = nhwc_shape(net)[-1]
    assert len(left) == (0 if channels == 1 else 1)


@pytest.mark.parametrize("int8", [False, True], ids=["float", "int8"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("net", NETS)
def test_same_kernels_and_arena_as_twin(net: str, form: str, int8: bool,
                                        tmp_path: Path) -> None:
    graph = optimized(net, form, int8, tmp_path)
    twin = optimized(net, "nchw", int8, tmp_path)
    assert kinds(graph) - interface_kinds(graph) == kinds(twin)
    arena = compile_graph(graph, Options(), "m").plan.size
    twin_arena = compile_graph(twin, Options(), "m").plan.size
    # the twin's first int8 layer reads the float input itself (a fused boundary, which the
    # interface Transpose keeps the NHWC form from): its kernel's own scratch is staged
    # beside the quantized band, where the NHWC form's plain conv can stream in place
    fused = sum(get_op(n.op).kernel_work(n) for n in twin.nodes if n.op in BOUNDARY_OPS)
    assert abs(arena - twin_arena) <= ARENA_TOLERANCE * twin_arena + fused, (arena, twin_arena)


def test_the_pass_is_what_removes_them(tmp_path: Path) -> None:
    """Without push-transposes, the NHWC export keeps its Transposes (so the tests above
    measure the pass, not the other passes)."""
    from tinyc.passes.manager import PIPELINES, pipeline_without

    path = MODELS / "mobilenet_v2_tf2onnx_nhwc.onnx"
    opts = Options(passes=pipeline_without(1, None, frozenset({"push-transposes"})))
    graph, _ = optimize(load_model(path, opts), opts)
    assert sum(n.op == "Transpose" for n in graph.nodes) > 20
    assert "push-transposes" in PIPELINES[1]


@pytest.mark.parametrize(("form", "int8"), [("tf2onnx", False), ("tf2onnx_nhwc", False),
                                           ("tf2onnx_nhwc", True)],
                         ids=["tf2onnx-float", "tf2onnx_nhwc-float", "tf2onnx_nhwc-int8"])
@pytest.mark.parametrize("net", NETS)
def test_outputs_match(net: str, form: str, int8: bool, tmp_path: Path) -> None:
    """The C, built with the host cc: float against onnxruntime (rtol 1e-4, atol 1e-5),
    int8 bit-exact against the reference interpreter. (The twins are checked against
    Keras by the script that writes them.)"""
    calib = calibration(net, form, tmp_path) if int8 else None
    result = tinyc.verify(MODELS / f"{net}_{form}.onnx", quantize="int8" if int8 else None,
                          calib=calib, rtol=0 if int8 else 1e-4, atol=0 if int8 else 1e-5)
    assert result.ok, result
    assert result.reference == ("tinyc's interpreter" if int8 else "onnxruntime")


INSTRUCTION_TOLERANCE = 0.05


@pytest.mark.slow
@pytest.mark.usefixtures("mcu_tools")
@pytest.mark.parametrize("int8", [False, True], ids=["float", "int8"])
@pytest.mark.parametrize("net", NETS)
def test_same_cortex_m4_instructions_as_twin(net: str, int8: bool, tmp_path: Path) -> None:
    """On QEMU's Cortex-M4 the NHWC export runs within 5 % of its twin's instructions and
    gives the reference's outputs (float: onnxruntime's, closely -- the FPU fuses
    multiply-adds; int8: the interpreter's, bit for bit)."""
    import onnxruntime as ort

    from tinyc.interp import run_graph
    from tinyc.mcu.validate import run_on_mcu

    x = np.random.default_rng(3).standard_normal(nhwc_shape(net)).astype(np.float32)
    counts = {}
    for form, feed in (("tf2onnx_nhwc", x), ("nchw", x.transpose(0, 3, 1, 2).copy())):
        opts = options(net, form, int8, tmp_path)
        opts = Options(target="cortex-m4", quantize=opts.quantize, calib=opts.calib)
        graph, _ = optimize(load_model(MODELS / f"{net}_{form}.onnx", opts), opts)
        # one C name for all: the kernel files compile once (tests/objcache.py)
        result, _ = run_on_mcu(graph, opts, "net", [feed], tmp_path / form)
        got = result.run.outputs[0]
        if int8:
            want = run_graph(graph, {graph.inputs[0].name: feed})[0]
            np.testing.assert_array_equal(got, want)
        else:
            sess = ort.InferenceSession(str(MODELS / f"{net}_{form}.onnx"),
                                        providers=["CPUExecutionProvider"])
            want = sess.run(None, {sess.get_inputs()[0].name: feed})[0]
            np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-3, atol=1e-4)
        counts[form] = result.measurement.instructions
    nhwc, twin = counts["tf2onnx_nhwc"], counts["nchw"]
    assert abs(nhwc - twin) <= INSTRUCTION_TOLERANCE * twin, counts
