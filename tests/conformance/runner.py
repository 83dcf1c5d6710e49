"""ONNX backend node-test conformance: compile each case with tinyc, build the C with the
host `cc`, run it on the case's inputs and compare with the case's expected outputs.

The cases come from the installed `onnx` package (`collect_testcases`, which generates the
models and data in memory; nothing is read from or written to a cache). Every case ends as
exactly one outcome:

- `passed`: every output matches (same shape and dtype; floats within the case's rtol/atol,
  NaN where NaN is expected; integers and bools exactly);
- `unsupported`: tinyc refused the model with an `UnsupportedError` before writing anything;
- `wrong`: the C ran but an output differs (the reason gives the largest error);
- `crashed`: anything else: a Python exception in tinyc (including a `ModelError` on these
  valid models), a C build failure, a non-zero exit or fault of the generated program, or a
  timeout.

Cases run in a process pool forked after collection, so workers share the cases without
pickling them. Builds use -O0: the point is correctness, and -O0 builds are several times
faster than -O2 for these one-node programs. Within one run, each kernel file tinyc copies
into an output directory is compiled once per distinct content (the key hashes its text,
the headers it includes, the compiler and the flags) and the object is linked into every
case that uses the same file; the cache lives in a temporary directory deleted at the end
of the run, so nothing carries over between runs.

The expectations file (`expectations.txt`) lists every case that does not pass, one line
each: `<case> <outcome> <reason>`; passing cases are absent.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from tinyc.backend.prefix import prefixed
from tinyc.compiler import Options, compile_graph, optimize
from tinyc.errors import UnsupportedError, VerifyError
from tinyc.frontend.onnx import import_model
from tinyc.harness import STRICT_FLAGS, build_host, run_host
from tinyc.ir import DType, Graph
from tinyc.ir.verify import verify
from tinyc.ops.cast import cast_defined

OUTCOMES = ("passed", "unsupported", "wrong", "crashed")
EXPECTATIONS = Path(__file__).resolve().parent / "expectations.txt"
#: seconds one case may take (compile, build and run) before it counts as crashed
CASE_TIMEOUT = 120
_REASON_MAX = 160


@dataclass(frozen=True)
class Case:
    """One backend node test: the model, its data sets and tolerances, and the op tested."""

    name: str
    op: str
    model: onnx.ModelProto
    data_sets: Sequence[tuple[Sequence[Any], Sequence[Any]]]
    rtol: float
    atol: float


@dataclass(frozen=True)
class Result:
    name: str
    op: str
    outcome: str
    reason: str = ""
    seconds: float = 0.0


def collect_cases() -> list[Case]:
    """Every node test case of the installed onnx, sorted by name. `collect_testcases` can
    run once per process (it registers names globally), so this is called once per run."""
    from onnx.backend.test.case import node as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            raw = node_cases.collect_testcases(None)
    originals: dict[str, onnx.NodeProto] = node_cases._existing_names  # name -> tested node
    cases = []
    for tc in raw:
        assert tc.model is not None and tc.data_sets is not None
        base = re.sub(r"_expanded.*$", "", tc.name)
        proto = originals.get(base)
        op = proto.op_type if proto is not None else tc.model.graph.node[0].op_type
        cases.append(Case(tc.name, op, tc.model, tc.data_sets, tc.rtol, tc.atol))
    return sorted(cases, key=lambda c: c.name)


def select(
    cases: Sequence[Case], pattern: str | None = None, sample: int | None = None, seed: int = 0
) -> list[Case]:
    """Cases whose name or op matches `pattern`, then a seeded random sample of them."""
    chosen = list(cases)
    if pattern:
        rx = re.compile(pattern)
        chosen = [c for c in chosen if rx.search(c.name) or rx.fullmatch(c.op)]
    if sample is not None and sample < len(chosen):
        picked = set(random.Random(seed).sample(range(len(chosen)), sample))
        chosen = [c for i, c in enumerate(chosen) if i in picked]
    return chosen


# -- one case -----------------------------------------------------------------------------


class _CaseTimeout(Exception):
    pass


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _CaseTimeout


def _short(text: str, tmp: str = "") -> str:
    """The first line of a message, without temporary paths, capped in length."""
    if tmp:
        text = text.replace(tmp, "<tmp>")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    line = " ".join(lines[:1]) if lines else ""
    return line if len(line) <= _REASON_MAX else line[: _REASON_MAX - 3] + "..."


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, onnx.TensorProto):
        return numpy_helper.to_array(x)
    if isinstance(x, np.ndarray | np.generic):
        return np.asarray(x)
    raise TypeError(f"non-tensor test data ({type(x).__name__})")


_LOWP = {d.np.name: d for d in DType if d.is_lowp}


def compare(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> str:
    """'' when `got` matches `want` as the ONNX backend runner requires, else why not."""
    if got.shape != want.shape:
        return f"shape {list(got.shape)} != expected {list(want.shape)}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != expected {want.dtype}"
    low = _LOWP.get(want.dtype.name)
    if low is not None:  # ml_dtypes: compare the values, floats with NaN matching
        wide = np.float32 if low.is_float else np.int64
        got, want = got.astype(wide), want.astype(wide)
    if want.dtype.kind not in "fc":
        bad = got != want
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            first = f"first at {i}: {got.flat[i]} != {want.flat[i]}"
            return f"{int(bad.sum())} elements differ ({first})"
        return ""
    g, w = got.astype(np.float64), want.astype(np.float64)
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    if (nan_g != nan_w).any():
        return f"{int((nan_g != nan_w).sum())} NaN mismatches"
    with np.errstate(invalid="ignore"):
        same = (g == w) | nan_w
        err = np.where(same, 0.0, np.abs(g - w))
    bad = err > atol + rtol * np.abs(np.where(np.isfinite(w), w, 0.0))
    if bad.any():
        worst = float(np.nanmax(err))
        return f"max abs error {worst:.3g} ({int(bad.sum())} of {bad.size} elements)"
    return ""


def _defined_elements(case: Case, graph: Graph, feeds: list[np.ndarray]) -> np.ndarray | None:
    """For a Cast of floats to an integer type, the elements whose result ONNX defines
    (`tinyc.ops.cast.cast_defined`); None for every other case."""
    if case.op not in ("Cast", "CastLike") or len(graph.outputs) != 1 or not feeds:
        return None
    return cast_defined(feeds[0], graph.outputs[0].dtype)


def _feeds(case: Case, graph: Graph, inputs: Sequence[Any]) -> list[np.ndarray]:
    init = {t.name for t in case.model.graph.initializer}
    names = [vi.name for vi in case.model.graph.input if vi.name not in init]
    by_name = {n: _as_array(x) for n, x in zip(names, inputs, strict=False)}
    return [by_name[v.name] for v in graph.inputs]


_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', re.M)


def _header_closure(out: Path, name: str) -> list[str]:
    """`name` and every file of `out` it includes, directly or not, sorted."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or not (out / current).is_file():
            continue
        seen.add(current)
        todo.extend(_INCLUDE.findall((out / current).read_text()))
    return sorted(seen)


