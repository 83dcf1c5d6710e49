"""`quantize-float16` on random float graphs (tests/strategies.py): the verifier accepts the
result; every weight operand of an op with a half-weight kernel is f16 and holds the
float32 weight rounded to nearest even, or is a small layer's kept float32 one, and nothing
else changed type; the interpreter's outputs are the float graph's with those weights
rounded through half (up to float32 summation order); the generated C (ASan, UBSan)
matches the interpreter; and the pass leaves a float16 graph as it is."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings

from tests.strategies import Case, graphs
from tinyc.compiler import Options, compile_graph
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import DType
from tinyc.ir.verify import verify
from tinyc.passes import PassContext, PassManager, pipeline_for
from tinyc.passes.quantize_float16 import QuantizeFloat16, half_weight_indices

OPS = ("Conv", "Conv>Relu", "Gemm", "MatMul", "Add", "Relu", "MaxPool", "Reshape", "Flatten",
       "Concat", "BatchNormalization", "Transpose")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.filter_too_much])
@given(graphs(ops=OPS, max_nodes=5, max_inputs=2))
def test_float16_random_graph(case: Case) -> None:
    graph, feeds = case
    ctx = PassContext(verify_each=True)
    graph = PassManager(pipeline_for(1)).run(graph, ctx)
    # the reference: the float graph, its half-weight operands rounded through half (but
    # those of the small layers the pass keeps float32, see tests/quant/test_float16.py)
    reference = copy.deepcopy(graph)
    operands = {(n.name, i) for n in graph.nodes for i in half_weight_indices(n)}
    half = QuantizeFloat16()(graph, ctx).graph
    verify(half)
    for h, r in zip(half.nodes, reference.nodes, strict=True):
        for i, (a, b) in enumerate(zip(h.inputs, r.inputs, strict=True)):
            if a is None:
                continue
            assert b is not None
            if (h.name, i) in operands and a.dtype is DType.F16:
                assert b.const is not None
                rounded = b.const.astype(np.float16)
                np.testing.assert_array_equal(a.const, rounded)
                r.set_input(i, reference.add_const(reference.unique_name("rounded"),
                                                   rounded.astype(np.float32)))
            else:  # a kept small layer's weights, or not a weight: unchanged
                assert a.dtype is b.dtype
    before = dict(half.metadata)
    assert not QuantizeFloat16()(half, ctx).modified
    assert half.metadata == before
    got = run_graph(half, feeds)
    for a, b in zip(got, run_graph(reference, feeds), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    compiled = compile_graph(half, Options(quantize="float16"), "net")
    with tempfile.TemporaryDirectory() as tmp:
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), half, "net", [*SANITIZE_FLAGS, "-O0"])
        c_out = run_host(exe, half, [feeds[v.name] for v in half.inputs])
    for a, b in zip(c_out, got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
