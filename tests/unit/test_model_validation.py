"""Hostile and broken models: each is refused with one line, the documented exit code and a
message naming what is wrong, before anything is written; nothing reaches exit 70.

The table builds each bad model with onnx.helper; the hypothesis test draws attribute values
and types for a few ops from their ONNX schemas."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from tests.clirun import strip_progress
from tests.conftest import MODELS
from tinyc.backend.cliterals import c_scalar, check_c_ints
from tinyc.cli import main
from tinyc.errors import ModelError, UnsupportedError
from tinyc.frontend.isolated import run_isolated
from tinyc.harness import STRICT_FLAGS
from tinyc.ir import DType
from tinyc.ir.limits import check_target_int

X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto] | None = None,
           inits: tuple[np.ndarray, ...] | dict[str, np.ndarray] = (),
           opset: int = 17) -> onnx.ModelProto:
    tensors = [numpy_helper.from_array(v, k) for k, v in dict(inits).items()]
    graph = helper.make_graph(nodes, "g", [X] if inputs is None else inputs, [Y], tensors)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=8)


def _vi(name: str, shape: list[int], elem: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _pool(**attrs: object) -> onnx.ModelProto:
    return _model([helper.make_node("MaxPool", ["x"], ["y"], name="pool", **attrs)])


W3 = {"w": np.ones((2, 1, 3, 3), np.float32)}


def _conv(**attrs: object) -> onnx.ModelProto:
    return _model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)], inits=W3)


def _batchnorm(**attrs: object) -> onnx.ModelProto:
    params = {n: np.ones(1, np.float32) for n in "sbmv"}
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn",
                            **attrs)
    return _model([node], inits=params)


def _init_with_dims(dims: list[int]) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((2, 4), np.float32), "w")
    w.dims[:] = dims
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")], "g",
                              [_vi("x", [2, 4])], [Y], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _fill(op: str, consts: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A constant-input `op` feeding an Add with a graph input, so nothing folds it away."""
    nodes = [helper.make_node(op, list(consts), ["c"], name="big"),
             helper.make_node("Add", ["c", "z"], ["y"], name="add")]
    return _model(nodes, [_vi("z", [1])], consts)


def _relu_bytes(old: bytes, new: bytes) -> bytes:
    """A Relu model whose serialized bytes have `old` replaced (to forge invalid UTF-8)."""
    model = _model([helper.make_node("Relu", ["x"], ["y"], name="relu")])
    return model.SerializeToString().replace(old, new)


@dataclass(frozen=True)
class Bad:
    id: str
    build: Callable[[], onnx.ModelProto | bytes]
    code: int
    words: tuple[str, ...]