def prebuild_kernels(
    out: Path, cname: str, cache: Path, cc: str | None, flags: Sequence[str]
) -> list[str]:
    """Compile each kernel file of `out` (NAME_tinyc_*.c) into `cache` unless an object of the
    same content is there already; remove the source from `out` and return the objects,
    for `build_host` to link. Raises VerifyError when a kernel file does not compile."""
    compiler = cc or os.environ.get("CC", "cc")
    objects = []
    for src in sorted(out.glob(f"{prefixed(cname, 'tinyc_')}*.c")):
        key = hashlib.sha256(repr((compiler, list(STRICT_FLAGS), list(flags))).encode())
        for name in _header_closure(out, src.name):
            key.update(name.encode() + b"\0" + (out / name).read_bytes() + b"\0")
        obj = cache / f"{src.stem}-{key.hexdigest()[:20]}.o"
        if not obj.exists():
            tmp = cache / f"{obj.stem}.{os.getpid()}.tmp.o"
            cmd = [compiler, *STRICT_FLAGS, *flags, "-I", str(out), "-c", str(src), "-o", str(tmp)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise VerifyError(f"C build failed:\n{proc.stderr.strip()}")
            os.replace(tmp, obj)
        src.unlink()
        objects.append(str(obj))
    return objects


def run_case(
    case: Case,
    cc: str | None = None,
    flags: Sequence[str] = ("-O0",),
    kernel_cache: Path | None = None,
) -> Result:
    """Compile, build, run and compare one case; never raises. With `kernel_cache`, kernel
    files are compiled once per content into that directory (see `prebuild_kernels`)."""
    start = time.monotonic()

    def done(outcome: str, reason: str = "") -> Result:
        return Result(case.name, case.op, outcome, reason, time.monotonic() - start)

    options = Options(name="model")
    with tempfile.TemporaryDirectory(prefix="tinyc-conf-") as tmp:
        try:
            try:
                graph = import_model(case.model, {}, name="model")
                verify(graph)
                graph, _ = optimize(graph, options)
                compiled = compile_graph(graph, options, "model")
            except UnsupportedError as exc:
                return done("unsupported", _short(str(exc)))
            out = Path(tmp)
            compiled.code.write(out)
            try:
                objects = (prebuild_kernels(out, compiled.code.name, kernel_cache, cc, flags)
                           if kernel_cache else [])
                exe = build_host(out, graph, compiled.code.name, [*flags, *objects], cc=cc)
            except VerifyError as exc:
                return done("crashed", "C build failed: " + _c_error(str(exc), tmp))
            worst = ""
            for inputs, expected in case.data_sets:
                try:
                    outputs = run_host(exe, graph, _feeds(case, graph, inputs))
                except VerifyError as exc:
                    return done("crashed", _short(str(exc), tmp))
                if len(outputs) != len(expected):
                    return done("crashed", f"{len(outputs)} outputs, expected {len(expected)}")
                defined = _defined_elements(case, graph, _feeds(case, graph, inputs))
                for i, (got, want) in enumerate(zip(outputs, expected, strict=True)):
                    want = _as_array(want)
                    if defined is not None and got.shape == want.shape:
                        got = np.where(defined, got, want)  # undefined by the spec
                    why = compare(got, want, case.rtol, case.atol)
                    if why and not worst:
                        worst = f"output {i}: {why}"
            return done("wrong", worst) if worst else done("passed")
        except _CaseTimeout:
            return done("crashed", f"timeout after {CASE_TIMEOUT}s")
        except Exception as exc:  # everything else is a tinyc bug: report, keep going
            where = traceback.extract_tb(exc.__traceback__)[-1]
            loc = f"{Path(where.filename).name}:{where.lineno}"
            return done("crashed", _short(f"{type(exc).__name__} at {loc}: {exc}", tmp))


def _c_error(text: str, tmp: str) -> str:
    for line in text.splitlines():
        if "error" in line:
            return _short(line, tmp)
    return _short(text, tmp)


# -- many cases ---------------------------------------------------------------------------

_POOL_CASES: list[Case] = []
_POOL_CC: str | None = None
_POOL_CACHE: Path | None = None


def _run_index(index: int) -> Result:
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(CASE_TIMEOUT)
    try:
        return run_case(_POOL_CASES[index], cc=_POOL_CC, kernel_cache=_POOL_CACHE)
    finally:
        signal.alarm(0)


def run_cases(
    cases: Sequence[Case],
    jobs: int = 1,
    cc: str | None = None,
    progress: Callable[[Result, int, int], None] | None = None,
) -> list[Result]:
    """Run `cases` on `jobs` processes; results come back in the order of `cases`."""
    global _POOL_CASES, _POOL_CC, _POOL_CACHE
    _POOL_CASES, _POOL_CC = list(cases), cc
    _POOL_CACHE = Path(tempfile.mkdtemp(prefix="tinyc-conf-kernels-"))
    results: dict[int, Result] = {}
    # long-running op families first, so the pool does not end on one slow straggler
    order = sorted(range(len(cases)), key=lambda i: -len(cases[i].model.SerializeToString()))
    try:
        if jobs <= 1:
            for n, i in enumerate(order):
                results[i] = _run_index(i)
                if progress:
                    progress(results[i], n + 1, len(cases))
        else:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(jobs, maxtasksperchild=200) as pool:
                it = pool.imap_unordered(_indexed, order, chunksize=1)
                for n, (i, res) in enumerate(it):
                    results[i] = res
                    if progress:
                        progress(res, n + 1, len(cases))
    finally:
        shutil.rmtree(_POOL_CACHE, ignore_errors=True)
        _POOL_CASES, _POOL_CC, _POOL_CACHE = [], None, None
    return [results[i] for i in range(len(cases))]


def _indexed(index: int) -> tuple[int, Result]:
    return index, _run_index(index)


# -- expectations and reports -------------------------------------------------------------


def load_expectations(path: Path = EXPECTATIONS) -> dict[str, tuple[str, str]]:
    """case name -> (outcome, reason) for every case expected not to pass."""
    out: dict[str, tuple[str, str]] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, outcome, *reason = line.split(" ", 2)
        if outcome not in OUTCOMES:
            raise ValueError(f"{path}: bad outcome in line: {line}")
        out[name] = (outcome, reason[0] if reason else "")
    return out


def write_expectations(
    results: Iterable[Result],
    path: Path = EXPECTATIONS,
    keep: dict[str, tuple[str, str]] | None = None,
) -> None:
    """Rewrite the file from `results`; entries in `keep` for cases not run stay as they are."""
    entries = dict(keep or {})
    for r in results:
        entries.pop(r.name, None)
        if r.outcome != "passed":
            entries[r.name] = (r.outcome, r.reason)
    header = [
        "# ONNX backend node tests that tinyc does not pass: <case> <outcome> <reason>.",
        "# Passing cases are absent. Regenerate with:",
        "#   python scripts/conformance.py --update-expectations",
    ]
    body = [f"{n} {o} {r}".rstrip() for n, (o, r) in sorted(entries.items())]
    path.write_text("\n".join(header + body) + "\n")


def expected_outcome(name: str, expectations: dict[str, tuple[str, str]]) -> str:
    return expectations.get(name, ("passed", ""))[0]


def summary_table(results: Sequence[Result]) -> str:
    """Counts overall and per op, as a fixed-width text table."""
    per_op: dict[str, Counter[str]] = {}
    for r in results:
        per_op.setdefault(r.op, Counter())[r.outcome] += 1
    total: Counter[str] = Counter(r.outcome for r in results)
    head = f"{'op':<28} {'cases':>6} " + " ".join(f"{o:>11}" for o in OUTCOMES)

    def row(label: str, c: Counter[str]) -> str:
        return f"{label:<28} {sum(c.values()):>6} " + " ".join(f"{c[o]:>11}" for o in OUTCOMES)

    lines = [head, "-" * len(head)]
    lines += [row(op, per_op[op]) for op in sorted(per_op)]
    lines += ["-" * len(head), row("TOTAL", total)]
    return "\n".join(lines)


def main_progress(result: Result, n: int, total: int) -> None:
    """Progress callback for the CLI: one line per non-passing case, counts every 100."""
    if result.outcome in ("crashed", "wrong"):
        print(f"  {result.outcome:<8} {result.name}: {result.reason}", file=sys.stderr)
    if n % 100 == 0 or n == total:
        print(f"[{n}/{total}]", file=sys.stderr)
