"""ONNX backend node-test conformance run.

Compiles every node test case of the installed onnx package with tinyc, builds and runs
the C on the host, and prints a summary table (overall and per op). Examples:

    python scripts/conformance.py                       # the full run, all cores
    python scripts/conformance.py --sample 150 --seed 0 # what CI runs
    python scripts/conformance.py --filter 'Reduce.*' -v
    python scripts/conformance.py --update-expectations # after fixing or adding ops

Exit status: 0 when every case run has the outcome recorded in
tests/conformance/expectations.txt, 1 otherwise (or always 0 with --update-expectations).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "conformance"))

import runner  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, help="run a random sample of N cases")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    ap.add_argument("--filter", help="regex on the case name, or matching the whole op name")
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cc", help="C compiler (default: $CC or cc)")
    ap.add_argument(
        "--update-expectations",
        action="store_true",
        help="rewrite tests/conformance/expectations.txt for the cases run",
    )
    ap.add_argument("--json", type=Path, help="also write every result to this JSON file")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every non-passing case")
    args = ap.parse_args(argv)

    start = time.monotonic()
    cases = runner.select(runner.collect_cases(), args.filter, args.sample, args.seed)
    collected = time.monotonic() - start
    print(f"{len(cases)} cases (collected in {collected:.0f}s), {args.jobs} jobs", file=sys.stderr)
    results = runner.run_cases(cases, args.jobs, args.cc, runner.main_progress)
    elapsed = time.monotonic() - start

    print(runner.summary_table(results))
    print(f"\n{len(results)} cases in {elapsed:.0f}s")
    if args.verbose:
        for r in results:
            if r.outcome != "passed":
                print(f"{r.name} {r.outcome} {r.reason}")
    if args.json:
        rows = [r.__dict__ for r in results]
        args.json.write_text(json.dumps(rows, indent=1) + "\n")

    expectations = runner.load_expectations()
    if args.update_expectations:
        runner.write_expectations(results, keep=expectations)
        print(f"updated {runner.EXPECTATIONS}")
        return 0
    changed = [
        (r, runner.expected_outcome(r.name, expectations))
        for r in results
        if r.outcome != runner.expected_outcome(r.name, expectations)
    ]
    for r, was in changed:
        print(f"CHANGED {r.name}: expected {was}, got {r.outcome} {r.reason}".rstrip())
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
