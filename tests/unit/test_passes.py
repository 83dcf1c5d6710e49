"""Pass infrastructure and the rules' refusals: registry, pipelines, the rewrite driver,
the reasons rules give when they do not fire, and the flash guard of fold-constants.
Semantics on random graphs live in tests/property/test_passes_properties.py."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from tests.strategies import make_node
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, TensorType
from tinyc.ir.verify import verify
from tinyc.ops import has_op
from tinyc.passes import PASSES, PIPELINES, PassContext, parse_pipeline, pipeline_for
from tinyc.passes.eliminate_no_ops import RULES as NO_OP_RULES
from tinyc.passes.fold_batchnorm import FoldIntoConv
from tinyc.passes.fuse_activation import FuseIntoProducer, compose_clamps
from tinyc.passes.push_transposes import SinkThroughElementwise, SinkThroughReshape
from tinyc.passes.rewrite import Const, Op, RuleSet, Var

F32 = DType.F32

#: the graph optimizations (other passes, such as quantization, have their own tests)
OPTIMIZATIONS = {
    "fold-constants", "fold-shapes", "eliminate-dead-code", "eliminate-no-ops",
    "collapse-reshapes", "cancel-transposes", "push-transposes", "fold-batchnorm",
    "fuse-conv-bias", "fuse-matmul-add", "fuse-activation", "eliminate-common-subexpressions",
    "div-to-mul", "recognize-activations", "recognize-global-pools", "fold-pad",
}  # fmt: skip


def _const(g: Graph, name: str, shape: tuple[int, ...], seed: int = 0) -> object:
    data = np.random.default_rng(seed).uniform(0.5, 1.5, shape).astype(np.float32)
    return g.add_const(name, data)


def _conv_graph(uses: int = 1, shared_weight: bool = False) -> Graph:
    """x -> Conv -> BatchNormalization (-> y), optionally with the Conv result or weight
    used a second time."""
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 2, 3, 3)))
    w = _const(g, "w", (2, 2, 1, 1))
    conv = make_node(g, "Conv", [x, w]).outputs[0]
    params = [_const(g, n, (2,), i) for i, n in enumerate(("g", "b", "m", "v"))]
    y = make_node(g, "BatchNormalization", [conv, *params]).outputs[0]
    g.outputs = [y]
    if uses == 2:
        g.outputs.append(make_node(g, "Relu", [conv]).outputs[0])
    if shared_weight:
        g.outputs.append(make_node(g, "Conv", [x, w]).outputs[0])
    verify(g)
    return g


# -- registry and pipelines -----------------------------------------------------------


def test_every_optimization_is_documented_and_in_its_own_module() -> None:
    for name in sorted(OPTIMIZATIONS):
        cls = PASSES[name]
        assert name == name.lower() and " " not in name
        module = importlib.import_module(cls.__module__)
        assert module.__name__ == "tinyc.passes." + name.replace("-", "_")
        assert cls.summary, name
        doc = cls.__doc__ or ""
        assert "Refuses" in doc or "refuse" in doc.lower(), f"{name}: say what it refuses"


def test_pipelines() -> None:
    o1, o2 = (parse_pipeline(PIPELINES[level]) for level in (1, 2))
    assert pipeline_for(0) == []
    assert {p.name for p in o1} < {p.name for p in o2}
    assert "eliminate-common-subexpressions" in {p.name for p in o2} - {p.name for p in o1}
    assert {p.name for p in o2} >= OPTIMIZATIONS
    (p,) = parse_pipeline("fold-constants{max-growth-bytes=0}")
    assert p.max_growth_bytes == 0  # type: ignore[attr-defined]


# -- the rewrite driver ---------------------------------------------------------------


def test_pattern_binds_and_commutes() -> None:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (2, 3)))
    mm = make_node(g, "MatMul", [x, _const(g, "w", (3, 4))]).outputs[0]
    add = make_node(g, "Add", [_const(g, "c", (4,)), mm])
    pattern = Op("Add", Op("MatMul", Var("a"), Const("b"), name="mm"), Const("c"), commute=True)
    bindings: dict[str, object] = {}
    assert pattern.match_node(add, bindings)
    assert bindings["a"] is x and bindings["mm"] is mm.producer
    assert not Op("Add", Op("MatMul"), Const()).match_node(add, {})  # order matters


def test_ruleset_indexes_by_root_and_adds() -> None:
    fuse = RuleSet([FuseIntoProducer()])
    both = fuse + NO_OP_RULES
    assert len(both.rules) == 1 + len(NO_OP_RULES.rules)
    assert [type(r).__name__ for r in both.index["Relu"]] == ["FuseIntoProducer"]
    assert "Identity" in both.index and "Identity" not in fuse.index


def test_rules_are_counted() -> None:
    g = _conv_graph()
    ctx = PassContext()
    (p,) = parse_pipeline("fold-batchnorm")
    assert p(g, ctx).modified
    assert ctx.stats["rule:FoldIntoConv"] == 1
    assert ctx.stats["pass:fold-batchnorm"] == 1


# -- refusals, with their reasons -------------------------------------------------------


def test_fold_batchnorm_reasons() -> None:
    rule = FoldIntoConv()
    ok = _conv_graph()
    assert rule.explain(ok, ok.nodes[-1])
    fanout = _conv_graph(uses=2)
    bn = next(n for n in fanout.nodes if n.op == "BatchNormalization")
    assert "has 2 uses" in rule.explain(fanout, bn).reason
    shared = _conv_graph(shared_weight=True)
    bn = next(n for n in shared.nodes if n.op == "BatchNormalization")
    assert "shared" in rule.explain(shared, bn).reason
    assert rule.explain(ok, ok.nodes[0]).reason == "pattern does not match"


def test_fuse_activation_reasons() -> None:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 4)))
    gemm = make_node(g, "Gemm", [x, _const(g, "b", (4, 2))]).outputs[0]
    relu = make_node(g, "Relu", [gemm])
    g.outputs = [relu.outputs[0], gemm]
    assert "graph output" in FuseIntoProducer().explain(g, relu).reason
    gemm.producer.attrs["activation"] = "Sigmoid"  # type: ignore[union-attr]
    g.outputs = [relu.outputs[0]]
    assert "already has activation Sigmoid" in FuseIntoProducer().explain(g, relu).reason


def test_push_transposes_reasons() -> None:
    """An op moves below a Transpose only when that removes one, and only with operands it
    can remap."""
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 2, 3, 4)))
    y = g.add_input("y", TensorType(F32, (1, 3, 4, 2)))
    t = make_node(g, "Transpose", [x], perm=[0, 2, 3, 1]).outputs[0]
    relu = make_node(g, "Relu", [t])
    add = make_node(g, "Add", [t, y])
    t2 = make_node(g, "Transpose", [x], perm=[0, 3, 2, 1]).outputs[0]
    split = make_node(g, "Reshape", [t2, g.add_const("s", np.asarray([1, 4, 6, 1], np.int64))])
    g.outputs = [relu.outputs[0], add.outputs[0], split.outputs[0]]
    verify(g)
    sink, reshape = SinkThroughElementwise(), SinkThroughReshape()
    assert "another reader" in sink.explain(g, relu).reason
    assert "neither a Transpose" in sink.explain(g, add).reason
    assert "merges axes the Transpose reorders" in reshape.explain(g, split).reason
    g.outputs = [relu.outputs[0]]
    g.erase(add)
    assert sink.explain(g, relu)


def test_compose_clamps() -> None:
    assert compose_clamps(("Relu", []), ("Clip", [-1.0, 6.0])) == ("Clip", [0.0, 6.0])
    assert compose_clamps(("Clip", [-3.0, 9.0]), ("Relu", [])) == ("Clip", [0.0, 9.0])
    assert compose_clamps(("Clip", [-1.0, float("inf")]), ("Relu", [])) == ("Relu", [])
    assert compose_clamps(("Clip", [0.0, 1.0]), ("Clip", [2.0, 3.0])) is None


def test_removed_graph_output_keeps_its_name() -> None:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 4)))
    r = make_node(g, "Relu", [x]).outputs[0]
    y = make_node(g, "Identity", [r]).outputs[0]
    y.name = "logits"
    g.outputs = [y]
    (p,) = parse_pipeline("eliminate-no-ops")
    assert p(g, PassContext()).modified
    assert [v.name for v in g.outputs] == ["logits"] and g.outputs[0].producer.op == "Relu"


def test_dropout_with_a_used_mask_stays() -> None:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 4)))
    drop = make_node(g, "Dropout", [x])
    g.outputs = [drop.outputs[0], drop.outputs[1]]
    (p,) = parse_pipeline("eliminate-no-ops")
    assert not p(g, PassContext()).modified


# -- fold-constants never grows flash -------------------------------------------------


def _broadcast_graph(shared: bool) -> Graph:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 8, 8, 8)))
    col, row = _const(g, "col", (1, 8, 1, 1)), _const(g, "row", (1, 1, 8, 8))
    full = make_node(g, "Add", [col, row]).outputs[0]
    g.outputs = [make_node(g, "Add", [x, full]).outputs[0]]
    if shared:
        g.outputs.append(make_node(g, "Mul", [x, row]).outputs[0])
    return g


def test_fold_constants_refuses_to_materialize_a_broadcast() -> None:
    g = _broadcast_graph(shared=False)
    (p,) = parse_pipeline("fold-constants")
    assert not p(g, PassContext()).modified  # 2 KiB result from 288 B of constants
    (loose,) = parse_pipeline("fold-constants{max-growth-bytes=4096}")
    assert loose(g, PassContext()).modified


def test_fold_constants_counts_only_freed_constants() -> None:
    """`row + row` (512 B) frees `row` only when nothing else reads it."""
    for shared in (True, False):
        g = Graph("t")
        x = g.add_input("x", TensorType(F32, (1, 128)))
        row = _const(g, "row", (1, 128))
        two = make_node(g, "Add", [row, row]).outputs[0]
        g.outputs = [make_node(g, "Mul", [x, two]).outputs[0]]
        if shared:
            g.outputs.append(make_node(g, "Mul", [x, row]).outputs[0])
        (strict,) = parse_pipeline("fold-constants{max-growth-bytes=0}")
        assert strict(g, PassContext()).modified is not shared
        weights = sum(c.type.nbytes for c in g.constants if c.uses)
        assert weights == 512


# -- ConvTranspose weight layout (only when the op is registered) ---------------------


@pytest.mark.skipif(not has_op("ConvTranspose"), reason="ConvTranspose is not registered yet")
def test_fold_batchnorm_into_grouped_conv_transpose() -> None:
    g = Graph("t")
    x = g.add_input("x", TensorType(F32, (1, 4, 3, 3)))
    w = _const(g, "w", (4, 3, 2, 2))  # [C_in, M/group, k, k], group 2 -> M = 6
    y = make_node(g, "ConvTranspose", [x, w], group=2).outputs[0]
    params = [_const(g, n, (6,), i) for i, n in enumerate(("g", "b", "m", "v"))]
    g.outputs = [make_node(g, "BatchNormalization", [y, *params], epsilon=0.1).outputs[0]]
    feeds = {"x": np.random.default_rng(1).standard_normal((1, 4, 3, 3)).astype(np.float32)}
    before = run_graph(g, feeds)
    (p,) = parse_pipeline("fold-batchnorm")
    assert p(g, PassContext(verify_each=True)).modified
    assert g.op_histogram() == {"ConvTranspose": 1}
    np.testing.assert_allclose(run_graph(g, feeds)[0], before[0], rtol=1e-5, atol=1e-5)
