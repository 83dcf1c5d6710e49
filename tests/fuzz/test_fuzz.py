"""The hostile-input fuzz suite (issue 12): a seeded, bounded sample of every case kind runs
through a real tinyc process (tests/fuzz/runner.py judges it), and no case may break a
promise. The full campaign is `python scripts/fuzz_campaign.py` (3,000 cases).

The sample is split into chunks so that pytest-xdist spreads it over its workers; on an
idle 2-core machine the whole sample takes under two minutes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz import cases, runner
from tests.fuzz.launch import ForkLauncher

SEED = 12
CASES_PER_KIND = 50
CHUNKS = 5


@pytest.fixture(scope="module")
def fork_launcher() -> Iterator[ForkLauncher]:
    launcher = ForkLauncher()
    yield launcher
    launcher.close()


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("kind", cases.KINDS)
def test_hostile_inputs_break_no_promise(kind: str, chunk: int, fork_launcher: ForkLauncher,
                                         tmp_path: Path) -> None:
    violating = []
    for index in range(chunk, CASES_PER_KIND, CHUNKS):
        result = runner.run_case(cases.make_case(kind, SEED, index), fork_launcher,
                                 tmp_path / "case")
        if result.violations:
            violating.append(result.report())
    assert not violating, (
        f"{len(violating)} of {CASES_PER_KIND // CHUNKS} {kind} cases broke a promise "
        "(rerun one with `python scripts/fuzz_campaign.py --case IDENT`):\n"
        + "\n".join(violating)
    )
