"""The TFLite frontend on the MLPerf Tiny reference models, against TFLite Micro's own
interpreter (`tflite-micro`): float ResNet-8 within float tolerance, the int8 models' C equal
to tinyc's interpreter bit for bit, and each integer op equal to TFLite Micro's on TFLite
Micro's own inputs (the `tflite` integer semantics; whole models: test_tflite_semantics.py)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from tflite_micro.python.tflite_micro import runtime

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.frontend.tflite.reader import read_tflite
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host_batch
from tinyc.interp import run_graph
from tinyc.ops import get_op
from tinyc.passes.manager import PIPELINES
from tinyc.quant import semantics
from tinyc.quant.lower import INTEGER_OPS

MODELS = Path(__file__).parent.parent / "models" / "tflite"
#: int8 models whose ops `qdq-lower` makes integer (float islands: FLOAT_ISLANDS)
INT8 = ["kws_ref_model", "pretrainedResnet_quant", "ad01_int8", "ops_int8", "dense3d_int8",
        "dense3d_uint8io", "mobile_int8", "conv1d_int8"]
_QDQ = {"DequantizeLinear", "QuantizeLinear"}
#: ops that `qdq-lower` leaves float between their DQ and Q (no integer kernel yet)
FLOAT_ISLANDS = {"ops_int8": {"Pad"},  # an int8 Pad (zero point fill), not in INTEGER_OPS
                 "mobile_int8": {"Pad"},
                 "resize_int8": {"Resize", *_QDQ},
                 "dense3d_uint8io": _QDQ}  # the uint8 <-> int8 QUANTIZE at the interface

#: the default pipeline without band-rows, whose QBanded nodes hide the per-op tensors
UNBANDED = PIPELINES[1].replace(",band-rows", "")


def _compiled(stem: str, passes: str | None = None):  # noqa: ANN202
    options = Options(passes=passes)
    graph, _ = optimize(load_model(MODELS / f"{stem}.tflite", options), options)
    # one C name for every model: the kernel files are the same text, compiled once
    return graph, compile_graph(graph, options, "net")


def _inputs(graph, n: int, seed: int) -> list[np.ndarray]:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    v = graph.inputs[0]
    if v.dtype.np in (np.int8, np.uint8):
        info = np.iinfo(v.dtype.np)
        return [rng.integers(info.min, info.max + 1, v.shape).astype(v.dtype.np)
                for _ in range(n)]
    return [rng.standard_normal(v.shape).astype(np.float32) for _ in range(n)]


def _tflm(stem: str, xs: list[np.ndarray]) -> list[list[np.ndarray]]:
    """TFLite Micro's outputs, all of them, for each input."""
    interp = runtime.Interpreter.from_file(str(MODELS / f"{stem}.tflite"))
    outs = []
    for x in xs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append([np.array(interp.get_output(i))
                     for i in range(_n_outputs(stem))])
    return outs


def _n_outputs(stem: str) -> int:
    return len(read_tflite(MODELS / f"{stem}.tflite").outputs)


def _run_c(graph, compiled, xs: list[np.ndarray]) -> list[list[np.ndarray]]:  # noqa: ANN001
    """The generated C's outputs, built with the strict flags and ASan/UBSan and run on the
    host, for each input (one process for all of them)."""
    with tempfile.TemporaryDirectory(prefix="tinyc-tflite-") as tmp:
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), graph, compiled.code.name, SANITIZE_FLAGS)
        return run_host_batch(exe, graph, [[x] for x in xs])


@pytest.mark.parametrize(("stem", "n_inputs"),
                         [("pretrainedResnet", 100), ("ops_float", 5), ("resize_float", 5),
                          ("dense3d_float", 5)])
def test_float_model_matches_tflite_micro(stem: str, n_inputs: int) -> None:
    graph, compiled = _compiled(stem)
    xs = _inputs(graph, n_inputs, seed=1)
    for got, want in zip(_run_c(graph, compiled, xs), _tflm(stem, xs)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.reshape(w.shape), w, rtol=1e-4, atol=1e-5)


def test_nhwc_becomes_nchw_without_transposes_inside() -> None:
    """ResNet-8: one Transpose, of the input; the convolutions, adds and pool run in NCHW
    and the flatten of the [1, C, 1, 1] pool output is a Reshape."""
    graph, _ = _compiled("pretrainedResnet")
    assert [n.op for n in graph.nodes].count("Transpose") == 1
    assert graph.nodes[0].op == "Transpose"


