"""Hostile-input fuzz campaign (issue 12): run N seeded cases of tests/fuzz through tinyc.

Prints cases per kind, outcome counts and violation counts, and writes every violating case
(model files, command.sh) plus results.jsonl to --findings. Examples:

    python scripts/fuzz_campaign.py                         # 3,000 cases, 2 jobs, seed 0
    python scripts/fuzz_campaign.py -n 300 --kinds names,outdir --seed 7
    python scripts/fuzz_campaign.py -n 50 --launcher exec   # the installed program itself
    python scripts/fuzz_campaign.py --case names-12-25       # one case, by its ident

Exit status: 0 when no case broke a promise, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz import cases, runner  # noqa: E402

OUTCOMES = ("exit 0, C built and ran clean", "exit 0, C built (too big to run)",
            "exit 0, C fails checks", "exit 0, C not checked (OUT not a directory, or /)",
            "exit 1", "exit 2", "exit 3", "exit 4", "exit 5", "exit 70", "other exit", "signal",
            "hang")


def _outcome_column(outcome: str) -> str:
    if outcome.startswith("signal"):
        return "signal"
    return outcome if outcome in OUTCOMES else "other exit"


def _table(title: str, rows: list[str], columns: list[str],
           counts: dict[tuple[str, str], int]) -> str:
    width = max(len(r) for r in [*rows, title])
    head = f"{title:<{width}}  " + "  ".join(f"{c:>{max(len(c), 5)}}" for c in columns)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r:<{width}}  " + "  ".join(
            f"{counts.get((r, c), 0):>{max(len(c), 5)}}" for c in columns))
    return "\n".join(lines)


def report(results: list[runner.Result], kinds: list[str]) -> str:
    outcome_counts: dict[tuple[str, str], int] = collections.Counter()
    violation_counts: dict[tuple[str, str], int] = collections.Counter()
    for r in results:
        column = _outcome_column(r.outcome)
        for row in (r.case.kind, "total"):
            outcome_counts[(row, "cases")] += 1
            outcome_counts[(row, column)] += 1
        for category in {c for c, _ in r.violations}:
            for col in (r.case.kind, "total"):
                violation_counts[(category, col)] += 1
        if r.violations:
            for col in (r.case.kind, "total"):
                violation_counts[("any violation", col)] += 1
    used = [c for c in OUTCOMES if outcome_counts.get(("total", c))]
    outcome_table = _table("kind", [*kinds, "total"], ["cases", *used], outcome_counts)
    categories = [*runner.VIOLATIONS, "any violation"]
    violation_table = _table("violation (cases)", categories, [*kinds, "total"],
                             violation_counts)
    return f"{outcome_table}\n\n{violation_table}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--cases", type=int, default=3000, help="number of cases (3000)")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default=",".join(cases.KINDS),
                    help=f"comma-separated, of {', '.join(cases.KINDS)}")
    ap.add_argument("--case", action="append", default=[], metavar="KIND-SEED-INDEX",
                    help="run just this case (repeatable); -n, --seed and --kinds are ignored")
    ap.add_argument("--launcher", choices=("fork", "exec"), default="fork",
                    help="fork: a prewarmed fork server runs tinyc.cli.main in a fresh child "
                    "(fast); exec: the installed tinyc program")
    ap.add_argument("--timeout", type=float, default=runner.TIMEOUT,
                    help="seconds before a tinyc run counts as a hang")
    ap.add_argument("--findings", type=Path, default=Path("fuzz-findings"),
                    help="where violating cases and results.jsonl go")
    args = ap.parse_args(argv)
    kinds = args.kinds.split(",")
    unknown = sorted(set(kinds) - set(cases.KINDS))
    if unknown:
        ap.error(f"unknown kind(s): {', '.join(unknown)}")
    selected = cases.sample(args.seed, args.cases, tuple(kinds))
    if args.case:
        try:
            selected = [cases.make_case(*cases.parse_ident(c)) for c in args.case]
        except ValueError as exc:
            ap.error(str(exc))
        kinds = sorted({c.kind for c in selected})
    args.findings.mkdir(parents=True, exist_ok=True)
    results: list[runner.Result] = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinyc-fuzz-") as tmp, \
            open(args.findings / "results.jsonl", "w") as log:
        for r in runner.run_cases(selected, args.jobs, Path(tmp), args.launcher, args.timeout):
            results.append(r)
            log.write(json.dumps({"ident": r.case.ident, "kind": r.case.kind,
                                  "what": r.case.what, "outcome": r.outcome,
                                  "seconds": round(r.run.seconds, 2),
                                  "command": r.case.command(),
                                  "violations": r.violations}) + "\n")
            log.flush()
            if r.violations:
                runner.save_case(r, args.findings)
                if args.case:
                    print(r.report())
            if len(results) % 100 == 0:
                print(f"{len(results)}/{len(selected)} cases, "
                      f"{sum(bool(x.violations) for x in results)} violating, "
                      f"{time.monotonic() - start:.0f} s", flush=True)
    print()
    print(report(results, kinds))
    print(f"\n{len(results)} cases in {time.monotonic() - start:.0f} s, seed {args.seed}, "
          f"{args.jobs} jobs; violating cases in {args.findings}/")
    return 1 if any(r.violations for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
