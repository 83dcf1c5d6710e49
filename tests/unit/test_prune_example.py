"""A reduced run of examples/prune_digits.py (two epochs on 400 training images per
training, 20 test images, 80 % only): the lottery-ticket and one-shot paths train through
the callback, compile to C, run on the host and report flash within the done-when bound."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prune_digits.py"


def load_example():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("prune_digits", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["prune_digits"] = module
    spec.loader.exec_module(module)
    return module


def test_reduced_prune_digits() -> None:
    ex = load_example()
    exp = ex.run_experiment(epochs=2, targets=(0.8,), rate=0.5, limit=20, mcu=False,
                            log=lambda _: None, train_limit=400)
    names = [m.name for m in exp.rows]
    assert names == ["dense", "lottery 80%", "one-shot 80%"]
    dense = exp.rows[0]
    assert dense.accuracy > 0.5 and dense.sparse_layers == 0
    for m in exp.rows[1:]:
        assert abs(m.sparsity - 0.8) < 0.01
        assert m.layer_bytes <= 0.4 * dense.layer_bytes
        assert m.macs < 0.5 * dense.macs and m.sparse_layers >= 2
    assert set(exp.masks) == {"lottery_80", "oneshot_80"}
    assert "lottery 80%" in ex.report(exp)