@pytest.mark.parametrize("stem", INT8)
def test_int8_model_c_equals_interpreter(stem: str) -> None:
    graph, compiled = _compiled(stem)
    float_ops = {n.op for n in graph.nodes} - INTEGER_OPS - {"Reshape", "Transpose", "Slice"}
    assert float_ops == FLOAT_ISLANDS.get(stem, set())
    # the integer ops follow TFLite's arithmetic, none onnxruntime's float rounding
    assert not any(semantics.is_onnxruntime(n) for n in graph.nodes)
    assert all(semantics.is_tflite(n) for n in graph.nodes
               if n.op in semantics.TFLITE_OPS - {"QRequantize"})
    xs = _inputs(graph, 10, seed=2)
    for x, got in zip(xs, _run_c(graph, compiled, xs)):
        for c, want in zip(got, run_graph(graph, {graph.inputs[0].name: x}), strict=True):
            np.testing.assert_array_equal(c, want)


@pytest.mark.parametrize("stem", INT8)
def test_int8_ops_equal_tflite_micro(stem: str) -> None:
    """Each op of the compiled graph whose result is a TFLite tensor, fed TFLite Micro's own
    input tensors, equals TFLite Micro's output tensor: every op, not only the network's
    output."""
    path = MODELS / f"{stem}.tflite"
    graph, _ = _compiled(stem, UNBANDED)  # op by op: not fused into row bands
    sub = read_tflite(path)
    index = {sub.tensors[i].name: i for i in sub.inputs + sub.outputs}
    index.update({v.name: i for v, i in zip(graph.outputs, sub.outputs, strict=True)})
    tflm = runtime.Interpreter.from_file(
        str(path), intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)

    def tflm_tensor(v) -> np.ndarray | None:  # noqa: ANN001
        if v.const is not None:
            return v.const
        m = re.fullmatch(r"t(\d+)(_nchw)?", v.name)
        i = int(m.group(1)) if m else index.get(v.name)
        if i is None:
            return None
        data = np.array(tflm.GetTensor(i, 0)["tensor_data"])
        return data.transpose(0, 3, 1, 2) if m and m.group(2) else data.reshape(v.shape)

    diffs, checked = [], set()
    for x in _inputs(graph, 5, seed=3):
        tflm.set_input(x, 0)
        tflm.invoke()
        env: dict[int, np.ndarray] = {}  # values TFLite has no tensor for (a flatten)
        for node in graph.nodes:
            ins = [None if v is None else env[id(v)] if id(v) in env else tflm_tensor(v)
                   for v in node.inputs]
            got = np.asarray(get_op(node.op).reference(node, ins)[0])
            want = tflm_tensor(node.outputs[0])
            if want is None:
                env[id(node.outputs[0])] = got.reshape(node.outputs[0].shape)
            else:
                diffs.append(np.abs(got.reshape(want.shape).astype(np.int64)
                                    - want.astype(np.int64)).reshape(-1))
                checked.add(node.name)
    def covered(node) -> bool:  # noqa: ANN001
        """Compared itself, or only feeding ops that are (a MEAN's or an FC's reshape, the
        uint8 QUANTIZE at an output): each integer op's result reaches a comparison."""
        users = node.outputs[0].users()
        return node.name in checked or bool(users) and all(covered(u) for u in users)

    assert all(covered(n) for n in graph.nodes if n.op in INTEGER_OPS)
    assert np.concatenate(diffs).max() == 0


def test_int8_resize_within_one_step_of_tflite_micro() -> None:
    """One layer per output, computed in float between DQ and Q (a float island): nearest
    neighbour equals TFLite Micro; bilinear, which TFLite computes in fixed point, is
    within 1 step (measured: about 12 % of the elements differ). The C, not the
    interpreter: the float island's C and numpy round a few .5 cases differently."""
    graph, compiled = _compiled("resize_int8")
    assert {n.op for n in graph.nodes} == FLOAT_ISLANDS["resize_int8"] | {"Transpose"}
    xs = _inputs(graph, 5, seed=4)
    for got, want in zip(_run_c(graph, compiled, xs), _tflm("resize_int8", xs)):
        for g, w in zip(got, want, strict=True):
            assert np.abs(g.reshape(w.shape).astype(np.int64) - w.astype(np.int64)).max() <= 1


def test_int8_outputs_keep_the_model_names() -> None:
    """The lowering keeps graph output names (they are the C interface), also where an int8
    Reshape produces one."""
    path = MODELS / "ops_int8.tflite"
    loaded = load_model(path, Options())
    names = [v.name for v in loaded.outputs]
    graph, _ = optimize(load_model(path, Options()), Options())
    assert [v.name for v in graph.outputs] == names
