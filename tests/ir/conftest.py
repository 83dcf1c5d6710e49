"""FileCheck-style tests: every `tests/ir/*.tir` file is one test case.

A case is a text IR graph with `//` comment directives:

    // RUN: tinyc ir %s --passes fold-batchnorm     the command (run in-process, %s = file)
    // CHECK: Conv(%x, %w_bn, %w_bn_bias)          appears, after the previous match
    // CHECK-NEXT: return %y                       on the line right after the previous match
    // CHECK-NOT: BatchNormalization               absent up to the next positive match

Matching is on literal substrings, line by line, as in LLVM FileCheck. Besides the text,
every case checks numerics: the graph printed by the command must give the same outputs
as the input graph in the reference interpreter (rtol/atol 1e-5), so a CHECK-able but wrong
rewrite still fails.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tinyc.cli import main as tinyc_main
from tinyc.interp import run_graph
from tinyc.ir.text import load_text_ir, parse_graph

_DIRECTIVE = re.compile(r"//\s*(RUN|CHECK|CHECK-NEXT|CHECK-NOT):(.*)$")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".tir":
        return TirFile.from_parent(parent, path=file_path)
    return None


class TirFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield TirCase.from_parent(self, name=self.path.stem)


class TirCase(pytest.Item):
    def runtest(self) -> None:
        directives = [m.groups() for line in self.path.read_text().splitlines()
                      if (m := _DIRECTIVE.search(line))]
        runs = [arg.strip() for kind, arg in directives if kind == "RUN"]
        assert len(runs) == 1, "exactly one // RUN: line"
        argv = [a.replace("%s", str(self.path)) for a in shlex.split(runs[0])[1:]]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            assert tinyc_main(argv) == 0, f"tinyc {' '.join(argv)} failed"
        filecheck(out.getvalue(), [(k, a.strip()) for k, a in directives if k != "RUN"])
        same_numerics(load_text_ir(self.path), out.getvalue())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        return f"{self.path.name}: {excinfo.value}"

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"tir: {self.name}"


def filecheck(text: str, checks: list[tuple[str, str]]) -> None:
    lines = text.splitlines()
    pos, last, pending_not = 0, -1, []
    for kind, pattern in checks:
        if kind == "CHECK-NOT":
            pending_not.append(pattern)
            continue
        if kind == "CHECK-NEXT":
            found = last + 1 if last + 1 < len(lines) and pattern in lines[last + 1] else None
        else:
            found = next((i for i in range(pos, len(lines)) if pattern in lines[i]), None)
        assert found is not None, f"{kind}: '{pattern}' not found after line {last + 1}:\n{text}"
        _check_absent(lines[pos:found], pending_not, text)
        pos, last, pending_not = found + 1, found, []
    _check_absent(lines[pos:], pending_not, text)


def _check_absent(region: list[str], patterns: list[str], text: str) -> None:
    for pattern in patterns:
        hit = next((line for line in region if pattern in line), None)
        assert hit is None, f"CHECK-NOT: '{pattern}' found in '{hit.strip()}':\n{text}"


def same_numerics(before_graph, after_text: str) -> None:  # noqa: ANN001
    after_graph = parse_graph(after_text)
    rng = np.random.default_rng(0)
    feeds = {v.name: rng.standard_normal(v.shape).astype(v.dtype.np) for v in before_graph.inputs}
    for b, a in zip(run_graph(before_graph, feeds), run_graph(after_graph, feeds), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
