"""Run one fuzz case as a real tinyc process and judge what it did.

A case runs in its own directory: `work/` (the cwd: the model, OUT and anything beside OUT)
and `tmp/` (TMPDIR). Both are snapshotted (names, bytes, modes, link targets) before and
after. The promises checked are issue 12's: exit code 0-5, never 70, no signal, no hang; a
failure prints exactly one line `tinyc: error: ...` (after the progress lines of the slow
steps that ran, tinyc.progress) with no raw control, ANSI or bidi characters and leaves OUT
and its surroundings byte for byte as they were; a success leaves the user's files in OUT
alone, leaves no earlier tinyc output behind, gives a new OUT the umask's mode, writes
nothing beside OUT, prints no warning on stderr, and its C passes tests/fuzz/cbuild.py (header,
strict build, sanitizers).
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shlex
import shutil
import stat
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from tests.clirun import strip_progress
from tests.fuzz import cbuild
from tests.fuzz.cases import Case
from tests.fuzz.launch import ExecLauncher, ForkLauncher, Run, launcher

EXIT70 = "exit 70"
BAD_EXIT = "exit outside 0-5"
SIGNAL = "signal"
HANG = "hang"
MULTILINE = "multi-line error"
BAD_FORMAT = "error not `tinyc: error: ...`"
UNSAFE_TEXT = "raw control/ANSI/bidi in error"
LEFT_BEHIND = "files left behind"
OUT_CHANGED = "OUT changed on failure"
OUT_WRONG = "OUT wrong after success"
OUT_MODE = "new OUT ignores umask"
STDERR_ON_SUCCESS = "warning on stderr at exit 0"
STRICT_BUILD = "strict-build failure"
SANITIZER = "sanitizer failure"
HEADER = "header injection"
SIZES = "header sizes != model"
TOO_BIG = "size beyond a 32-bit target"
ACCEPTED = "accepted what it must refuse"
VIOLATIONS = (EXIT70, BAD_EXIT, SIGNAL, HANG, MULTILINE, BAD_FORMAT, UNSAFE_TEXT, LEFT_BEHIND,
              OUT_CHANGED, OUT_WRONG, OUT_MODE, STDERR_ON_SUCCESS, ACCEPTED, STRICT_BUILD,
              SANITIZER, HEADER, SIZES, TOO_BIG)
#: files a user keeps in OUT; a compile must leave them as they are
FOREIGN = {"README.txt": b"my notes\n", "fuzz_user.c": b"int fuzz_user(void) { return 7; }\n",
           "keep/data.bin": b"\x00\x01\x02"}
#: what a `-o /` run may have written into `/` and the runner removes again
ROOT_LEFTOVER = re.compile(r"(fuzzrootprobe\w*\.(c|h|mk)|tinyc_\w+\.[ch]|\.\.\w+|\.tinyc.*|"
                           r"report\.(html|json)|sparsity\.json|CMakeLists\.txt)$")
UMASK_MODE = 0o755
TIMEOUT = 60.0

Launcher = ForkLauncher | ExecLauncher


@dataclass
class Result:
    case: Case
    run: Run
    stderr: bytes
    violations: list[tuple[str, str]] = field(default_factory=list)
    checked_c: bool = False  # exit 0 and OUT a directory: its C was judged
    ran_c: bool = False

    @property
    def outcome(self) -> str:
        if self.run.status == "timeout":
            return "hang"
        if self.run.status == "signal":
            return f"signal {self.run.code}"
        if self.run.code == 0:
            if any(v[0] in (STRICT_BUILD, SANITIZER, HEADER, SIZES, TOO_BIG)
                   for v in self.violations):
                return "exit 0, C fails checks"
            if not self.checked_c:
                return "exit 0, C not checked (OUT not a directory, or /)"
            if self.ran_c:
                return "exit 0, C built and ran clean"
            return "exit 0, C built (too big to run)"
        return f"exit {self.run.code}"

    def report(self) -> str:
        lines = [f"{self.case.ident} [{self.case.what}] {self.outcome}: {self.case.command()}"]
        lines += [f"    {category}: {reason}" for category, reason in self.violations]
        return "\n".join(lines)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root`: kind, mode and content hash or link target."""
    entries: dict[str, tuple] = {}
    if not root.is_dir() or root.is_symlink():
        return entries
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                entries[rel] = ("link", mode, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                entries[rel] = ("dir", mode)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    entries[rel] = ("file", mode, hashlib.sha256(f.read()).hexdigest())
            else:
                entries[rel] = ("other", mode)
    return entries


def _diff(before: dict, after: dict) -> list[str]:
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return [f"{'+' if k not in before else '-' if k not in after else '~'}{k}" for k in changed]


def expected_inputs(model: Path) -> list[int | None] | None:
    """Element counts of the model's run-time inputs (None for a symbolic one), or None when
    onnx cannot read the file. An input with an initializer of its name is a constant (tinyc
    compiles it so, and says so), not a run-time input."""
    try:
        graph = onnx.load(str(model), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - a mutant onnx cannot read: nothing to compare with
        return None
    constants = {t.name for t in graph.initializer}
    counts: list[int | None] = []
    for value in (v for v in graph.input if v.name not in constants):
        dims = value.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims) and value.type.tensor_type.HasField("shape"):
            n = 1
            for d in dims:
                n *= d.dim_value
            counts.append(n)
        else:
            counts.append(None)
    return counts


def _write_files(work: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _cname(stdout: bytes, out: Path) -> str | None:
    m = re.search(rb"/([A-Za-z_]\w*)\.c: arena", stdout)
    if m:
        return m.group(1).decode()
    headers = [h for h in out.glob("*.h") if b"_run" in h.read_bytes()] if out.is_dir() else []
    return headers[0].stem if len(headers) == 1 else None


def _error_problems(stderr: bytes, code: int) -> list[tuple[str, str]]:
    """The error must be one `tinyc: error: ...` line, after nothing but the progress lines
    of the slow steps that ran before it (tinyc.progress)."""
    problems = []
    text = strip_progress(stderr.decode("utf-8", "replace"))
    lines = text.split("\n")
    if not (len(lines) == 2 and lines[1] == ""):
        problems.append((MULTILINE, f"{len(lines) - 1} lines: {text[:300]!r}"))
    elif code != 70 and not text.startswith("tinyc: error: "):
        problems.append((BAD_FORMAT, f"{text[:200]!r}"))
    try:
        stderr.decode("utf-8")
    except UnicodeDecodeError:
        problems.append((UNSAFE_TEXT, f"not UTF-8: {stderr[:200]!r}"))
    raw = sorted({c for c in text if c != "\n"  # a newline is a second line, counted above
                  and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp")})
    if raw:
        problems.append((UNSAFE_TEXT, f"raw {''.join(raw)!r} in {text[:200]!r}"))
    return problems


def _prepare(case: Case, work: Path, out: Path, launcher: Launcher, root: Path) -> list[str]:
    """Set OUT up as the case says; returns the names of the foreign files put in OUT."""
    if case.prepare == "file":
        out.write_bytes(b"not a directory\n")
    elif case.prepare == "dangling":
        out.symlink_to("gone/nowhere")
    elif case.prepare in ("foreign", "previous", "readonly"):
        if case.previous_argv:
            logs = root / "previous"
            logs.mkdir()
            launcher.run(case.previous_argv, work, logs / "stdout", logs / "stderr",
                         root / "tmp", TIMEOUT)
            if not out.is_dir():  # the earlier run failed: OUT holds the foreign files only
                out.mkdir()
        else:
            out.mkdir()
        _write_files(out, FOREIGN)
        (out / "link").symlink_to("README.txt")
        if case.prepare == "readonly":
            out.chmod(0o555)
        return [*FOREIGN, "keep", "link"]
    return []


def _root_listing() -> set[str]:
    return set(os.listdir("/"))


def _clean_root(before: set[str]) -> list[str]:
    """Removes what a `-o /` run added to `/` (only names tinyc writes); returns all it added."""
    added = sorted(_root_listing() - before)
    for name in added:
        if ROOT_LEFTOVER.match(name):
            path = Path("/") / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return added


def run_case(case: Case, launcher: Launcher, root: Path, timeout: float = TIMEOUT) -> Result:
    """Runs `case` in `root` (emptied first) and returns the judged result."""
    shutil.rmtree(root, ignore_errors=True)
    work, tmp = root / "work", root / "tmp"
    work.mkdir(parents=True)
    tmp.mkdir()
    _write_files(work, case.files)
    out = Path("/") if case.prepare == "root" else Path(os.path.normpath(work / case.out))
    foreign = _prepare(case, work, out, launcher, root)
    root_before = _root_listing() if case.prepare == "root" else set()
    out_existed = out.exists() or out.is_symlink()
    before, tmp_before = snapshot(work), snapshot(tmp)
    run = launcher.run(case.argv, work, root / "stdout", root / "stderr", tmp, timeout)
    after = snapshot(work)
    stderr = (root / "stderr").read_bytes()
    result = Result(case, run, stderr)
    v = result.violations
    if run.status == "timeout":
        v.append((HANG, f"no exit within {timeout:.0f} s"))
    elif run.status == "signal":
        v.append((SIGNAL, f"killed by signal {run.code}"))
    elif run.code == 70:
        v.append((EXIT70, stderr.decode("utf-8", "replace").strip()[:300]))
    elif not 0 <= run.code <= 5:
        v.append((BAD_EXIT, f"exit {run.code}: {stderr[:200]!r}"))
    if snapshot(tmp) != tmp_before:
        v.append((LEFT_BEHIND, f"in TMPDIR: {_diff(tmp_before, snapshot(tmp))[:5]}"))
    if case.prepare == "root":
        added = _clean_root(root_before)
        if added:
            v.append((LEFT_BEHIND, f"wrote into /: {added[:8]}"))
    if case.prepare == "readonly" and out.is_dir():
        out.chmod(0o755)
    failed = run.status != "exit" or run.code != 0
    if failed:
        if run.status == "exit":
            v.extend(_error_problems(stderr, run.code))
        _judge_failure(case, work, out, before, after, v)
    else:
        warnings = [ln for ln in stderr.decode("utf-8", "replace").splitlines()
                    if re.search(r"warning|error|traceback", ln, re.IGNORECASE)]
        if warnings:
            v.append((STDERR_ON_SUCCESS, repr(warnings[0][:200])))
        _judge_success(case, work, out, before, after, out_existed, foreign, launcher, root,
                       result)
    return result


def _under(rel: str, out_rel: str) -> bool:
    return out_rel == "." or rel == out_rel or rel.startswith(out_rel + os.sep)


def _judge_failure(case: Case, work: Path, out: Path, before: dict, after: dict,
                   v: list[tuple[str, str]]) -> None:
    changes = _diff(before, after)
    if case.prepare == "root" or not changes:
        return
    out_rel = os.path.relpath(out, work)
    inside = [c for c in changes if _under(c[1:], out_rel)]
    outside = [c for c in changes if not _under(c[1:], out_rel)]
    if inside:
        v.append((OUT_CHANGED, f"{inside[:6]}"))
    if outside:
        v.append((LEFT_BEHIND, f"beside OUT: {outside[:6]}"))


def _judge_success(case: Case, work: Path, out: Path, before: dict, after: dict,
                   out_existed: bool, foreign: list[str], launcher: Launcher, root: Path,
                   result: Result) -> None:
    v = result.violations
    if case.must_fail:
        v.append((ACCEPTED, f"exit 0, but must refuse: {case.must_fail}"))
    if case.prepare == "root":
        return
    out_rel = os.path.relpath(out, work)
    outside = [c for c in _diff(before, after) if not _under(c[1:], out_rel)]
    if outside:
        v.append((LEFT_BEHIND, f"beside OUT: {outside[:6]}"))
    if not out.is_dir():
        v.append((OUT_WRONG, "exit 0 but OUT is not a directory"))
        return
    if not out_existed and stat.S_IMODE(out.stat().st_mode) != UMASK_MODE:
        v.append((OUT_MODE, f"new OUT has mode {stat.S_IMODE(out.stat().st_mode):o} "
                            f"under umask 022"))
    if foreign:
        _judge_prepopulated(case, out, foreign, launcher, root, v)
    cname = _cname((root / "stdout").read_bytes(), out)
    if cname is None:
        v.append((OUT_WRONG, "cannot tell NAME: no `wrote OUT/NAME.c` line, no single NAME.h"))
        return
    checks = cbuild.build_and_run(out, cname, expected_inputs(work / case.model),
                                  root / "scratch")
    result.checked_c = True
    v.extend((HEADER, p) for p in checks.header)
    v.extend((SIZES, p) for p in checks.sizes)
    v.extend((TOO_BIG, p) for p in checks.too_big)
    if checks.build:
        v.append((STRICT_BUILD, checks.build))
    if checks.sanitizer:
        v.append((SANITIZER, checks.sanitizer))
    result.ran_c = checks.ran


def _judge_prepopulated(case: Case, out: Path, foreign: list[str], launcher: Launcher,
                        root: Path, v: list[tuple[str, str]]) -> None:
    """Foreign files unchanged; the rest of OUT is exactly what a fresh compile writes."""
    got = snapshot(out)
    for name, data in FOREIGN.items():
        entry = got.get(name)
        if entry is None or entry[0] != "file" or entry[2] != hashlib.sha256(data).hexdigest():
            v.append((OUT_WRONG, f"user's file {name} {'removed' if entry is None else 'changed'}"))
    if got.get("link") != ("link", 0o777, "README.txt"):
        v.append((OUT_WRONG, "user's symlink `link` changed"))
    fresh_root = root / "fresh"
    fresh = fresh_root / "work"
    fresh.mkdir(parents=True)
    (fresh_root / "tmp").mkdir()
    _write_files(fresh, case.files)
    run = launcher.run(case.argv, fresh, fresh_root / "stdout", fresh_root / "stderr",
                       fresh_root / "tmp", TIMEOUT)
    if run.status != "exit" or run.code != 0:
        v.append((OUT_WRONG, f"the same compile into a fresh OUT gives {run.status} {run.code}"))
        return
    want = snapshot(fresh / case.out)
    kept = {k for k in got if k.split(os.sep)[0] in foreign}
    stale = sorted(set(got) - set(want) - kept)
    missing = sorted(set(want) - set(got))
    differ = sorted(k for k in set(want) & set(got) - kept if want[k][::2] != got[k][::2])
    if stale:
        v.append((OUT_WRONG, f"earlier output left in OUT: {stale[:6]}"))
    if missing or differ:
        v.append((OUT_WRONG, f"differs from a fresh compile: missing {missing[:4]}, "
                             f"changed {differ[:4]}"))


def save_case(result: Result, directory: Path) -> None:
    """The case's files, command and verdict, to reproduce it by hand."""
    case = result.case
    target = directory / case.ident
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    _write_files(target, case.files)
    prep = {"": "", "foreign": "mkdir out; put user files in it",
            "previous": f"tinyc {shlex.join(case.previous_argv)}; put user files in out",
            "readonly": "mkdir out; put user files in it; chmod 555 out",
            "file": "echo x > out", "dangling": "ln -s gone/nowhere out",
            "root": "(-o /: what tinyc writes into / is removed by the runner)"}[case.prepare]
    script = ["#!/bin/bash", f"# {case.ident}: {case.what}", f"# outcome: {result.outcome}"]
    script += [f"#   {c}: {r}" for c, r in result.violations]
    script += ['cd "$(dirname "$0")"', f"# prepare: {prep}" if prep else "", case.command()]
    (target / "command.sh").write_text("\n".join(script) + "\n", errors="surrogateescape")


def run_cases(cases: list[Case], jobs: int, root: Path, launcher_kind: str = "fork",
              timeout: float = TIMEOUT) -> Iterator[Result]:
    """Runs `cases` on `jobs` threads, each with its own launcher and case directory; yields
    results as they finish (the cases' own processes do the work, so threads suffice)."""
    pending = queue.SimpleQueue()
    for case in cases:
        pending.put(case)
    done: queue.SimpleQueue = queue.SimpleQueue()

    def worker(slot: int) -> None:
        runner_launcher = launcher(launcher_kind)
        try:
            while True:
                try:
                    case = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put(run_case(case, runner_launcher, root / f"job{slot}", timeout))
                except Exception as exc:  # noqa: BLE001 - a runner bug must not hang the pool
                    done.put(exc)
        finally:
            runner_launcher.close()
            done.put(None)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(jobs)]
    for t in threads:
        t.start()
    finished = 0
    while finished < jobs:
        item = done.get()
        if item is None:
            finished += 1
        elif isinstance(item, Exception):
            raise item
        else:
            yield item
