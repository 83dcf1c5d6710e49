"""Static int8 quantization on random graphs (tests/strategies.py): the verifier accepts the
quantized graph, every op with an integer kernel was lowered to it, the generated C (ASan,
UBSan) is bit-exact with the reference interpreter, the quantized outputs stay near the
float ones, and the pass is idempotent."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings

from tests.strategies import Case, graphs
from tinyc.compiler import Options, compile_graph
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir.text import print_graph
from tinyc.ir.verify import verify
from tinyc.passes import PassContext, PassManager, pipeline_for
from tinyc.passes.quantize_int8 import QuantizeInt8, prepare_for_quantization
from tinyc.quant.calibration import calibrate
from tinyc.quant.lower import float_ops

#: ops with an integer lowering (MatMul by an activation and Gemm with a 2-D C stay float)
QUANT_OPS = (
    "Conv", "Conv>Relu", "Conv>Clip", "Gemm", "MatMul", "Add", "Add>Relu", "Mul",
    "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid",
    "MaxPool", "AveragePool", "GlobalAveragePool", "Softmax", "Reshape", "Flatten",
    "Transpose", "Concat", "Squeeze", "Unsqueeze", "Identity", "Pad",
)  # fmt: skip


def quantize(case: Case) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]], object]:
    graph, feeds = case
    ctx = PassContext(verify_each=True)
    graph = PassManager(pipeline_for(1)).run(graph, ctx)
    rng = np.random.default_rng(0)
    samples = [feeds] + [
        {k: (v * rng.uniform(0.5, 1.5) + rng.normal(0, 0.1, v.shape)).astype(np.float32)
         for k, v in feeds.items()}
        for _ in range(3)
    ]
    float_graph_outputs = [run_graph(graph, s) for s in samples]
    prepare_for_quantization(graph)
    ranges = calibrate(graph, samples, "minmax")
    result = QuantizeInt8(ranges=ranges)(graph, ctx)
    assert result.modified
    again = QuantizeInt8(ranges=ranges)(result.graph, ctx)
    assert not again.modified
    return feeds, samples, (result.graph, float_graph_outputs)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                 HealthCheck.too_slow])
@given(graphs(ops=QUANT_OPS, max_nodes=5, max_inputs=2))
def test_quantized_random_graph_c_is_bit_exact(case: Case) -> None:
    feeds, samples, (graph, float_outs) = quantize(case)
    verify(graph)
    remaining = float_ops(graph)
    note(print_graph(graph))
    assume(not remaining)  # a float island's C rounding may differ from numpy's by an ulp
    with tempfile.TemporaryDirectory() as tmp:
        compiled = compile_graph(graph, Options(), "q")
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), graph, "q", [*SANITIZE_FLAGS, "-O0"])
        for sample, want_float in zip(samples[:2], float_outs[:2], strict=True):
            inputs = [sample[v.name] for v in graph.inputs]
            got = run_host(exe, graph, inputs)
            want = run_graph(graph, sample)
            for g, w, f in zip(got, want, want_float, strict=True):
                np.testing.assert_array_equal(g, w)
                # quantized stays near float: within 25% of the output's range (a chain of
                # five int8 ops on random data; a wrong scale or zero point is far off)
                span = max(float(np.abs(f).max()), 1e-3)
                assert float(np.abs(g.astype(np.float64) - f).max()) <= 0.25 * span + 0.05
