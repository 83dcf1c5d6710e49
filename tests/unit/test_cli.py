"""The command line as a user meets it: errors are one line with a documented exit code and
nothing is written; output is deterministic; --shape binds symbolic dimensions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.clirun import cli
from tinyc.cli import main

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args)


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def relu_model(op: str = "Relu", dim: int | str = 4, opset: int = 17) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, dim])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, dim])
    node = helper.make_node(op, ["x"], ["y"], name="the_node")
    graph = helper.make_graph([node], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tinyc: error:")
    for word in words:
        assert word in lines[0]


def test_unsupported_op_names_op_node_and_opset(tmp_path: Path) -> None:
    model = save(relu_model("NonZero"), tmp_path / "m.onnx")
    out = tmp_path / "out"
    proc = run_cli(str(model), "-o", str(out))
    assert_one_line_error(proc, 4, "NonZero", "the_node", "opset 17")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\xffnot a protobuf at all\x12")
    proc = run_cli(str(bad), "-o", str(tmp_path / "out"))
    assert_one_line_error(proc, 3, "not a valid ONNX file")
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path: Path) -> None:
    proc = run_cli(str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "out"))
    assert_one_line_error(proc, 2, "no such file")


def test_symbolic_shape_needs_binding(tmp_path: Path) -> None:
    model = save(relu_model(dim="n"), tmp_path / "m.onnx")
    proc = run_cli(str(model), "-o", str(tmp_path / "out"))
    assert_one_line_error(proc, 4, "'x'", "symbolic", "--shape")
    assert not (tmp_path / "out").exists()
    proc = run_cli(str(model), "-o", str(tmp_path / "out"), "--shape", "x=1x7")
    assert proc.returncode == 0, proc.stderr
    header = (tmp_path / "out" / "m.h").read_text()
    assert "#define M_INPUT0_SIZE 7" in header


def test_bad_shape_flag(tmp_path: Path) -> None:
    model = save(relu_model(), tmp_path / "m.onnx")
    assert_one_line_error(run_cli(str(model), "-o", str(tmp_path / "o"), "--shape", "x=1xz"), 2)
    proc = run_cli(str(model), "-o", str(tmp_path / "o"), "--shape", "q=1x4")
    assert_one_line_error(proc, 2, "q")


def test_old_opset_is_refused(tmp_path: Path) -> None:
    # each op states the oldest opset whose form it reads (Relu: 6, before consumed_inputs went)
    model = save(relu_model(opset=5), tmp_path / "m.onnx")
    assert_one_line_error(run_cli(str(model), "-o", str(tmp_path / "o")), 4, "opset 5")


def test_output_is_deterministic_and_self_contained(tmp_path: Path) -> None:
    src = MODELS / "digits_cnn.onnx"
    assert main([str(src), "-o", str(tmp_path / "a"), "--name", "net"]) == 0
    assert main([str(src), "-o", str(tmp_path / "b"), "--name", "net"]) == 0
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    assert a.keys() == b.keys()
    for name in a.keys() - {".tinyc-manifest"}:  # the manifest hashes the provenance comment
        # the provenance comment records the -o argument; everything else is identical
        strip = lambda t: b"\n".join(x for x in t.split(b"\n") if b"Command:" not in x)  # noqa: E731
        assert strip(a[name]) == strip(b[name]), name
    assert {"net.c", "net.h", "net_tinyc_rt.h"} <= a.keys()
    header = a["net.h"].decode()
    for macro in ("NET_ARENA_SIZE", "NET_NUM_INPUTS 1", "NET_NUM_OUTPUTS 1",
                  "NET_INPUT0_SIZE 64", "NET_OUTPUT0_SIZE 10"):
        assert macro in header
    assert "int net_run(const float *input0, float *output0);" in header
    source = a["net.c"].decode()
    for include in ("<stdio.h>", "<stdlib.h>", "malloc"):
        assert include not in source


def test_existing_output_dir_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "user_notes.txt").write_text("mine")
    assert main([str(MODELS / "digits_cnn.onnx"), "-o", str(out)]) == 0
    assert (out / "user_notes.txt").read_text() == "mine"
    assert (out / "digits_cnn.c").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_verify_reports_errors_and_passes(tmp_path: Path) -> None:
    x = np.load(MODELS / "digits_test_x.npy")[:1]
    np.save(tmp_path / "x.npy", x)
    proc = run_cli("verify", str(MODELS / "digits_cnn.onnx"), "--input", str(tmp_path / "x.npy"))
    assert proc.returncode == 0, proc.stderr
    assert "max abs err" in proc.stdout
    assert "vs onnxruntime (rtol 0.0001, atol 1e-05): ok" in proc.stdout


def test_verify_drives_an_external_arena(tmp_path: Path) -> None:
    """An `--arena external` build has only NAME_run_with_arena: verify gives it an arena
    (filled with non-zero bytes, under ASan) instead of calling a NAME_run that is not there."""
    x = np.load(MODELS / "digits_test_x.npy")[:1]
    np.save(tmp_path / "x.npy", x)
    proc = run_cli("verify", str(MODELS / "digits_cnn.onnx"), "--input", str(tmp_path / "x.npy"),
                   "--arena", "external", "--sanitize")
    assert proc.returncode == 0, proc.stderr
    assert "vs onnxruntime (rtol 0.0001, atol 1e-05): ok" in proc.stdout
    assert "verify ok against onnxruntime" in proc.stdout


def test_help_lists_exit_codes() -> None:
    proc = run_cli("compile", "--help")
    assert proc.returncode == 0
    assert "exit codes" in proc.stdout and "unsupported" in proc.stdout


@pytest.mark.parametrize(
    ("stem", "cname"),
    [("my model!", "my_model"), ("123net", "model_123net"), ("a-b.c", "a_b_c"),
     ("tinyc_gemm", "model"), ("Net", "net")],
)
def test_default_names_are_sanitized(tmp_path: Path, stem: str, cname: str) -> None:
    """The name from the file stem is made safe; `--name` itself must already be (exit 2)."""
    model = tmp_path / f"{stem}.onnx"
    model.write_bytes((MODELS / "digits_cnn.onnx").read_bytes())
    assert main([str(model), "-o", str(tmp_path / "o")]) == 0
    header = (tmp_path / "o" / f"{cname}.h").read_text()
    assert f"int {cname}_run(" in header
    assert f"#define {cname.upper()}_ARENA_SIZE" in header
    assert main([str(model), "-o", str(tmp_path / "o2"), "--name", stem]) == 2
    assert not (tmp_path / "o2").exists()
