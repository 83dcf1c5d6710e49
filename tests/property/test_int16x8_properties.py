"""int16x8 quantization (int16 activations, int8 weights) on random graphs
(tests/strategies.py): every op with an int16 kernel is lowered to it, the generated C
(ASan, UBSan) is bit-exact with the reference interpreter, and the outputs are closer to
float than int8's allow (16-bit activations)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings

from tests.strategies import Case, graphs
from tinyc.compiler import Options, compile_graph
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType
from tinyc.ir.text import print_graph
from tinyc.ir.verify import verify
from tinyc.passes import PassContext, PassManager, pipeline_for
from tinyc.passes.quantize_int8 import QuantizeInt8, prepare_for_quantization
from tinyc.quant.calibration import calibrate
from tinyc.quant.lower import INTEGER_OPS, float_ops

#: ops with an int16x8 lowering
INT16_OPS = (
    "Conv", "Conv>Relu", "Conv>Clip", "Gemm", "MatMul", "Add", "Add>Relu", "Mul", "Relu",
    "Clip", "MaxPool", "AveragePool", "GlobalAveragePool", "Reshape", "Flatten",
    "Transpose", "Concat", "Squeeze", "Unsqueeze", "Identity", "Pad",
)  # fmt: skip


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                 HealthCheck.too_slow])
@given(graphs(ops=INT16_OPS, max_nodes=5, max_inputs=2))
def test_int16x8_random_graph_c_is_bit_exact(case: Case) -> None:
    graph, feeds = case
    ctx = PassContext(verify_each=True)
    graph = PassManager(pipeline_for(1)).run(graph, ctx)
    rng = np.random.default_rng(0)
    samples = [feeds] + [
        {k: (v * rng.uniform(0.5, 1.5) + rng.normal(0, 0.1, v.shape)).astype(np.float32)
         for k, v in feeds.items()}
        for _ in range(3)
    ]
    float_outs = [run_graph(graph, s) for s in samples]
    prepare_for_quantization(graph)
    ranges = calibrate(graph, samples, "minmax")
    graph = QuantizeInt8(ranges=ranges, activations=DType.I16)(graph, ctx).graph
    verify(graph)
    note(print_graph(graph))
    assume(not float_ops(graph))  # MatMul by an activation, Gemm with a 2-D C stay float
    integer = [n for n in graph.nodes if n.op in INTEGER_OPS]
    assume(integer)
    assert all(o.dtype is DType.I16 for n in integer for o in n.outputs)
    with tempfile.TemporaryDirectory() as tmp:
        compiled = compile_graph(graph, Options(), "q")
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), graph, "q", [*SANITIZE_FLAGS, "-O0"])
        for sample, want_float in zip(samples[:2], float_outs[:2], strict=True):
            got = run_host(exe, graph, [sample[v.name] for v in graph.inputs])
            want = run_graph(graph, sample)
            for g, w, f in zip(got, want, want_float, strict=True):
                np.testing.assert_array_equal(g, w)
                # near float (a wrong scale is far off; int8's bound is 25% + 0.05)
                span = max(float(np.abs(f).max()), 1e-3)
                assert float(np.abs(g.astype(np.float64) - f).max()) <= 0.1 * span + 0.01
