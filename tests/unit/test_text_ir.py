"""Text IR: print -> parse -> print is the identity, parsing rebuilds a verifiable graph with
the same structure and constant bits, files round-trip, and bad input gets a located error."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lark import Lark
from lark import logger as lark_logger

from tinyc.errors import IRError
from tinyc.frontend.onnx import load_onnx
from tinyc.interp import run_graph
from tinyc.ir import DType, Graph, Node, QuantParams, TensorType, Value
from tinyc.ir.text import (
    _EXAMPLES,
    TextIRError,
    external_constants,
    grammar_path,
    load_text_ir,
    parse_graph,
    print_graph,
    save_text_ir,
)
from tinyc.ir.verify import verify

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
EXAMPLE_MODELS = sorted(MODELS.glob("*.onnx"))


# -- helpers ----------------------------------------------------------------------------------


def same_attr(a: Any, b: Any) -> bool:
    """Attribute equality that treats NaN as equal to NaN and compares arrays by bits."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_attr(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def same_type(a: TensorType, b: TensorType) -> bool:
    if (a.dtype, a.shape) != (b.dtype, b.shape) or (a.quant is None) != (b.quant is None):
        return False
    if a.quant is None or b.quant is None:
        return True
    qa, qb = a.quant, b.quant
    return (
        qa.axis == qb.axis
        and qa.zero_point == qb.zero_point
        and same_attr(list(qa.scale), list(qb.scale))
    )


def assert_same_graph(a: Graph, b: Graph) -> None:
    """Structure, names, types, attributes and constant bits agree (not object identity)."""
    assert a.name == b.name
    assert a.metadata == b.metadata
    assert [v.name for v in a.inputs] == [v.name for v in b.inputs]
    assert [v.name for v in a.outputs] == [v.name for v in b.outputs]
    assert [v.name for v in a.constants] == [v.name for v in b.constants]
    for va, vb in zip(a.values(), b.values(), strict=True):
        assert va.name == vb.name
        assert same_type(va.type, vb.type), (va, vb)
        assert len(va.uses) == len(vb.uses), va.name
        if va.const is None:
            assert vb.const is None
        else:
            assert vb.const is not None
            assert va.const.dtype == vb.const.dtype and va.const.shape == vb.const.shape
            assert va.const.tobytes() == vb.const.tobytes(), va.name
    assert len(a.nodes) == len(b.nodes)
    for na, nb in zip(a.nodes, b.nodes, strict=True):
        assert (na.op, na.name) == (nb.op, nb.name)
        assert [None if v is None else v.name for v in na.inputs] == [
            None if v is None else v.name for v in nb.inputs
        ]
        assert [v.name for v in na.outputs] == [v.name for v in nb.outputs]
        assert sorted(na.attrs) == sorted(nb.attrs)
        for key in na.attrs:
            assert same_attr(na.attrs[key], nb.attrs[key]), (na.op, key)


def roundtrip(graph: Graph, inline_limit: int = 16) -> Graph:
    """Print, parse, and check the second print is the first."""
    text = print_graph(graph, inline_limit=inline_limit)
    parsed = parse_graph(text, external_constants(graph, inline_limit=inline_limit))
    assert print_graph(parsed, inline_limit=inline_limit) == text
    assert_same_graph(graph, parsed)
    return parsed


def add_node(graph: Graph, op: str, inputs: list[Value | None], names: list[str],
             types: list[TensorType], name: str = "", **attrs: Any) -> list[Value]:
    outputs = [Value(n, t) for n, t in zip(names, types, strict=True)]
    graph.add_node(Node(op, inputs, outputs, attrs, name=name))
    return outputs


