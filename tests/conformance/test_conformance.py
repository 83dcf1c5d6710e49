"""ONNX backend node-test conformance, sampled: a fixed-seed random sample of the cases the
installed onnx generates runs through tinyc, the host cc and the generated program, and
each outcome must equal the one recorded in expectations.txt (absent means passed).

The test fails when a case regresses and also when a case starts passing (or fails
differently) without the file being updated: run
`python scripts/conformance.py --update-expectations` and commit the file. The full run is
`python scripts/conformance.py` (see the README)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import runner  # noqa: E402

SAMPLE = 150
SEED = 0


def test_sampled_cases_match_expectations() -> None:
    cases = runner.select(runner.collect_cases(), sample=SAMPLE, seed=SEED)
    assert len(cases) == SAMPLE
    results = runner.run_cases(cases, jobs=os.cpu_count() or 1)
    expectations = runner.load_expectations()
    changed = [
        (r, runner.expected_outcome(r.name, expectations))
        for r in results
        if r.outcome != runner.expected_outcome(r.name, expectations)
    ]
    lines = [f"{r.name}: expected {was}, got {r.outcome} {r.reason}" for r, was in changed]
    assert not changed, (
        "conformance outcomes changed (fix the regression, or run "
        "`python scripts/conformance.py --update-expectations` and commit "
        "tests/conformance/expectations.txt):\n" + "\n".join(lines)
    )


def test_expectations_file_is_well_formed() -> None:
    entries = runner.load_expectations()
    assert entries, "expectations.txt lists no case"
    assert all(outcome != "passed" for outcome, _ in entries.values())
    text = runner.EXPECTATIONS.read_text().splitlines()
    names = [line.split(" ", 1)[0] for line in text if line and not line.startswith("#")]
    assert names == sorted(names), "expectations.txt must stay sorted (use --update-expectations)"


def test_compare_follows_the_backend_rules() -> None:
    f32 = np.float32
    same = np.array([1.0, np.nan, np.inf], f32)
    assert runner.compare(same.copy(), same, 1e-3, 1e-7) == ""
    assert "NaN" in runner.compare(np.array([1, 2, 3], f32), same, 1e-3, 1e-7)
    assert runner.compare(np.array([1.0005], f32), np.array([1.0], f32), 1e-3, 1e-7) == ""
    assert "max abs error" in runner.compare(np.array([1.01], f32), np.array([1.0], f32),
                                             1e-3, 1e-7)
    assert "dtype" in runner.compare(np.array([1], np.int32), np.array([1], np.int64), 0, 0)
    assert "shape" in runner.compare(np.zeros((2, 1), f32), np.zeros(2, f32), 0, 0)
    assert "differ" in runner.compare(np.array([1, 2]), np.array([1, 3]), 1.0, 1.0)