HUGE = 2**62
BAD_MODELS = [
    # attribute ranges (Attr bounds, window geometry)
    Bad("maxpool_dilations_0", lambda: _pool(kernel_shape=[2, 2], dilations=[0, 0]), 3,
        ("MaxPool", "node 'pool'", "opset 17", "'dilations'", "[0, 0]")),
    Bad("maxpool_kernel_0", lambda: _pool(kernel_shape=[0, 0]), 3,
        ("MaxPool", "'kernel_shape'")),
    Bad("maxpool_negative_strides", lambda: _pool(kernel_shape=[2, 2], strides=[-1, -1]), 3,
        ("MaxPool", "'strides'")),
    Bad("maxpool_negative_pads", lambda: _pool(kernel_shape=[2, 2], pads=[-1, 0, 0, 0]), 3,
        ("MaxPool", "'pads'")),
    Bad("maxpool_kernel_bigger_than_input", lambda: _pool(kernel_shape=[9, 9]), 3,
        ("MaxPool", "'pool'", "spans 9", "8 + 0 + 0")),
    Bad("maxpool_dilated_kernel_bigger", lambda: _pool(kernel_shape=[3, 3], dilations=[4, 1]),
        3, ("MaxPool", "spans 9")),
    Bad("maxpool_strides_2_62", lambda: _pool(kernel_shape=[2, 2], strides=[HUGE, HUGE]), 4,
        ("MaxPool", "'strides'", str(HUGE), "32-bit")),
    Bad("maxpool_ceil_mode_2", lambda: _pool(kernel_shape=[2, 2], ceil_mode=2), 3,
        ("'ceil_mode'",)),
    Bad("maxpool_strides_rank", lambda: _pool(kernel_shape=[2, 2], strides=[1]), 3,
        ("MaxPool", "strides", "2 values")),
    Bad("maxunpool_strides_rank", lambda: _model(
        [helper.make_node("MaxUnpool", ["x", "i"], ["y"], name="unpool", kernel_shape=[2, 2],
                          strides=[2])],
        [_vi("x", [1, 1, 4, 4]), _vi("i", [1, 1, 4, 4], TensorProto.INT64)]), 3,
        ("MaxUnpool", "'unpool'", "strides must have 2 values")),
    Bad("conv_strides_0", lambda: _conv(strides=[0, 0]), 3, ("Conv", "node 'conv'", "'strides'")),
    Bad("conv_dilations_0", lambda: _conv(dilations=[0, 1]), 3, ("Conv", "'dilations'")),
    Bad("conv_group_0", lambda: _conv(group=0), 3, ("Conv", "'group'")),
    Bad("conv_group_not_dividing", lambda: _conv(group=2), 3, ("Conv", "group 2")),
    Bad("conv_kernel_shape_disagrees", lambda: _conv(kernel_shape=[5, 5]), 3,
        ("Conv", "kernel_shape [5, 5]")),
    Bad("conv_transpose_output_shape_rank", lambda: _model(
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="ct",
                          output_shape=[5, 5, 5])], [_vi("x", [1, 2, 3, 3])], W3), 3,
        ("ConvTranspose", "'ct'", "output_shape must have 2 values")),
    Bad("batchnorm_negative_epsilon", lambda: _batchnorm(epsilon=-1.0), 3,
        ("BatchNormalization", "'epsilon'")),
    Bad("batchnorm_nan_epsilon", lambda: _batchnorm(epsilon=float("nan")), 3,
        ("BatchNormalization", "'epsilon'", "nan")),
    Bad("lpnorm_p_3", lambda: _model([helper.make_node("LpNormalization", ["x"], ["y"],
                                                      name="lp", p=3)]), 3, ("'p'",)),
    Bad("depth_to_space_blocksize_0", lambda: _model(
        [helper.make_node("DepthToSpace", ["x"], ["y"], name="d2s", blocksize=0)]), 3,
        ("DepthToSpace", "'blocksize'")),
    # attribute types and names, against the ONNX schema
    Bad("conv_group_as_float", lambda: _conv(group=1.0), 3,
        ("Conv", "node 'conv'", "opset 17", "'group'", "INT", "FLOAT")),
    Bad("batchnorm_epsilon_as_int", lambda: _batchnorm(epsilon=1), 3,
        ("BatchNormalization", "'epsilon'", "FLOAT", "INT")),
    Bad("conv_strides_as_string", lambda: _conv(strides="1,1"), 3,
        ("Conv", "'strides'", "INTS", "STRING")),
    Bad("conv_internal_attribute", lambda: _conv(activation="Relu"), 3,
        ("Conv", "'activation'", "not an attribute")),
    Bad("conv_auto_pad_invalid_utf8", lambda: _conv(auto_pad=b"\xff\xfe"), 3,
        ("Conv", "'auto_pad'", "UTF-8")),
    # structure
    Bad("missing_required_input", lambda: _model([helper.make_node("Conv", ["x"], ["y"],
                                                                  name="conv")]), 3,
        ("Conv", "required input 1", "'W'")),
    Bad("too_many_inputs", lambda: _model([helper.make_node("Relu", ["x", "x"], ["y"],
                                                           name="relu")]), 3,
        ("Relu", "2 inputs")),
    Bad("duplicate_value_name", lambda: _model([helper.make_node("Relu", ["x"], ["y"]),
                                                helper.make_node("Neg", ["x"], ["y"])]), 3,
        ("'y'", "defined twice")),
    Bad("cycle", lambda: _model([helper.make_node("Relu", ["b"], ["a"]),
                                 helper.make_node("Relu", ["a"], ["b"]),
                                 helper.make_node("Relu", ["a"], ["y"])]), 3, ("cycle",)),
    Bad("op_type_invalid_utf8", lambda: _relu_bytes(b"Relu", b"R\xfflu"), 3,
        ("op_type", "UTF-8")),
    Bad("value_name_invalid_utf8", lambda: _relu_bytes(b"\x12\x01y", b"\x12\x01\xff"), 3,
        ("'output'", "UTF-8")),
    Bad("unknown_data_type", lambda: _model([helper.make_node("Relu", ["x"], ["y"])],
                                            [_vi("x", [2], 99)]), 3,
        ("input 'x'", "element type 99")),
    Bad("split_num_outputs_disagrees", lambda: _model(  # aborted onnx's shape inference
        [helper.make_node("Split", ["x"], ["y", "b", "c"], name="split", axis=1,
                          num_outputs=2)], [_vi("x", [2, 8])], opset=18), 3,
        ("Split", "node 'split'", "num_outputs is 2", "3 outputs")),
    Bad("split_num_outputs_2_31", lambda: _model(  # onnx's shape inference allocates them
        [helper.make_node("Split", ["x"], ["y", "b"], name="split", axis=1,
                          num_outputs=2**31)], [_vi("x", [2, 8])], opset=18), 3,
        ("Split", "num_outputs is 2147483648", "2 outputs")),
    # initializers
    Bad("initializer_dims_negative", lambda: _init_with_dims([-1, 4]), 3,
        ("initializer 'w'", "negative dimension", "[-1, 4]")),
    Bad("initializer_data_length", lambda: _init_with_dims([3, 4]), 3, ("initializer 'w'",)),
    Bad("initializer_dims_huge", lambda: _init_with_dims([100000, 100000, 100000]), 4,
        ("initializer 'w'", "1000000000000000 elements", "32-bit")),
    # sizes that do not fit the target's 32-bit int
    Bad("constant_of_shape_1e10", lambda: _fill(
        "ConstantOfShape", {"s": np.array([100000, 100000], np.int64)}), 4,
        ("'c'", "10000000000 elements", "32-bit")),
    Bad("range_1e10", lambda: _fill("Range", {"a": np.array(0, np.float32),
                                              "b": np.array(1e10, np.float32),
                                              "d": np.array(1, np.float32)}), 4,
        ("'c'", "10000000000", "32-bit")),
    Bad("input_of_2_64_bytes", lambda: _model([helper.make_node("Relu", ["x"], ["y"])],
                                              [_vi("x", [2**31, 2**31, 4])]), 4,
        ("2147483648", "32-bit")),
    Bad("arena_over_2_GiB", lambda: _model(
        [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["x"], ["b"]),
         helper.make_node("Add", ["a", "b"], ["y"])], [_vi("x", [300_000_000])]), 4,
        ("arena", "32-bit")),
]