def odd_graph() -> Graph:
    """Quantized types, odd names, absent inputs, two outputs, scalars, inf/nan attributes."""
    g = Graph("weird graph/1")
    g.metadata = {"producer": 'hand "made"', "onnx opset": "17"}
    q8 = QuantParams((0.0123,), (-5,))
    x = g.add_input("weird name/1", TensorType(DType.I8, (1, 2, 3, 3), q8))
    xf = g.add_input("onnx::in.0", TensorType(DType.F32, (1, 2, 3, 3)))
    w = g.add_const("w\tquote\"\\back", np.arange(36, dtype=np.int8).reshape(2, 2, 3, 3))
    w.type = TensorType(DType.I8, (2, 2, 3, 3), QuantParams((0.5, 0.25), (0, 1), axis=0))
    s = g.add_input("scalar", TensorType(DType.F32, ()))
    g.add_const("specials", np.array([np.inf, -np.inf, np.nan, -0.0, 1e-45, 3.4e38], np.float32))
    g.add_const("halves", np.array([0.1, 65504, -0.0], np.float16))
    g.add_const("doubles", np.array([0.1, 1e308, 5e-324], np.float64))
    g.add_const("ints", np.array([-(2**63), 2**63 - 1], np.int64))
    g.add_const("u64", np.array([2**64 - 1], np.uint64))
    g.add_const("flags", np.array([[True, False]], np.bool_))
    g.add_const("empty", np.zeros((0, 3), np.float32))
    g.add_const("unicode é ∑ 🙂", np.arange(40, dtype=np.float32) / 7)
    payload = np.array([0x7FC00001], np.uint32).view(np.float32)  # NaN with a payload
    g.add_const("nan payload", payload)
    (c,) = add_node(g, "Conv", [x, w, None], ["c 0"],
                    [TensorType(DType.I8, (1, 2, 3, 3), QuantParams((0.02,), (3,)))],
                    name="/conv1/Conv", activation="", activation_params=[], dilations=[1, 1],
                    group=1, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    (a,) = add_node(g, "Add", [xf, s], ["sum"], [TensorType(DType.F32, (1, 2, 3, 3))])
    (k,) = add_node(g, "Clip", [a], ["clipped"], [TensorType(DType.F32, (1, 2, 3, 3))],
                    name="", min=float("-inf"), max=float("inf"), odd=float("nan"),
                    tiny=5e-324, table=np.array([[1, 2]], np.int64), words=["a", "b\n"],
                    nested=[[1, 2], [], [3.5]], flag=True)
    y, mask = add_node(g, "Dropout", [k], ["y", "mask"],
                       [TensorType(DType.F32, (1, 2, 3, 3)), TensorType(DType.BOOL, (1, 2, 3, 3))],
                       name='drop "out"', ratio=0.5, seed=0)
    g.outputs = [c, y, mask, xf]
    return g


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLE_MODELS, ids=lambda p: p.stem)
def test_example_models_roundtrip(path: Path) -> None:
    graph = load_onnx(path)
    verify(graph)
    parsed = roundtrip(graph)
    verify(parsed)


def test_odd_graph_roundtrip() -> None:
    graph = odd_graph()
    verify(graph)
    parsed = roundtrip(graph)
    verify(parsed)
    text = print_graph(graph)
    assert 'graph @"weird graph/1"(%"weird name/1": i8[1,2,3,3] q(0.0123, -5)' in text
    assert "i8[2,2,3,3] q[axis=0](0.5, 0.25; 0, 1)" in text
    assert "%scalar: f32[]" in text
    assert "%Conv" not in text and '= Conv(%"weird name/1", %"w\\tquote\\"\\\\back", _)' in text
    assert '%y, %mask = Dropout(%clipped) {ratio = 0.5, seed = 0} : f32[1,2,3,3], bool[1,2,3,3]' \
        in text
    assert "max = inf, min = -inf, nested = [[1, 2], [], [3.5]], odd = nan" in text
    assert "activation_params = []" in text
    assert '%"nan payload" = const f32[1] @"nan payload"' in text  # bits the text can't carry
    assert "dense<[inf, -inf, nan, -0.0, 1e-45, 3.4e+38]>" in text


def test_parse_builds_use_lists_and_producers() -> None:
    parsed = roundtrip(odd_graph())
    conv, add, clip, drop = parsed.nodes
    x, xf, _scalar = parsed.inputs
    assert [(u.node, u.index) for u in x.uses] == [(conv, 0)]
    assert conv.inputs[2] is None and conv.outputs[0].producer is conv
    assert [v.index for v in drop.outputs] == [0, 1]
    assert drop.inputs[0] is clip.outputs[0] and clip.outputs[0].users() == [drop]
    assert parsed.outputs[3] is xf and parsed.outputs[2] is drop.outputs[1]
    assert isinstance(clip.attrs["flag"], bool) and isinstance(clip.attrs["tiny"], float)
    assert clip.attrs["table"].dtype == np.int64 and clip.attrs["table"].shape == (1, 2)


def test_quantized_types_roundtrip_exactly() -> None:
    quants = [
        QuantParams((0.1,), (0,)),
        QuantParams((1 / 3,), (-128,)),
        QuantParams((float(np.float32(0.0039215686)),), (255,)),
        QuantParams((0.5, 2.0**-20, 1e-30), (0, -1, 7), axis=1),
        QuantParams((0.25,), (0,), axis=0),
        QuantParams((), (), axis=0),
    ]
    for quant in quants:
        g = Graph("q")
        x = g.add_input("x", TensorType(DType.I8, (1, 3), quant))
        g.outputs = [x]
        parsed = roundtrip(g)
        assert parsed.inputs[0].type == x.type


