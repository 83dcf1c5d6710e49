"""Layer selection and magnitude masks: patterns, global vs per-layer ranking, ties,
monotone iterative masks, and the unstructured pruning pass on the example models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyc.compiler import Options, load_model, optimize
from tinyc.errors import UsageError
from tinyc.ir.text import print_graph
from tinyc.passes import PassContext, parse_pipeline
from tinyc.passes.prune_unstructured import PruneUnstructured
from tinyc.prune.select import (
    LayerFilter,
    apply_masks,
    layer_weights,
    magnitude_masks,
    sparsity_of,
    weight_layers,
)

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


def digits():  # noqa: ANN201
    opts = Options()
    graph, _ = optimize(load_model(MODELS / "digits_cnn.onnx", opts), opts)
    return graph


def test_layer_filter_patterns() -> None:
    f = LayerFilter.parse("conv*,!conv2*")
    assert f.include == ("conv*",) and f.exclude == ("conv2*",)
    assert f.accepts(["conv1.weight"]) and not f.accepts(["conv2.weight"])
    assert not f.accepts(["fc.weight"])
    assert LayerFilter.parse(["!fc*"]).accepts(["conv1"])  # only excludes: all else in
    assert LayerFilter.parse("a|b;c").include == ("a", "b", "c")
    assert LayerFilter.parse(f.spec()) == f


def test_weight_layers_match_node_and_weight_names() -> None:
    g = digits()
    assert [layer.name for layer in weight_layers(g)] == ["/conv1/Conv", "/conv2/Conv",
                                                          "/fc/Gemm"]
    assert [layer.name for layer in weight_layers(g, "*conv*,!/conv1/*")] == ["/conv2/Conv"]
    assert [layer.weight.name for layer in weight_layers(g, "fc.weight")] == ["fc.weight"]


def test_global_and_per_layer_masks() -> None:
    rng = np.random.default_rng(0)
    weights = {"big": rng.normal(0, 1, (10, 10)), "small": rng.normal(0, 0.01, (5, 4))}
    per_layer = magnitude_masks(weights, 0.5, "layer")
    assert all(int((~m).sum()) == round(0.5 * m.size) for m in per_layer.values())
    glob = magnitude_masks(weights, 0.5, "global")
    assert int(sum((~m).sum() for m in glob.values())) == 60
    # the small-magnitude layer goes first, down to the per-layer cap (95 %)
    assert int(glob["small"].sum()) == 1
    uncapped = magnitude_masks(weights, 0.5, "global", max_layer_sparsity=1.0)
    assert not uncapped["small"].any()
    with pytest.raises(UsageError):
        magnitude_masks(weights, 1.0)
    with pytest.raises(UsageError):
        magnitude_masks(weights, 0.5, "row")


def test_ties_are_deterministic_and_masks_monotone() -> None:
    w = {"w": np.ones((4, 4))}
    m = magnitude_masks(w, 0.25)
    assert (~m["w"]).reshape(-1)[:4].all()  # ties: lower flat index first
    first = magnitude_masks({"w": np.arange(16.0).reshape(4, 4)}, 0.5)
    # later, the surviving weights shrink below the pruned ones: those stay pruned
    shuffled = {"w": np.arange(16.0)[::-1].reshape(4, 4).copy()}
    second = magnitude_masks(shuffled, 0.75, previous=first)
    assert not (second["w"] & ~first["w"]).any()
    assert int((~second["w"]).sum()) == 12


def test_apply_masks_errors() -> None:
    g = digits()
    with pytest.raises(UsageError, match="no such constant"):
        apply_masks(g, {"nope": np.ones(3, bool)})
    with pytest.raises(UsageError, match="shape"):
        apply_masks(g, {"fc.weight": np.ones(3, bool)})


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_prune_unstructured_pass(scope: str) -> None:
    g = digits()
    before_io = [(v.name, v.type) for v in g.inputs + g.outputs]
    p = PruneUnstructured(sparsity=0.8, scope=scope)
    assert p(g, PassContext(verify_each=True)).modified
    weights = layer_weights(weight_layers(g))
    assert abs(sparsity_of(weights.values()) - 0.8) < 0.01
    if scope == "layer":
        assert all(abs(sparsity_of([w]) - 0.8) < 0.02 for w in weights.values())
    assert [(v.name, v.type) for v in g.inputs + g.outputs] == before_io
    text = print_graph(g)
    assert not p(g, PassContext()).modified  # idempotent
    assert print_graph(g) == text


def test_pipeline_string_options() -> None:
    (p,) = parse_pipeline("prune-unstructured{sparsity=0.7,scope=layer,layers=*conv*|!*fc*}")
    assert isinstance(p, PruneUnstructured)
    assert (p.sparsity, p.scope) == (0.7, "layer")
    g = digits()
    p(g, PassContext(verify_each=True))
    fc = next(c for c in g.constants if c.name == "fc.weight")
    assert np.count_nonzero(fc.const) == fc.type.numel  # excluded