def _run(tmp_path: Path, model: onnx.ModelProto | bytes, *flags: str,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, Path]:
    path = tmp_path / "m.onnx"
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    out = tmp_path / "out"
    code = main([str(path), "-o", str(out), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err, out


@pytest.mark.parametrize("bad", BAD_MODELS, ids=lambda b: b.id)
def test_bad_model_is_refused_in_one_line(
    bad: Bad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err, out = _run(tmp_path, bad.build(), capsys=capsys)
    assert code == bad.code, err
    assert err.startswith("tinyc: error: ") and err.count("\n") == 1, err
    for word in bad.words:
        assert word in err, (word, err)
    assert not out.exists()


def test_negative_shape_binding_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["n", 4])])
    code, _, err, out = _run(tmp_path, model, "--shape", "x=-3x4", capsys=capsys)
    assert code == 2 and "--shape" in err and err.count("\n") == 1
    assert not out.exists()


def test_initializer_shadowing_an_input_is_a_constant_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [_vi("x", [2, 4]), _vi("w", [2, 4])]
    model = _model([helper.make_node("Add", ["x", "w"], ["y"])], inputs,
                   {"w": np.ones((2, 4), np.float32)})
    code, stdout, err, out = _run(tmp_path, model, capsys=capsys)
    assert code == 0 and err == ""
    notes = [line for line in stdout.splitlines() if "constant" in line]
    assert notes == ["tinyc: note: inputs compiled as constants (their initializers): 'w'"]
    header = (out / "m.h").read_text()
    assert "#define M_NUM_INPUTS 1" in " ".join(header.split())
    assert "int m_run(const float *input0, float *output0);" in header