def test_scalar_constant_roundtrip() -> None:
    g = Graph("g")
    x = g.add_input("x", TensorType(DType.F32, (2,)))
    s = g.add_const("s", np.array(1.5, np.float32))
    add_node(g, "Add", [x, s], ["y"], [TensorType(DType.F32, (2,))])
    g.outputs = [g.nodes[0].outputs[0]]
    assert "%s = const f32[] dense<[1.5]>" in print_graph(g)
    verify(roundtrip(g))


def test_inline_limit_moves_data_out_of_line() -> None:
    g = Graph("g")
    x = g.add_input("x", TensorType(DType.F32, (4,)))
    c = g.add_const("c", np.array([1, 2, 3, 4], np.float32))
    add_node(g, "Add", [x, c], ["y"], [TensorType(DType.F32, (4,))])
    g.outputs = [g.nodes[0].outputs[0]]
    assert "dense<[1.0, 2.0, 3.0, 4.0]>" in print_graph(g)
    assert "%c = const f32[4] @c" in print_graph(g, inline_limit=3)
    assert list(external_constants(g, inline_limit=3)) == ["c"]
    roundtrip(g, inline_limit=0)


def test_keywords_as_names_roundtrip() -> None:
    """Keywords are only keywords where the grammar expects them; `const` as an op is quoted."""
    words = ["q", "loc", "axis", "true", "false", "dense", "inf", "nan", "f32", "bool", "graph",
             "meta", "return", "const", "_"]
    g = Graph("return")
    x = g.add_input("const", TensorType(DType.F32, (1,)))
    for word in words:
        out = Value(f"{word}_out", TensorType(DType.F32, (1,)))
        g.add_node(Node(word, [x], [out], {w: 1 for w in words}, name=word))
    g.outputs = [x]
    assert '"const"(%const)' in print_graph(g)
    roundtrip(g)


def test_hand_written_text_parses_and_verifies() -> None:
    text = """
    // comments and free layout are fine
    graph @tiny(%x: f32[1,2]) -> (%y: f32[1,2]) {
      %k = const f32[1,2] dense<[0.5, -1]>   // an int literal is fine for float data
      %s = Mul(%x,
               %k) : f32[1,2]
      %y = Relu(%s) : f32[1,2]
      return %y
    }
    """
    graph = parse_graph(text)
    verify(graph)
    assert graph.constants[0].const.tolist() == [[0.5, -1.0]]
    out = run_graph(graph, {"x": np.array([[2.0, 3.0]], np.float32)})
    np.testing.assert_array_equal(out[0], [[1.0, 0.0]])


def test_constants_roundtrip_bit_exactly_through_files(tmp_path: Path) -> None:
    graph = odd_graph()
    paths = save_text_ir(graph, tmp_path / "odd.tir")
    assert paths == [tmp_path / "odd.tir", tmp_path / "odd.npz"]
    loaded = load_text_ir(tmp_path / "odd.tir")
    assert_same_graph(graph, loaded)
    verify(loaded)
    assert print_graph(loaded) == (tmp_path / "odd.tir").read_text(encoding="utf-8")
    first = (tmp_path / "odd.npz").read_bytes()
    save_text_ir(loaded, tmp_path / "odd.tir")
    assert (tmp_path / "odd.npz").read_bytes() == first  # reproducible archive


@pytest.mark.parametrize("path", EXAMPLE_MODELS[:3], ids=lambda p: p.stem)
def test_model_files_roundtrip(path: Path, tmp_path: Path) -> None:
    graph = load_onnx(path)
    save_text_ir(graph, tmp_path / f"{path.stem}.tir")
    loaded = load_text_ir(tmp_path / f"{path.stem}.tir")
    assert_same_graph(graph, loaded)


def test_small_graph_writes_no_npz(tmp_path: Path) -> None:
    g = Graph("g")
    g.outputs = [g.add_input("x", TensorType(DType.F32, (2,)))]
    assert save_text_ir(g, tmp_path / "g.tir") == [tmp_path / "g.tir"]
    assert load_text_ir(tmp_path / "g.tir").inputs[0].shape == (2,)


def test_interpreter_agrees_on_reparsed_model() -> None:
    graph = load_onnx(MODELS / "digits_cnn.onnx")
    parsed = parse_graph(print_graph(graph), external_constants(graph))
    x = np.load(MODELS / "digits_test_x.npy")[:4]
    for i in range(len(x)):
        feeds = {"input": x[i : i + 1]}
        expected = run_graph(graph, feeds)
        got = run_graph(parsed, feeds)
        for e, g in zip(expected, got, strict=True):
            assert e.dtype == g.dtype and e.tobytes() == g.tobytes()


# -- errors -----------------------------------------------------------------------------------

HEAD = "graph @g(%x: f32[1]) -> (%y: f32[1]) {\n"


