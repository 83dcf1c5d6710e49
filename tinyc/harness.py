"""Host test harness: a small C `main` that feeds raw input files to `NAME_run` (or, for an
`--arena external` build, to `NAME_run_with_arena` with an arena of its own) and writes the
outputs as raw files. Used by `tinyc verify`, the tests and the benchmarks; it never goes
into a model's output directory."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyc.backend.generate import ARENA_MODES
from tinyc.backend.prefix import prefixed
from tinyc.backend.writer import CWriter
from tinyc.errors import VerifyError
from tinyc.ir import Graph
from tinyc.ir.types import from_storage, to_storage

STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
#: the byte an external arena is filled with before the run, so that a read of a byte the
#: model never wrote differs from the static arena's zeros
ARENA_FILL = 0xA5


def _includes(cname: str, arena: str) -> list[str]:
    if arena not in ARENA_MODES:
        raise ValueError(f"arena must be one of {', '.join(ARENA_MODES)}, not {arena!r}")
    if arena == "static":
        return ["#include <stdio.h>", "#include <stdlib.h>", "", f'#include "{cname}.h"', ""]
    return ["#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>", "",
            f'#include "{cname}.h"', f'#include "{prefixed(cname, "tinyc_rt.h")}"', ""]


def _arena_lines(cname: str, arena: str) -> list[str]:
    """The harness's own arena for an external-arena build, typed and aligned as NAME.h asks."""
    if arena == "static":
        return []
    align = prefixed(cname, "TINYC_ALIGN")
    return [f"static {cname}_arena_t arena {align}({cname.upper()}_ARENA_ALIGN);"]


def _run_call(cname: str, args: list[str], arena: str) -> list[str]:
    """The statements that run one inference into `rc`."""
    if arena == "static":
        return [f"rc = {cname}_run({', '.join(args)});"]
    return [f"memset(&arena, {ARENA_FILL:#x}, sizeof arena);",
            f"rc = {cname}_run_with_arena({', '.join(['&arena', *args])});"]


def harness_source(graph: Graph, cname: str, arena: str = "static") -> str:
    w = CWriter()
    w.lines(_includes(cname, arena))
    values = [("in", i, v) for i, v in enumerate(graph.inputs)]
    values += [("out", i, v) for i, v in enumerate(graph.outputs)]
    for kind, i, v in values:
        w.line(f"static {v.dtype.c_type} {kind}{i}[{max(v.type.numel, 1)}];")
    w.lines(_arena_lines(cname, arena))
    w.line("")
    with w.block("static int io(void *buf, size_t size, const char *path, long k, int writing)"):
        w.line("/* sample k of a file of samples: read at k * size, or appended after k */")
        w.line('FILE *f = fopen(path, writing ? (k ? "ab" : "wb") : "rb");')
        w.line("size_t n;")
        w.line("if (!f) return 1;")
        w.line("if (!writing && k && fseek(f, k * (long)size, SEEK_SET) != 0)")
        w.line("    n = 0;")
        w.line("else")
        w.line("    n = writing ? fwrite(buf, 1, size, f) : fread(buf, 1, size, f);")
        w.line("fclose(f);")
        w.line("return n != size;")
    w.line("")
    with w.block("int main(int argc, char **argv)"):
        w.line("int rc;")
        w.line("long k, count = 1;")
        w.line(f"if (argc == {len(values) + 2}) count = atol(argv[{len(values) + 1}]);")
        w.line(f"else if (argc != {len(values) + 1}) return 2;")
        w.line("if (count < 1) return 2;")
        with w.block("for (k = 0; k < count; k++)"):
            for j, (kind, i, v) in enumerate(values):
                if kind == "in" and v.type.nbytes:
                    w.line(f"if (io({kind}{i}, {v.type.nbytes}, argv[{j + 1}], k, 0)) return 3;")
            w.lines(_run_call(cname, [f"{k}{i}" for k, i, _ in values], arena))
            w.line('if (rc != 0) { fprintf(stderr, "run returned %d\\n", rc); return 4; }')
            for j, (kind, i, v) in enumerate(values):
                if kind == "out":
                    w.line(f"if (io({kind}{i}, {v.type.nbytes}, argv[{j + 1}], k, 1)) return 5;")
        w.line("return 0;")
    return w.text()


def build_host(
    out_dir: Path,
    graph: Graph,
    cname: str,
    flags: Sequence[str] = (),
    cc: str | None = None,
    *,
    arena: str = "static",
) -> Path:
    """Compile out_dir/*.c plus the harness into an executable; raise VerifyError on failure.
    `arena` must be the mode the C was generated with (`Options.arena`)."""
    (out_dir / "tinyc_harness_main.c").write_text(harness_source(graph, cname, arena))
    exe = out_dir / "tinyc_harness"
    sources = sorted(str(p) for p in out_dir.glob("*.c"))
    compiler = cc or os.environ.get("CC", "cc")
    cmd = [compiler, *STRICT_FLAGS, "-O2", *flags, "-I", str(out_dir), *sources]
    cmd += ["-o", str(exe), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise VerifyError(f"C build failed:\n{proc.stderr.strip()}")
    return exe


def run_host(exe: Path, graph: Graph, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """One inference: the outputs of `exe` (from `build_host`) on one array per input."""
    return run_host_batch(exe, graph, [inputs])[0]


def run_host_batch(
    exe: Path, graph: Graph, samples: Sequence[Sequence[np.ndarray]]
) -> list[list[np.ndarray]]:
    """Many inferences in one process: per sample (one array per input), its outputs."""
    count = len(samples)
    with tempfile.TemporaryDirectory(prefix="tinyc-run-") as tmp:
        paths = []
        for i, value in enumerate(graph.inputs):
            p = Path(tmp) / f"in{i}.bin"
            with open(p, "wb") as f:
                for sample in samples:  # C's layout (tinyc_lowp.h), one sample after another
                    to_storage(np.asarray(sample[i]), value.dtype).tofile(f)
            paths.append(str(p))
        outs = [str(Path(tmp) / f"out{i}.bin") for i in range(len(graph.outputs))]
        extra = [] if count == 1 else [str(count)]
        proc = subprocess.run([str(exe), *paths, *outs, *extra], capture_output=True, text=True)
        if proc.returncode != 0:
            raise VerifyError(
                f"generated C exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}"
            )
        per_output = [
            from_storage(np.fromfile(p, dtype=v.dtype.storage.np), v.dtype)
            .reshape((count, *v.shape))
            for p, v in zip(outs, graph.outputs)
        ]
        return [[o[k] for o in per_output] for k in range(count)]