def test_initializers_listed_as_inputs_before_ir_4_need_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [_vi("x", [2, 4]), _vi("w", [2, 4])]
    model = _model([helper.make_node("Add", ["x", "w"], ["y"])], inputs,
                   {"w": np.ones((2, 4), np.float32)})
    model.ir_version = 3
    code, stdout, err, _ = _run(tmp_path, model, capsys=capsys)
    assert code == 0 and err == "" and "note" not in stdout


# -- calibration data -----------------------------------------------------------------------

_TRAIN = np.load(MODELS / "digits_train_x.npy")[:4]
BAD_CALIBRATION = {
    "overflow_1e38": (np.full_like(_TRAIN, 1e38), ("overflows float32",)),
    "nan": (np.where(np.arange(_TRAIN.size).reshape(_TRAIN.shape) == 3, np.nan, _TRAIN),
            ("NaN or infinity",)),
    "inf": (np.full_like(_TRAIN, -np.inf), ("NaN or infinity",)),
    "float64_beyond_float32": (np.full(_TRAIN.shape, 1e300), ("NaN or infinity", "f32")),
    "empty": (_TRAIN[:0], ("no calibration samples",)),
    "wrong_shape": (_TRAIN[:, :, :4], ("input 'input'", "[4, 1, 4, 8]")),
    "complex": (_TRAIN.astype(np.complex64), ("real numbers", "complex64")),
    "strings": (np.full(_TRAIN.shape, "a"), ("real numbers",)),
}


@pytest.mark.parametrize("case", sorted(BAD_CALIBRATION))
def test_bad_calibration_data_is_refused_in_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, words = BAD_CALIBRATION[case]
    np.save(tmp_path / "calib.npy", data)
    out = tmp_path / "out"
    code = main([str(MODELS / "digits_cnn.onnx"), "-o", str(out), "--quantize", "int8",
                 "--calib", str(tmp_path / "calib.npy")])
    err = capsys.readouterr().err
    lines = strip_progress(err).splitlines()  # the calibration step's line may come first
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("tinyc: error: "), err
    assert "Warning" not in err
    for word in words:
        assert word in lines[0], (word, err)
    assert not out.exists()


# -- empty outputs: no kernel call, and no parameter struct left unused ---------------------

EMPTY_OUTPUTS = {
    "pool_nd": lambda: _model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2, 2])],
                              [_vi("x", [0, 1, 4, 4, 4])]),
    "conv_transpose": lambda: _model([helper.make_node("ConvTranspose", ["x", "w"], ["y"])],
                                     [_vi("x", [0, 2, 3, 3])], W3),
}


