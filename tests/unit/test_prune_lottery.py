"""Iterative magnitude pruning with rewinding, with a fake training callback that records
what tinyc hands it: the schedule hits every target, masks only grow, every round starts
from the rewind point, masks are enforced on what the callback returns; one-shot, mask
files, and sensitivity analysis and its report (table, SVG, JSON)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinyc.compiler import Options, load_model, optimize
from tinyc.errors import UsageError
from tinyc.interp import run_graph
from tinyc.prune.lottery import (
    apply_state,
    graph_state,
    iterative_magnitude_pruning,
    load_masks,
    one_shot,
    save_masks,
    schedule,
)
from tinyc.prune.report import sensitivity_svg, sensitivity_table
from tinyc.prune.select import sparsity_of, weight_layers
from tinyc.prune.sensitivity import ALL_LAYERS, rebatch, samples, sensitivity

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


def digits():  # noqa: ANN201
    opts = Options()
    graph, _ = optimize(load_model(MODELS / "digits_cnn.onnx", opts), opts)
    return graph


def test_schedule() -> None:
    steps = schedule([0.5, 0.8, 0.9], rate=0.2)
    assert steps == sorted(steps) and {0.5, 0.8, 0.9} <= set(steps)
    assert len(steps) == 10 and abs(steps[0] - 0.2) < 0.02
    survive = [1.0] + [1 - s for s in steps]
    assert all(0.15 < 1 - b / a < 0.25 for a, b in zip(survive, survive[1:], strict=False))
    assert schedule([0.3], rate=0.5) == [0.3]
    with pytest.raises(UsageError):
        schedule([0.5], rate=1.0)


def test_imp_rewinds_and_enforces_masks() -> None:
    graph = digits()
    names = [layer.weight.name for layer in weight_layers(graph)]
    rewind = {n: np.full_like(graph_state(graph, [n])[n], 0.5) for n in names}
    seen: list[tuple[dict, dict]] = []

    def train(state: dict, masks: dict) -> dict:
        seen.append(({k: v.copy() for k, v in state.items()}, masks))
        # "training" moves every weight, including pruned ones (tinyc re-masks them)
        return {k: v + np.float32(0.01) * (1 + np.arange(v.size).reshape(v.shape) % 7)
                for k, v in state.items()}

    result = iterative_magnitude_pruning(graph, train, [0.5, 0.8], rewind=rewind, rate=0.3)
    assert [r.sparsity for r in result.rounds] == [0.5, 0.8]
    assert len(seen) == len(schedule([0.5, 0.8], 0.3))
    previous = None
    for state, masks in seen:
        for n in names:  # started from the rewind values, pruned ones zeroed
            np.testing.assert_array_equal(state[n], np.where(masks[n], 0.5, 0))
            if previous is not None:
                assert not (masks[n] & ~previous[n]).any()  # masks only grow
        previous = masks
    r80 = result.at(0.8)
    assert abs(sparsity_of(r80.state[n] for n in names) - 0.8) < 0.01
    assert all(not r80.state[n][~r80.masks[n]].any() for n in names)
    g = apply_state(graph, r80.state)
    assert abs(sparsity_of(layer.weight.const for layer in weight_layers(g)) - 0.8) < 0.01
    assert weight_layers(graph)[0].weight.const.all()  # the input graph is untouched


def test_one_shot_and_mask_files(tmp_path: Path) -> None:
    graph = digits()
    r = one_shot(graph, lambda s, m: s, 0.7, scope="layer", evaluate=lambda s: 1.0)
    assert r.metric == 1.0
    assert all(abs(1 - m.mean() - 0.7) < 0.02 for m in r.masks.values())
    save_masks(tmp_path / "m.npz", r.masks)
    back = load_masks(tmp_path / "m.npz")
    assert back.keys() == r.masks.keys()
    assert all(np.array_equal(back[k], r.masks[k]) for k in back)
    with pytest.raises(UsageError):
        apply_state(graph, {"nope": np.zeros(1)})


def test_rebatch_matches_single_runs() -> None:
    graph = digits()
    x = np.load(MODELS / "digits_test_x.npy")[:5]
    batched = rebatch(graph, 5)
    assert batched is not None and batched.inputs[0].shape == (5, 1, 8, 8)
    (many,) = run_graph(batched, {"input": x})
    for i in range(5):
        (one,) = run_graph(graph, {"input": x[i : i + 1]})
        np.testing.assert_allclose(many[i], one[0], rtol=1e-5, atol=1e-6)


def test_sensitivity_and_report(tmp_path: Path) -> None:
    graph = digits()
    x = np.load(MODELS / "digits_test_x.npy")
    y = np.load(MODELS / "digits_test_y.npy")
    assert len(samples(graph, x[:3])) == 3
    res = sensitivity(graph, x, y, sparsities=[0.0, 0.5, 0.95], limit=60)
    assert list(res.metric) == ["/conv1/Conv", "/conv2/Conv", "/fc/Gemm", ALL_LAYERS]
    assert all(v[0] == res.baseline for v in res.metric.values())
    assert res.baseline > 0.9 and res.metric[ALL_LAYERS][-1] < res.baseline
    text = sensitivity_table(res)
    assert "/conv2/Conv" in text and "95%" in text
    svg = tmp_path / "s.svg"
    sensitivity_svg(res, svg)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 4
    json.dumps(res.as_dict())
    chans = sensitivity(graph, x, y, kind="channels", sparsities=[0.0, 0.5], limit=30)
    assert "/fc/Gemm" not in chans.metric  # its channels are the graph output
    with pytest.raises(UsageError):
        sensitivity(graph, x[:5], y[:4])
