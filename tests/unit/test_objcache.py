"""The session's compile cache (tests/objcache.py) gives what the compiler gives: the same
program from a reused object, a new object when an included header changes, the compiler's
warnings on a reused object too, and a failing build's own diagnostics."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests import objcache

FLAGS = ["-std=c99", "-O1", "-Wall", "-Wextra"]


@pytest.fixture
def cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache of this test's own: the session's wrappers (on PATH) read the directory from
    the environment at each call, and the session's shared one gets objects from the other
    xdist worker at any time (its `mkstemp` files too), so counting there races."""
    root = os.environ.get(objcache.ENV)
    if not root or not Path(root).is_dir():
        pytest.fail("the conftest installs the cache for the session")
    own = tmp_path_factory.mktemp("objcache")
    monkeypatch.setenv(objcache.ENV, str(own))
    return own


def build(tmp: Path, out: str) -> subprocess.CompletedProcess[str]:
    cmd = ["cc", *FLAGS, "-I", str(tmp), str(tmp / "main.c"), str(tmp / "k.c"), "-o",
           str(tmp / out)]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_reuse_rebuild_warnings_and_errors(cache_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "k.h").write_text("#define K 3\nint k(int x);\n")
    (tmp_path / "k.c").write_text('#include "k.h"\nint k(int x) { int unused; return x * K; }\n')
    (tmp_path / "main.c").write_text('#include "k.h"\nint main(void) { return k(2); }\n')
    first = build(tmp_path, "a")
    entries = set(cache_dir.glob("*.o"))
    assert entries  # the wrapper compiled into the cache
    again = build(tmp_path, "b")
    assert set(cache_dir.glob("*.o")) == entries  # nothing compiled twice
    assert subprocess.run([tmp_path / "a"]).returncode == 6
    assert subprocess.run([tmp_path / "b"]).returncode == 6
    assert "unused variable" in first.stderr and "unused variable" in again.stderr
    (tmp_path / "k.h").write_text("#define K 5\nint k(int x);\n")  # a header changes
    assert build(tmp_path, "c").returncode == 0
    assert subprocess.run([tmp_path / "c"]).returncode == 10
    (tmp_path / "k.c").write_text("int k(int x) { return x * undefined_name; }\n")
    failed = build(tmp_path, "d")
    assert failed.returncode != 0 and "undefined_name" in failed.stderr
    assert not (tmp_path / "d").exists()


def test_compile_only_of_several_sources_then_a_link(cache_dir: Path, tmp_path: Path) -> None:
    """As tests/fuzz/cbuild.py builds: `cc -c *.c` in the directory, then main.c and the
    objects into a program."""
    for name in ("a", "b"):
        (tmp_path / f"{name}.c").write_text(f"int {name}(void) {{ return 2; }}\n")
    (tmp_path / "main.c").write_text("int a(void);\nint b(void);\n"
                                     "int main(void) { return a() + b(); }\n")
    for _ in range(2):
        proc = subprocess.run(["cc", *FLAGS, "-c", "a.c", "b.c"], cwd=tmp_path,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        link = subprocess.run(["cc", *FLAGS, "main.c", "a.o", "b.o", "-o", "prog"],
                              cwd=tmp_path, capture_output=True, text=True)
        assert link.returncode == 0, link.stderr
        assert subprocess.run([tmp_path / "prog"]).returncode == 4
        for name in ("a.o", "b.o", "prog"):
            (tmp_path / name).unlink()


def stack_usage_compile(cwd: Path, source: str, obj: Path,
                        env: dict[str, str] | None = None) -> dict[str, str]:
    """`gcc -fstack-usage -fcallgraph-info=su -c source -o obj` in `cwd`, as
    tinyc/mcu/stackuse.py runs it; the .su and .ci text gcc (or the cache) wrote."""
    cmd = ["gcc", *FLAGS, "-fstack-usage", "-fcallgraph-info=su", "-I", ".", "-c", source,
           "-o", str(obj)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return {suffix: obj.with_suffix(suffix).read_text() for suffix in (".su", ".ci")}


def test_stack_usage_files_come_with_the_object(cache_dir: Path, tmp_path: Path) -> None:
    """gcc's .su/.ci name the source as the command did: a relative compile is reused from
    another directory with the same text gcc writes there; an absolute one names its own
    directory, never the cached one's."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "k.h").write_text("int leaf(volatile int *p);\n")
        (tmp_path / name / "k.c").write_text(
            '#include "k.h"\n'
            "__attribute__((noinline)) static int deep(int n) { volatile int b[32]; "
            "b[n & 31] = n; return leaf(b); }\n"
            "int k(int n) { return deep(n) + 1; }\n")
    first = stack_usage_compile(tmp_path / "a", "k.c", tmp_path / "a" / "k.o")
    assert "deep" in first[".su"] and 'title: "k.c:deep"' in first[".ci"]
    entries = set(cache_dir.iterdir())
    assert {e.suffix for e in entries} == {".o", ".err", ".su", ".ci"}
    again = stack_usage_compile(tmp_path / "b", "k.c", tmp_path / "b" / "k1.o")
    assert set(cache_dir.iterdir()) == entries  # reused
    assert again == first
    uncached = {**os.environ, objcache.ENV: ""}
    assert stack_usage_compile(tmp_path / "b", "k.c", tmp_path / "b" / "k2.o", uncached) == first
    for name in ("a", "b"):
        source = str(tmp_path / name / "k.c")
        got = stack_usage_compile(tmp_path, source, tmp_path / name / "abs.o")
        assert got == stack_usage_compile(tmp_path, source, tmp_path / name / "real.o",
                                          uncached)
        assert f'title: "{source}:deep"' in got[".ci"]
