"""Models whose every name is hostile C text compile (exit 0) to C that builds with the strict
flags and `-Wtrigraphs`, runs, and matches onnxruntime; no name can add a line to NAME.h or
change a macro. Hostile `-o` paths and flag values that reach the provenance comment too,
and `--name` values that would break the output are refused with one line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.clirun import cli
from tinyc.backend.generate import codegen_root
from tinyc.backend.prefix import prefix_text
from tinyc.compiler import Options, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import Graph

CC = "cc"
#: on top of tinyc.harness.STRICT_FLAGS (-std=c99 -Wall -Wextra -Werror -pedantic)
TRIGRAPHS = ["-Wtrigraphs"]
INJECTION = "x */\n#define EVIL_INPUT0_SIZE 1\n#include <stdio.h>\nextern int evil; /*"
#: one hostile text per place a name can stand; several sanitize to the same identifier
#: (`a/b`, `a.b`), or name a runtime symbol once prefixed: `nd_f32` (tinyc_conv_nd_f32),
#: `f32` (tinyc_reduce_f32, built with ##); or are runtime words (`params`, `i8`, `tinyc_arena`)
NAMES = {
    "in0": INJECTION,
    "in1": "??/\nsplice //comment",
    "w": "a/b",
    "b": "a.b",
    "axes": "a_b",
    "c": "tinyc_arena",
    "k": "i8",
    "conv": "nd_f32",
    "sum": "f32",
    "out0": "out */ #define EVIL_OUTPUT0_SIZE 1 /*",
    "out1": "params",
    "out2": "int",
    "mid": "bidi\u202e\u2066 ctl\x01\x1b[31m\x7f caf\u00e9 \U0001f600",
}
NODE_NAMES = ["/*conv*/", "return", "// sum", "??=\n", "main", "static"]
DOC = "doc */ #include <evil.h> /* ??/\n\u202e"


def hostile_model() -> onnx.ModelProto:
    n = NAMES
    rng = np.random.default_rng(12)
    inits = [
        numpy_helper.from_array(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), n["w"]),
        numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), n["b"]),
        numpy_helper.from_array(np.array([1], dtype=np.int64), n["axes"]),
        numpy_helper.from_array(np.array([0.5], dtype=np.float32), n["c"]),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), n["k"]),
    ]
    nodes = [
        helper.make_node("Conv", [n["in0"], n["w"], n["b"]], [n["conv"]], name=NODE_NAMES[0],
                         doc_string=DOC),
        helper.make_node("ReduceSum", [n["conv"], n["axes"]], [n["sum"]], name=NODE_NAMES[1]),
        helper.make_node("Add", [n["sum"], n["c"]], [n["out0"]], name=NODE_NAMES[2]),
        helper.make_node("MaxPool", [n["conv"]], [n["mid"]], kernel_shape=[2, 2],
                         name=NODE_NAMES[3]),
        helper.make_node("Relu", [n["mid"]], [n["out1"]], name=NODE_NAMES[4]),
        helper.make_node("Mul", [n["in1"], n["k"]], [n["out2"]], name=NODE_NAMES[5]),
    ]
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "graph */ #define G 1 /*",
        [helper.make_tensor_value_info(n["in0"], f32, [1, 2, 6, 6]),
         helper.make_tensor_value_info(n["in1"], f32, [4])],
        [helper.make_tensor_value_info(n["out0"], f32, [1, 1, 4, 4]),
         helper.make_tensor_value_info(n["out1"], f32, [1, 3, 3, 3]),
         helper.make_tensor_value_info(n["out2"], f32, [4])],
        inits,
        doc_string=DOC,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="evil */ int x; /* ??/", producer_version="\n#1",
                              doc_string=DOC)
    helper.set_model_props(model, {"key */ /*": DOC, "\u202e": "//"})
    onnx.checker.check_model(model)
    return model


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args)


def preprocess(out: Path, source: str, *flags: str) -> list[str]:
    """What `cc -E` makes of `source` with `-I out`: lines, whitespace normalized."""
    proc = subprocess.run([CC, "-std=c99", "-E", "-P", *flags, "-I", str(out), "-"],
                          input=source, capture_output=True, text=True, check=True)
    return [" ".join(line.split()) for line in proc.stdout.splitlines() if line.strip()]


def header_additions(out: Path, name: str, *flags: str) -> list[str]:
    """What including NAME.h adds beyond <stdint.h>, as the preprocessor sees it."""
    base = preprocess(out, "#include <stdint.h>\n", *flags)
    full = preprocess(out, f'#include "{name}.h"\n', *flags)
    return [line for line in full if line not in base]


def assert_header_is_exactly_the_interface(out: Path, name: str, graph: Graph, arena: int) -> None:
    upper = name.upper()
    macros = sorted(header_additions(out, name, "-dM"))
    expected = [f"#define {upper}_H", f"#define {upper}_ARENA_SIZE {arena}",
                f"#define {upper}_ARENA_ALIGN 16",
                f"#define {upper}_NUM_INPUTS {len(graph.inputs)}",
                f"#define {upper}_NUM_OUTPUTS {len(graph.outputs)}"]
    expected += [f"#define {upper}_INPUT{i}_SIZE {v.type.numel}" for i, v in
                 enumerate(graph.inputs)]
    expected += [f"#define {upper}_OUTPUT{i}_SIZE {v.type.numel}" for i, v in
                 enumerate(graph.outputs)]
    assert macros == sorted(expected)
    params = [f"const float *input{i}" for i in range(len(graph.inputs))]
    params += [f"float *output{i}" for i in range(len(graph.outputs))]
    assert header_additions(out, name) == [f"int {name}_run({', '.join(params)});"]


def build_and_run(out: Path, name: str, graph: Graph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    exe = build_host(out, graph, name, [*TRIGRAPHS, *SANITIZE_FLAGS], cc=CC)
    return run_host(exe, graph, inputs)


def onnxruntime_outputs(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), inputs)})


def inputs_for(graph: Graph) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.standard_normal(v.shape).astype(np.float32) for v in graph.inputs]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the path is hostile (`/m*/` holds `*/`), and so is the file name, which the default
    # model name comes from
    folder = tmp_path_factory.mktemp("hostile") / "m*"
    folder.mkdir()
    path = folder / "tinyc_conv *\\ ??(.onnx"
    onnx.save(hostile_model(), str(path))
    return path


@pytest.mark.parametrize("level", ["-O0", "-O1"])
def test_hostile_names_compile_build_and_match_onnxruntime(
    model_path: Path, tmp_path: Path, level: str
) -> None:
    parent = tmp_path / "o*" / "??"
    parent.mkdir(parents=True)
    out = parent / "\u202e*x"  # `o*/??/\u202e*x` reaches the provenance comment
    proc = run_cli(str(model_path), "-o", str(out), level)
    assert proc.returncode == 0, proc.stderr
    name = "model"  # the file stem `tinyc_conv` is no model name: the fallback
    assert sorted(p.name for p in out.iterdir() if p.stem == name) == [
        f"{name}.c", f"{name}.h", f"{name}.mk"]
    kernel = codegen_root() / "kernels" / "ref" / "tinyc_conv.c"
    assert (out / "model_tinyc_conv.c").read_text() == prefix_text(name, kernel.read_text())
    for path in out.iterdir():
        assert path.read_text().isascii(), path.name
    options = Options(opt_level=int(level[2]))
    graph, _ = optimize(load_model(model_path, options), options)
    arena = int(re.search(r"arena (\d+) B", proc.stdout)[1])  # what tinyc reports
    assert_header_is_exactly_the_interface(out, name, graph, arena)
    inputs = inputs_for(graph)
    got = build_and_run(out, name, graph, inputs)
    expected = onnxruntime_outputs(model_path, inputs)
    assert len(got) == len(expected) == 3
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_hostile_flag_values_in_the_provenance(model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli(str(model_path), "-o", str(out), "--name", "net", "--prune",
                   "unstructured:0.5", "--prune-layers", "/*,*/*,!??/", "--arena", "external")
    assert proc.returncode == 0, proc.stderr
    source = (out / "net.c").read_text()
    assert "--prune-layers '/ *,* / *,!? ?/'" in source.splitlines()[1]
    options = Options(prune="unstructured:0.5", prune_layers=("/*", "*/*", "!??/"),
                      arena="external")
    graph, _ = optimize(load_model(model_path, options), options)
    inputs = inputs_for(graph)
    exe = build_host(out, graph, "net", [*TRIGRAPHS, *SANITIZE_FLAGS], cc=CC, arena="external")
    got = run_host(exe, graph, inputs)
    expected = run_graph(graph, {v.name: x for v, x in zip(graph.inputs, inputs)})
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "why"),
    [("tinyc_gemm", "tinyc"), ("string", "shadow"), ("int", "keyword"), ("x" * 300, "limit"),
     ("a*/b", "identifier"), ("x\n#define", "identifier")],
)
def test_bad_name_is_one_line_usage_error_and_writes_nothing(
    model_path: Path, tmp_path: Path, name: str, why: str
) -> None:
    out = tmp_path / "out"
    proc = run_cli(str(model_path), "-o", str(out), "--name", name)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyc: error: --name") and why in lines[0]
    assert not out.exists()
