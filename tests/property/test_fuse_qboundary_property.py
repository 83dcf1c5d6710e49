"""fuse-qboundary on random quantized graphs (tests/strategies.py, quantized as in
test_quant_properties.py): the fused graph verifies, the interpreter gives bit for bit what
it gave before the fusion, and the generated C (ASan, UBSan) what the interpreter gives,
for the default workspace budget and for the smallest tiles."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from tests.property.test_quant_properties import QUANT_OPS, quantize
from tests.strategies import Case, graphs
from tinyc.compiler import Options, compile_graph
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir.text import print_graph
from tinyc.ir.verify import verify
from tinyc.passes import PassContext
from tinyc.passes.fuse_qboundary import FuseQBoundary
from tinyc.quant.lower import float_ops

#: the ops whose layers fuse, weighted up so most graphs start or end with one
FUSE_OPS = ("Conv", "Conv", "Conv>Relu", "Gemm", "Gemm", *QUANT_OPS)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                 HealthCheck.too_slow])
@given(graphs(ops=FUSE_OPS, max_nodes=4, max_inputs=2), st.sampled_from([0, 1, 200]))
def test_fusion_keeps_random_graphs_bit_exact(case: Case, budget: int) -> None:
    feeds, samples, (graph, _) = quantize(case)
    assume(not float_ops(graph))
    before = [run_graph(graph, s) for s in samples[:2]]
    result = FuseQBoundary(max_workspace=budget)(graph, PassContext(verify_each=True))
    assume(result.modified)
    graph = result.graph
    verify(graph)
    note(print_graph(graph))
    with tempfile.TemporaryDirectory() as tmp:
        compiled = compile_graph(graph, Options(), "q")
        compiled.code.write(Path(tmp))
        exe = build_host(Path(tmp), graph, "q", [*SANITIZE_FLAGS, "-O0"])
        for sample, want_before in zip(samples[:2], before, strict=True):
            want = run_graph(graph, sample)
            got = run_host(exe, graph, [sample[v.name] for v in graph.inputs])
            for g, w, b in zip(got, want, want_before, strict=True):
                np.testing.assert_array_equal(w, b)
                np.testing.assert_array_equal(g, w)
