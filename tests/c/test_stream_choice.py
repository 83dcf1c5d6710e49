"""Stream kernels only where they lower the arena (tinyc/memory/plan.py, step 5).

For every example model, float and int8, planned for the portable and the Cortex-M4
kernels, the arena is exactly the one of the plan that keeps every stream kernel its
placement uses (the planner before the rule), worked out here, not written down. A model
whose choice changes (resnet8 keeps one of its three stream kernels) still gives the same
outputs from the Cortex-M4 kernels built on the host: float against onnxruntime, int8 bit
for bit against the reference interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.mcu import get_target
from tinyc.memory import ArenaPlan, plan_memory
from tinyc.memory.liveness import runs_stream_kernel
from tinyc.passes.manager import PIPELINES

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
CASES = [
    (path, precision)
    for path in sorted(MODELS.glob("*.onnx"))
    # a quantization-aware model is int8 as it is
    for precision in (["as-is"] if "qat" in path.stem else ["float", "int8"])
]


def model_graph(path: Path, precision: str, target: str, tmp: Path,
                passes: str | None = None) -> Graph:
    calib = None
    if precision == "int8":
        calib = tmp / f"{path.stem}_calib.npy"
        if path.stem.startswith("digits"):
            data = np.load(MODELS / "digits_train_x.npy")[:16]
        else:
            shape = load_model(path, Options()).inputs[0].shape
            data = np.random.default_rng(1).standard_normal((2, *shape[1:]))
        np.save(calib, data.astype(np.float32))
    options = Options(target=target, quantize="int8" if calib else None,
                      calib=str(calib) if calib else None, passes=passes)
    graph, _ = optimize(load_model(path, options), options)
    return graph


def streams(plan: ArenaPlan) -> list[int]:
    return sorted(n for n, beh in plan.overlaps.items() if runs_stream_kernel(beh))


@pytest.mark.parametrize("target", ["generic", "cortex-m4"])
@pytest.mark.parametrize(("path", "precision"), CASES,
                         ids=[f"{p.stem}-{q}" for p, q in CASES])
def test_arena_is_the_one_with_every_stream_kernel(path: Path, precision: str, target: str,
                                                   tmp_path: Path) -> None:
    graph = model_graph(path, precision, target, tmp_path)
    align = get_target(target).align
    forced = plan_memory(graph, align=align, keep_all_streams=True)
    plan = plan_memory(graph, align=align)
    assert plan.size == forced.size
    assert set(streams(plan)) <= set(streams(forced))


@pytest.mark.parametrize("precision", ["float", "int8"])
def test_fewer_streams_same_outputs_on_the_m4_kernels(precision: str, tmp_path: Path) -> None:
    path = MODELS / "resnet8.onnx"
    # int8 resnet8 runs its stream-kernel convs in row bands by default (band-rows): test
    # the stream rule on the layers themselves
    graph = model_graph(path, precision, "cortex-m4", tmp_path,
                        PIPELINES[1].replace(",band-rows", ""))
    forced = plan_memory(graph, align=get_target("cortex-m4").align, keep_all_streams=True)
    compiled = compile_graph(graph, Options(target="cortex-m4"), "resnet8")
    assert len(streams(compiled.plan)) < len(streams(forced))
    out = tmp_path / "out"
    compiled.code.write(out)
    exe = build_host(out, graph, "resnet8", [*SANITIZE_FLAGS, "-O0"])
    x = np.random.default_rng(3).standard_normal(graph.inputs[0].shape).astype(np.float32)
    got = run_host(exe, graph, [x])
    if precision == "float":
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        want = sess.run(None, {sess.get_inputs()[0].name: x})
        np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-5)
    else:
        want = run_graph(graph, {graph.inputs[0].name: x})
        np.testing.assert_array_equal(got[0], want[0])