@pytest.mark.parametrize("case", sorted(EMPTY_OUTPUTS))
def test_empty_outputs_give_c_that_builds_strictly(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err, out = _run(tmp_path, EMPTY_OUTPUTS[case](), capsys=capsys)
    assert code == 0, err
    sources = sorted(str(p) for p in out.glob("*.c"))
    proc = subprocess.run(["cc", *STRICT_FLAGS, "-c", "-I", str(out), *sources],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


# -- a crash in ONNX's C++ stays in a child process -----------------------------------------


def test_isolated_runs_report_values_errors_and_crashes() -> None:
    assert run_isolated("sum", lambda: {"a": (1, 2)}) == {"a": (1, 2)}
    with pytest.raises(UnsupportedError, match="too big"):
        run_isolated("check", lambda: check_target_int(2**40, "too big"))
    with pytest.raises(ModelError, match="abort crashed on this model"):
        run_isolated("abort", os.abort)


# -- the last guard where integers reach C --------------------------------------------------


def test_integer_literals_that_overflow_their_c_type_are_refused() -> None:
    assert c_scalar(2**31 - 1, DType.I32) == "2147483647"
    with pytest.raises(UnsupportedError, match="4294967296"):
        c_scalar(2**32, DType.I32)
    with pytest.raises(UnsupportedError, match="300"):
        c_scalar(300, DType.I8)
    text = "{1, 2147483647, 2.5f, 1e+38f, INT64_C(9223372036854775807), 4294967295u}"
    assert check_c_ints(text, "params") == text
    with pytest.raises(UnsupportedError, match="2147483648"):
        check_c_ints("{1, 2147483648}", "params")


# -- attribute values and types drawn from the ONNX schemas ---------------------------------

A = onnx.AttributeProto
_INTS = st.one_of(st.integers(-3, 9), st.sampled_from([-(2**63), -(2**31), 2**31, 2**62,
                                                       2**63 - 1]))
_FLOATS = st.one_of(st.floats(-4, 4), st.sampled_from([float("nan"), float("inf"), -1e38]))
_VALUES = {
    A.INT: _INTS,
    A.FLOAT: _FLOATS,
    A.STRING: st.sampled_from(["", "NOTSET", "SAME_UPPER", "VALID", "x" * 80, "\u202e"]),
    A.INTS: st.lists(_INTS, max_size=5),
    A.FLOATS: st.lists(_FLOATS, max_size=3),
}
_OPS = {  # op -> (inputs, initializers)
    "Conv": (["x", "w"], W3),
    "MaxPool": (["x"], {}),
    "AveragePool": (["x"], {}),
    "LpPool": (["x"], {}),
    "BatchNormalization": (["x", "s", "b", "m", "v"],
                           {n: np.ones(1, np.float32) for n in "sbmv"}),
    "Softmax": (["x"], {}),
    "DepthToSpace": (["x"], {}),
    "Flatten": (["x"], {}),
}


@st.composite
def _hostile_node(draw: st.DrawFn) -> onnx.ModelProto:
    op = draw(st.sampled_from(sorted(_OPS)))
    inputs, inits = _OPS[op]
    schema = onnx.defs.get_schema(op, 17, "")
    attrs = []
    for name in draw(st.lists(st.sampled_from(sorted(schema.attributes)), max_size=3,
                              unique=True)):
        kind = int(schema.attributes[name].type)
        if draw(st.integers(0, 9)) == 0:  # now and then the wrong type
            kind = draw(st.sampled_from(sorted(_VALUES)))
        if kind not in _VALUES:
            continue
        attrs.append(helper.make_attribute(name, draw(_VALUES[kind]), attr_type=kind))
    node = helper.make_node(op, inputs, ["y"], name="n")
    node.attribute.extend(attrs)
    return _model([node], inits=inits)


@settings(max_examples=40)
@given(model=_hostile_node())
def test_schema_drawn_attributes_never_crash(model: onnx.ModelProto, tmp_path_factory:
                                             pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("hostile")
    path = tmp / "m.onnx"
    path.write_bytes(model.SerializeToString())
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(path), "-o", str(tmp / "out")])
    assert code in range(6), err.getvalue()
    if code:
        assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("tinyc: error: ")
    else:
        assert err.getvalue() == ""
