"""The CLI's last line of defence: every failure is one line on stderr with a documented
exit code, text from the model or the command line is shown escaped, and nothing but errors
reaches stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from tests.clirun import assert_one_line, cli
from tinyc.cli import shown

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
DIGITS = str(MODELS / "digits_cnn.onnx")


def test_shown_escapes_everything_a_terminal_would_interpret() -> None:
    assert shown("plain name_1 (ok) é") == "plain name_1 (ok) é"
    assert shown("a\nb\r\tc") == "a\\nb\\r\\tc"
    assert shown("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert shown("abc\u202edef\u200b") == "abc\\u202edef\\u200b"
    assert shown("\udcff\x00") == "\\udcff\\x00"


def test_cli_errors_show_hostile_text_escaped_on_one_line(tmp_path: Path) -> None:
    model = DIGITS
    line = assert_one_line(cli(model, "-o", str(tmp_path / "o"), "--shape", "x\n\x1b[2J=1"), 2)
    assert "x\\n\\x1b[2J" in line
    line = assert_one_line(cli(model, "-o", str(tmp_path / "o"), "--target", "m4\u202e"), 2)
    assert "m4\\u202e" in line
    line = assert_one_line(cli(model, "-o", str(tmp_path / "o"), "--bogus-flag\n"), 2)
    assert "--bogus-flag\\n" in line
    assert not (tmp_path / "o").exists()


def test_numpy_warnings_stay_off_stderr(tmp_path: Path) -> None:
    """1/0 and 0/0 folded at compile time warn in numpy; the CLI's stderr stays empty."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    one = helper.make_tensor("one", TensorProto.FLOAT, [2], [1.0, 0.0])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [2], [0.0, 0.0])
    nodes = [helper.make_node("Div", ["one", "zero"], ["q"]),
             helper.make_node("Add", ["x", "q"], ["y"])]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[one, zero])
    model = tmp_path / "m.onnx"
    model.write_bytes(helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    env = {**os.environ, "PYTHONWARNINGS": "always"}
    proc = cli(str(model), "-o", str(tmp_path / "out"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_unreadable_input_data_is_a_usage_error(tmp_path: Path) -> None:
    """Garbage, a pickled object array, and a header claiming 2^46 floats (MemoryError)."""
    (tmp_path / "garbage.npy").write_bytes(b"not numpy at all\n")
    np.save(tmp_path / "pickled.npy", np.array([{}], dtype=object), allow_pickle=True)
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (2**40, 1, 8, 8)})
        f.write(bytes(64))
    for name, kind in (("garbage", "ValueError"), ("pickled", "ValueError"),
                       ("huge", "MemoryError")):
        line = assert_one_line(cli("verify", DIGITS, "--input", str(tmp_path / f"{name}.npy")), 2)
        assert line.endswith(f"{name}.npy: not a .npy or .npz file ({kind})")


def test_a_hostile_node_name_reaches_the_terminal_escaped(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("NonZero", ["x"], ["y"], name="evil\n\x1b[31mred\u202e")
    model = helper.make_model(helper.make_graph([node], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    line = assert_one_line(cli(str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out")), 4)
    assert "node 'evil\\n\\x1b[31mred\\u202e'" in line
    assert "\x1b" not in line and not (tmp_path / "out").exists()


def test_a_reader_that_leaves_stops_the_cli_quietly() -> None:
    """`tinyc ir m.onnx | head -1`: exit 141 (128 + SIGPIPE), nothing on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "tinyc", "ir", DIGITS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    assert proc.stderr.read() == b""
    assert proc.wait() == 141
