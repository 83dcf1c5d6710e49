"""Every optimization pass, on random graphs from `tests/strategies.py`:

1. the IR verifier accepts the result;
2. the reference interpreter gives the same outputs before and after: bit-identical for
   passes that move no arithmetic, and within rtol 1e-5 plus atol 1e-5 * max(1, |y|max)
   for passes that re-associate float math (BatchNorm and bias folding, whole pipelines);
   the observed error is about 2e-7, so a wrong epsilon or a mis-scaled channel fails;
3. the pass is idempotent: a second run reports `modified=False`, and `modified=False`
   always means the text IR is unchanged;
4. the result prints and parses back to the same text.

Each pass draws from the ops (and op chains, "Conv>BatchNormalization") it rewrites, so it
fires on a good share of examples; `test_strategy_exercises_pass` checks that it fires at
all. Examples are bounded (CI budget); see tests/conftest.py for the profiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, event, find, given, note, settings
from hypothesis import strategies as st

from tests.strategies import ACTIVATION_OPS, Case, graphs
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.ir.text import external_constants, parse_graph, print_graph
from tinyc.ir.verify import verify
from tinyc.passes import PIPELINES, PassContext, PassManager, parse_pipeline

RTOL = 1e-5
ATOL = 1e-5


@dataclass(frozen=True)
class Spec:
    """What to draw for one pass, and whether its result must be bit-identical."""

    ops: tuple[str, ...] | None
    exact: bool
    max_nodes: int = 8
    dead_code: bool = False

    def graphs(self) -> st.SearchStrategy[Case]:
        return graphs(self.ops, max_nodes=self.max_nodes, dead_code=self.dead_code)


_ALL = None
SPECS: dict[str, Spec] = {
    "fold-constants": Spec(("Add", "Mul", "Relu", "Transpose", "Conv", "Concat", "Shape"), True),
    "fold-shapes": Spec(("Shape", "Relu", "Add", "Reshape", "Concat"), True),
    "eliminate-dead-code": Spec(_ALL, True, dead_code=True),
    "eliminate-no-ops": Spec(("Identity", "Dropout", "Reshape", "Cast", "Transpose", "Pad",
                              "Squeeze", "Unsqueeze", "Flatten", "Relu", "Add",
                              "Conv>Identity", "Relu>Dropout"), True),
    "collapse-reshapes": Spec(("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Relu", "Add",
                               "Reshape>Flatten", "Unsqueeze>Squeeze", "Flatten>Reshape"), True),
    "cancel-transposes": Spec(("Transpose", "Unsqueeze", "Relu", "Add", "Reshape",
                               "Transpose>Transpose", "Unsqueeze>Transpose"), True),
    "push-transposes": Spec(("ChannelsLast", "Transpose", "Relu", "Add", "Mul", "Concat", "Pad",
                             "Softmax", "ReduceMean", "ReduceMax", "Flatten",
                             "Transpose>Relu", "Transpose>Add", "Transpose>Pad",
                             "Transpose>Concat", "Transpose>Softmax", "Transpose>ReduceMean",
                             "ChannelsLast>ReduceMean", "FlattenDense", "Transpose>Reshape",
                             "Transpose>Unsqueeze>Reshape"), False),
    "fold-batchnorm": Spec(("Conv", "Gemm", "MatMul", "BatchNormalization", "Flatten", "Relu",
                            "Mul", "Conv>Mul", "Conv>BatchNormalization", "Gemm>BatchNormalization",
                            "Flatten>MatMul>BatchNormalization"), False),
    "fuse-conv-bias": Spec(("Conv", "Add", "Relu", "Conv>Add", "Conv>Add>Relu"), False),
    "fuse-matmul-add": Spec(("MatMul", "Gemm", "Add", "Flatten", "Relu", "Flatten>MatMul>Add",
                             "Flatten>Gemm>Add"), True),
    "fuse-activation": Spec(("Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Flatten", "Relu",
                             *ACTIVATION_OPS, "Conv>Relu>Clip", "Add>Relu", "Gemm>Clip"), True),
    "eliminate-common-subexpressions": Spec(("Duplicate", "Conv", "Add", "Relu", "Transpose",
                                             "Concat"), True),
    "div-to-mul": Spec(("Div", "Conv", "Add", "Relu", "Gated"), False),
    "recognize-activations": Spec(("Gated", "Conv", "Add", "Mul", "Relu", "Conv>Gated"),
                                  False),
    "recognize-global-pools": Spec(("ReduceMean", "ReduceMax", "Conv", "Relu",
                                    "Conv>ReduceMean"), False),
    "fold-pad": Spec(("Pad", "Conv", "MaxPool", "AveragePool", "Relu", "Pad>Conv",
                      "Pad>MaxPool", "Pad>AveragePool", "Relu>Pad>MaxPool",
                      "Conv>Relu>Pad>Conv"), True),
}
PIPELINE_SPEC = Spec(_ALL, False, max_nodes=10)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference(graph: Graph, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    with np.errstate(all="ignore"):
        return run_graph(graph, feeds)


def assume_tame(outputs: list[np.ndarray]) -> None:
    """Skip the rare graph whose outputs overflow or blow up (comparisons meaningless)."""
    assume(all(np.isfinite(o).all() and np.abs(o).max(initial=0) < 1e4 for o in outputs))


def assert_same_outputs(before: list[np.ndarray], after: list[np.ndarray], exact: bool) -> None:
    assert len(before) == len(after)
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        assert a.shape == b.shape and a.dtype == b.dtype, f"output {i}"
        if exact:
            np.testing.assert_array_equal(a, b, err_msg=f"output {i} (must be bit-identical)")
        else:
            scale = max(1.0, float(np.abs(b).max(initial=0)))
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL * scale, err_msg=f"output {i}")


def check_pass(name: str, case: Case, exact: bool) -> bool:
    """Run pass `name` on the case and check all four properties; True if it modified."""
    graph, feeds = case
    before = reference(graph, feeds)
    assume_tame(before)
    text_before = print_graph(graph)
    note(f"input graph:\n{text_before}")
    (p,) = parse_pipeline(name)
    result = p(graph, PassContext(verify_each=True))
    graph = result.graph
    verify(graph)
    text = print_graph(graph)
    note(f"after {name}:\n{text}")
    assert_same_outputs(before, reference(graph, feeds), exact)
    if not result.modified:
        assert text == text_before, "modified=False but the graph changed"
    again = p(graph, PassContext(verify_each=True))
    assert not again.modified, f"{name} is not idempotent"
    assert print_graph(again.graph) == text
    assert print_graph(parse_graph(text, external_constants(graph))) == text
    return result.modified


@pytest.mark.parametrize("name", sorted(SPECS))
def test_pass_properties(name: str) -> None:
    spec = SPECS[name]

    @SETTINGS
    @given(spec.graphs())
    def run(case: Case) -> None:
        event(f"modified={check_pass(name, case, spec.exact)}")

    run()


@pytest.mark.parametrize("level", [1, 2])
@SETTINGS
@given(data=st.data())
def test_pipeline_properties(level: int, data: st.DataObject) -> None:
    """A whole -O pipeline, run to its fixed point by the PassManager, on graphs over every
    op: verified, same outputs, and a second run changes nothing."""
    graph, feeds = data.draw(PIPELINE_SPEC.graphs())
    before = reference(graph, feeds)
    assume_tame(before)
    passes = parse_pipeline(PIPELINES[level])
    graph = PassManager(passes).run(graph, PassContext(verify_each=True))
    verify(graph)
    assert_same_outputs(before, reference(graph, feeds), exact=False)
    text = print_graph(graph)
    for p in passes:
        assert not p(graph, PassContext()).modified, f"{p.name} still changes the -O{level} result"
    assert print_graph(graph) == text


@pytest.mark.parametrize("name", sorted(SPECS))
def test_strategy_exercises_pass(name: str) -> None:
    """The graphs drawn for a pass contain something it rewrites (else the properties above
    would hold vacuously)."""
    spec = SPECS[name]
    (p,) = parse_pipeline(name)

    def fires(case: Case) -> bool:
        return p(case[0], PassContext()).modified

    find(spec.graphs(), fires,
         settings=settings(max_examples=300, phases=[Phase.generate], database=None,
                           deadline=None, suppress_health_check=list(HealthCheck)))


@SETTINGS
@given(SPECS["push-transposes"].graphs())
def test_push_transposes_never_adds_a_transpose(case: Case) -> None:
    """The pass moves a Transpose only where one dies (or none is needed), so the count
    never grows; with the tf2onnx-like ChannelsLast motifs it usually falls."""
    graph, _ = case
    before = sum(n.op == "Transpose" for n in graph.nodes)
    (p,) = parse_pipeline("push-transposes")
    after = sum(n.op == "Transpose" for n in p(graph, PassContext()).graph.nodes)
    event(f"fewer={after < before}")
    assert after <= before