def body(*lines: str) -> str:
    """A complete graph around `lines`, so that only they can be wrong."""
    return HEAD + "".join(f"  {line}\n" for line in lines) + "  return %y\n}\n"


RELU = "%y = Relu(%x) : f32[1]"


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        (HEAD + "  %y = Relu(%x)\n  return %y\n}\n", ":3:3:", "missing ': <type>'"),
        ("graph @g(%x: f32) -> () {\n  return\n}\n", ":1:17:", "missing shape"),
        (body("%y = Relu(%z) : f32[1]"), ":2:13:", "%z is not defined"),
        (HEAD + f"  {RELU}\n}}\n", ":3:1:", "must end with `return`"),
        (body("%y = Relu(%x) : f32[1] ?"), ":2:26:", "unexpected '?'"),
        (body("%c = const i8[2] dense<[1, 300]>", RELU), ":2:30:", "out of range for i8"),
        (body("%c = const i8[3] dense<[1, 2]>", RELU), ":2:20:", "2 element(s), i8[3] needs 3"),
        (body("%c = const f32[2] @c", RELU), ":2:21:", "no data for constant @c"),
        (body("%x = Relu(%x) : f32[1]", RELU), ":2:3:", "%x is already defined at line 1"),
        (body("%y = Relu(%x) {a = 1, a = 2} : f32[1]"), ":2:25:", "'a' is given twice"),
        (body('%y = Relu(%"a\\q") : f32[1]'), ":2:13:", "unknown escape"),
        (body("%y = Relu(%x) : f32[1] q(0.5, 1.5)"), ":2:33:", "expected an integer"),
        (body("%y = Relu(%x) : f32[1] q[axis=0](0.5; 1, 2)"), ":2:33:", "1 scale(s)"),
        (HEAD + f"  {RELU}\n  return %x\n}}\n", ":3:10:", "the signature says %y"),
        (body("%y = Relu(%x) : f32[2]"), ":1:26:", "declared f32[1]"),
        (body("%y = Relu(%x) : f32[1], f32[1]"), ":2:3:", "1 value(s) but lists 2"),
        (HEAD + f"  {RELU}\n  return %y\n", ":3:12:", "end of input"),
        ("", ":1:1:", "expected one of 'graph', 'meta'"),
    ],
)
def test_errors_are_located(text: str, where: str, fragment: str) -> None:
    with pytest.raises(IRError) as info:
        parse_graph(text, source="t.tir")
    message = str(info.value)
    assert message.startswith("t.tir" + where), message
    assert fragment in message, message
    assert "\n" not in message  # the CLI prints every error on one line
    assert "Traceback" not in message and "lark" not in message.lower()
    err = info.value
    assert isinstance(err, TextIRError)
    snippet, caret = err.context.split("\n")
    assert (f"t.tir:{err.line}:{err.column}:") == "t.tir" + where
    assert caret == " " * (err.column - 1) + "^"
    if text:
        assert snippet == text.splitlines()[err.line - 1]


def test_constant_data_must_match_its_type() -> None:
    text = HEAD.replace("%y: f32[1]", "") + "  %c = const f32[2] @c\n  return\n}\n"
    with pytest.raises(IRError, match="data of @c is int64"):
        parse_graph(text, {"c": np.array([1, 2])})


def test_load_reports_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.tir"
    path.write_text(HEAD + "  %y = Relu(%x)\n  return %y\n}\n")
    with pytest.raises(IRError, match=r"bad\.tir:3:3: "):
        load_text_ir(path)


def test_error_examples_still_fail_with_their_label() -> None:
    for label, texts in _EXAMPLES.items():
        for text in texts:
            with pytest.raises(IRError, match="unexpected") as info:
                parse_graph(text)
            assert label in str(info.value), (text, str(info.value))


# -- grammar ----------------------------------------------------------------------------------


def test_grammar_is_lalr_without_conflicts(caplog: pytest.LogCaptureFixture) -> None:
    """lark resolves shift/reduce conflicts silently (as shift); debug mode logs them."""
    with caplog.at_level(logging.DEBUG, logger=lark_logger.name):
        Lark(grammar_path().read_text(), parser="lalr", maybe_placeholders=False, debug=True)
    conflicts = [r.getMessage() for r in caplog.records if "conflict" in r.getMessage().lower()]
    assert conflicts == []


def test_grammar_found_in_source_tree_and_in_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert grammar_path() == Path(__file__).resolve().parents[2] / "grammar" / "tinyc.lark"
    packaged = tmp_path / "tinyc" / "grammar"
    packaged.mkdir(parents=True)
    (packaged / "tinyc.lark").write_text("start: \"x\"\n")
    monkeypatch.setattr("tinyc.ir.text.resources.files", lambda _pkg: tmp_path / "tinyc")
    assert grammar_path() == packaged / "tinyc.lark"
