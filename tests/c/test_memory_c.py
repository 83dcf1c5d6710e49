"""The memory plan, executed: planned C matches the reference under ASan/UBSan.

- The overlapping kernels of `codegen/kernels/ref/tinyc_inplace.c` run at *every* output
  placement their declared rule permits (within reach of the input) and must give exactly
  the bytes of the ordinary kernel; one placement the rule forbids must not.
- Named graphs with in-place kernels, views and Concat slices compile, skip the copies a
  view makes redundant, and match the reference interpreter.
- `--arena external`: the caller's arena, through `NAME_run_with_arena`, gives the same
  outputs as the static arena of the default build.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.unit.test_memory import branches, chain_in_place, fanout, views
from tinyc.backend.writer import CWriter
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, STRICT_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.ops.registry import BlockStream, PlaneStream

REPO = Path(__file__).resolve().parents[2]
KERNELS = REPO / "codegen" / "kernels"
CC = ["cc", *STRICT_FLAGS, *SANITIZE_FLAGS, "-O1"]
#: whole models: -O0 keeps ASan builds of the big kernel files quick
MODEL_FLAGS = [*SANITIZE_FLAGS, "-O0"]
NO_ACT = "{TINYC_ACT_NONE, 0.0f, 0.0f}"


def _floats(values: np.ndarray) -> str:
    return "{" + ", ".join(f"{float(v):.9g}f" for v in values.reshape(-1)) + "}"


#: (name, kind, params initializer, X size, W size, B size, Y size, scratch, rule)
def _cases() -> list[tuple[str, str, str, int, int, int, int, int, BlockStream | PlaneStream]]:
    out = []
    # depthwise 3x3: stride 1 (same size planes), stride 2 (planes shrink)
    for name, h, s, pad in (("dw_s1", 5, 1, 1), ("dw_s2", 6, 2, 1)):
        c, oh = 3, (6 + 2 * pad - 3) // s + 1 if h == 6 else h
        p = f"{{1, {c}, {h}, {h}, {c}, {oh}, {oh}, 3, 3, {c}, {s}, {s}, 1, 1, {pad}, {pad}, " \
            "{TINYC_ACT_CLIP, 0.0f, 6.0f}}"
        rule = BlockStream(0, c, h * h * 4, oh * oh * 4, oh * oh * 4)
        out.append((name, "dw", p, c * h * h, c * 9, c, c * oh * oh, oh * oh, rule))
    # pointwise 1x1 on a 4x3 image: channels grow, shrink
    for name, c, m in (("pw_grow", 2, 5), ("pw_shrink", 5, 2)):
        p = f"{{1, {c}, 4, 3, {m}, 4, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, {NO_ACT}}}"
        rule = PlaneStream(0, 12, c, m, 4, min(c, m) * 4)
        out.append((name, "pw", p, c * 12, m * c, m, m * 12, min(c, m), rule))
    # dense stride-1 `same` conv row by row: 3x3 pad 1, channels grow; 3x3 with a
    # vertical dilation of 2 (pad_top 2: three rows held back), channels shrink
    for name, c, m, dil, pad in (("rows_grow", 2, 3, 1, 1), ("rows_shrink", 3, 2, 2, 2)):
        p = f"{{1, {c}, 4, 5, {m}, 4, 5, 3, 3, 1, 1, 1, {dil}, 1, {pad}, 1, {NO_ACT}}}"
        rule = PlaneStream(0, 20, c, m, 4, (pad + 1) * m * 5 * 4)
        out.append((name, "rows", p, c * 20, m * c * 9, m, m * 20, (pad + 1) * m * 5, rule))
    # Gemm rows: 3 rows, k < n and k > n; one row (any placement)
    gemms = (("gemm_grow", 3, 2, 5), ("gemm_shrink", 3, 6, 2), ("gemm_row", 1, 4, 7))
    for name, rows, k, n in gemms:
        p = f"{{{rows}, {n}, {k}, 0, 1, 1.0f, 0.5f, TINYC_BIAS_ROW, {NO_ACT}}}"
        rule = BlockStream(0, rows, k * 4, n * 4, min(k, n) * 4)
        out.append((name, "gemm", p, rows * k, n * k, n, rows * n, min(k, n), rule))
    return out


def _call(kind: str, x: str, y: str, p: str) -> str:
    if kind == "gemm":
        return f"tinyc_gemm_rows_stream_f32({x}, W, B, {y}, scratch, &{p})"
    fn = {"dw": "tinyc_dwconv2d_stream_f32", "pw": "tinyc_conv1x1_stream_f32",
          "rows": "tinyc_conv2d_rows_stream_f32"}[kind]
    work = ", work" if kind == "dw" else ""
    return f"{fn}({x}, W, B, {y}, scratch{work}, &{p})"


def _ordinary(kind: str, p: str) -> str:
    if kind == "gemm":
        return f"tinyc_gemm_f32(X, W, B, want, &{p})"
    return f"tinyc_conv2d_f32(X, W, B, want, work, &{p})"


def test_overlapping_kernels_at_every_permitted_placement(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    w = CWriter()
    w.lines(['#include <stdio.h>', '#include <string.h>', '#include "tinyc_inplace.h"', ""])
    w.line("static float buf[4096], scratch[256], want[1024], work[256];")
    checks = []
    for name, kind, params, nx, nw, nb, ny, _, rule in _cases():
        w.line(f"static const {'tinyc_gemm_params' if kind == 'gemm' else 'tinyc_conv2d_params'}"
               f" p_{name} = {params};")
        deltas = [d for d in range(-ny, nx) if rule.permits(4 * d)]
        forbidden = [d for d in range(-ny + 1, nx) if not rule.permits(4 * d)][:1]
        with w.block(f"static int run_{name}(void)"):
            w.line(f"static const float X[{nx}] = {_floats(rng.standard_normal(nx))};")
            w.line(f"static const float W[{nw}] = {_floats(rng.standard_normal(nw))};")
            w.line(f"static const float B[{nb}] = {_floats(rng.standard_normal(nb))};")
            w.line(f"static const int ok[{len(deltas)}] = {{{', '.join(map(str, deltas))}}};")
            w.line("const int base = 1024;")
            w.line("size_t i;")
            w.line("int bad = 0;")
            w.line(f"{_ordinary(kind, f'p_{name}')};")
            with w.block(f"for (i = 0; i < {len(deltas)}; ++i)"):
                w.line("memcpy(buf + base, X, sizeof X);")
                w.line(_call(kind, "buf + base", "buf + base + ok[i]", f"p_{name}") + ";")
                w.line(f"if (memcmp(buf + base + ok[i], want, {ny} * sizeof(float)) != 0) "
                       f'{{ printf("{name} delta %d wrong\\n", ok[i]); bad = 1; }}')
            for d in forbidden:  # a placement the rule forbids really corrupts the result
                w.line("memcpy(buf + base, X, sizeof X);")
                w.line(_call(kind, "buf + base", f"buf + base + {d}", f"p_{name}") + ";")
                w.line(f"if (memcmp(buf + base + {d}, want, {ny} * sizeof(float)) == 0) "
                       f'{{ printf("{name} forbidden delta {d} unexpectedly fine\\n"); bad = 1; }}')
            w.line(f'printf("{name}: %d placements\\n", {len(deltas)});')
            w.line("return bad;")
        checks.append(f"run_{name}()")
        assert len(deltas) >= 2, name
    with w.block("int main(void)"):
        w.line(f"return {' | '.join(checks)};")
    src = tmp_path / "main.c"
    src.write_text(w.text())
    exe = tmp_path / "kernels"
    cmd = [*CC, f"-I{KERNELS}", f"-I{REPO / 'codegen' / 'runtime'}", str(src),
           *(str(KERNELS / "ref" / f) for f in ("tinyc_inplace.c", "tinyc_conv.c", "tinyc_gemm.c")),
           "-o", str(exe), "-lm"]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def _run_c(graph: Graph, tmp: Path, options: Options | None = None) -> tuple[dict, list]:
    options = options or Options()
    compiled = compile_graph(graph, options, "m")
    compiled.code.write(tmp)
    exe = build_host(tmp, graph, compiled.code.name, MODEL_FLAGS)
    rng = np.random.default_rng(1)
    feeds = [rng.standard_normal(v.shape).astype(np.float32) for v in graph.inputs]
    got = run_host(exe, graph, feeds)
    want = run_graph(graph, {v.name: f for v, f in zip(graph.inputs, feeds, strict=True)})
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    return compiled.code.files, got


@pytest.mark.parametrize("build", [chain_in_place, fanout, branches, views])
def test_named_graphs_match_the_interpreter(build, tmp_path: Path) -> None:  # noqa: ANN001
    files, _ = _run_c(build(), tmp_path)
    source = files["m.c"]
    body = source[source.index("int m_run("):]
    if build is views:  # Concat slices and Flatten are views: nothing is copied
        assert "memcpy" not in body and "tinyc_copy_nd" not in body
    if build is chain_in_place:
        assert "tinyc_conv1x1_stream_f32" in body


def test_external_arena_matches_the_static_one(tmp_path: Path) -> None:
    model = REPO / "examples" / "models" / "kws_dscnn.onnx"
    options = Options()
    graph, _ = optimize(load_model(model, options), options)
    _, static_out = _run_c(graph, tmp_path / "static")

    ext = Options(arena="external")
    compiled = compile_graph(graph, ext, "kws")
    out = tmp_path / "external"
    compiled.code.write(out)
    header, source = compiled.code.files["kws.h"], compiled.code.files["kws.c"]
    assert "int kws_run_with_arena(void *arena, const float *input0, float *output0);" in header
    assert "kws_run(" not in header and "static union" not in source
    x = np.random.default_rng(1).standard_normal(graph.inputs[0].shape).astype(np.float32)
    (out / "x.bin").write_bytes(x.tobytes())
    w = CWriter()
    w.lines(["#include <stdio.h>", '#include "kws.h"', "",
             "static kws_arena_t arena;",
             "static float in[KWS_INPUT0_SIZE], res[KWS_OUTPUT0_SIZE];", ""])
    with w.block("int main(int argc, char **argv)"):
        w.line('FILE *f = fopen(argv[1], "rb");')
        w.line("(void)argc;")
        w.line("if (!f || fread(in, sizeof in, 1, f) != 1) return 2;")
        w.line("fclose(f);")
        w.line("if (sizeof arena < KWS_ARENA_SIZE) return 3;")
        w.line("if (kws_run_with_arena(&arena, in, res) != 0) return 4;")
        w.line("return fwrite(res, sizeof res, 1, stdout) != 1;")
    (out / "main.c").write_text(w.text())
    exe = out / "prog"
    build = subprocess.run([*CC, "-O0", f"-I{out}", *sorted(str(p) for p in out.glob("*.c")),
                            "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe), str(out / "x.bin")], capture_output=True)
    assert run.returncode == 0, run.stderr
    got = np.frombuffer(run.stdout, dtype=np.float32)
    np.testing.assert_array_equal(got, static_out[0].reshape(-1))
