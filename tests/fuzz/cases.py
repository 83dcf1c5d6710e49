"""Hostile-input cases for the fuzz suite, seeded and deterministic.

`make_case(kind, seed, index)` always returns the same case: its model bytes, the files
beside it, the tinyc command line and how OUT is prepared before the run. Five kinds:

  mutant     byte-level mutants of examples/models/*.onnx (bit flips, truncation, splices)
  attr       attribute values and types drawn from the op's ONNX schema
  names      hostile strings in every place a name can stand, in the model and on the CLI
  structure  hostile graphs: huge/negative dims, blow-ups, cycles, duplicates, bad enums
  outdir     hostile OUT directories and calibration data
"""

from __future__ import annotations

import io
import os
import random
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from tests.fuzz import models

KINDS = ("mutant", "attr", "names", "structure", "outdir")
MODELS_DIR = Path(__file__).resolve().parents[2] / "examples" / "models"
#: the examples mutants start from most of the time: small, so a mutant that compiles is
#: cheap to build; the big ones are drawn now and then
SMALL_EXAMPLES = ("digits_cnn.onnx", "digits_cnn_raw.onnx", "digits_qat.onnx", "kws_dscnn.onnx")
#: stands in for a name while a model is serialized, then replaced by raw (invalid UTF-8) bytes
PLACEHOLDER = "Zq9Zq9Zq"
#: `-o /` cases use this --name so that what they write into `/` can be found and removed
ROOT_PROBE_NAME = "fuzzrootprobe"


@dataclass
class Case:
    """One tinyc run. Paths in `argv` and `files` are relative to the case's working dir."""

    kind: str
    ident: str
    what: str
    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    out: str = "out"
    #: how OUT is prepared: "" (absent), "foreign", "previous", "readonly", "file",
    #: "dangling", "root" (`-o /`)
    prepare: str = ""
    #: tinyc arguments of an earlier run into OUT (the "previous" preparation)
    previous_argv: list[str] = field(default_factory=list)
    #: the model file, for the header's size check; "" when there is none
    model: str = "model.onnx"
    #: why tinyc must refuse this case ("" when exit 0 is fine)
    must_fail: str = ""

    def command(self) -> str:
        """The command line for bash, every unprintable character escaped."""
        return "tinyc " + " ".join(shell_quote(a) for a in self.argv)


def shell_quote(arg: str) -> str:
    """`arg` for bash: shlex's quoting, or $'...' with escapes when it has unprintables."""
    if arg.isprintable() and arg.isascii():
        return shlex.quote(arg)
    data = os.fsencode(arg)
    body = "".join(chr(b) if 32 <= b < 127 and b not in b"'\\" else f"\\x{b:02x}"
                   for b in data)
    return f"$'{body}'"


def parse_ident(ident: str) -> tuple[str, int, int]:
    """`kind-seed-index` (a case's ident) as (kind, seed, index)."""
    kind, seed, index = ident.rsplit("-", 2)
    if kind not in KINDS:
        raise ValueError(f"unknown case kind {kind!r} in {ident!r}")
    return kind, int(seed), int(index)


def make_case(kind: str, seed: int, index: int) -> Case:
    rng = random.Random(f"{seed}:{kind}:{index}")
    case = GENERATORS[kind](rng)
    case.kind = kind
    case.ident = f"{kind}-{seed}-{index}"
    return case


def sample(seed: int, count: int, kinds: tuple[str, ...] = KINDS) -> list[Case]:
    """`count` cases, the kinds taking turns."""
    return [make_case(kinds[i % len(kinds)], seed, i // len(kinds)) for i in range(count)]


def serialize(model: onnx.ModelProto, raw: bytes | None = None) -> bytes:
    """The model's bytes; every PLACEHOLDER becomes `raw` (same length, so lengths hold)."""
    data = model.SerializeToString()
    if raw is not None:
        assert len(raw) == len(PLACEHOLDER)
        data = data.replace(PLACEHOLDER.encode(), raw)
    return data


def _case(what: str, model: bytes, *flags: str, out: str = "out", **kw: object) -> Case:
    return Case("", "", what, ["model.onnx", "-o", out, *flags], {"model.onnx": model},
                out=out, **kw)


# --- kind 1: byte-level mutants ------------------------------------------------------------

def _example(rng: random.Random) -> str:
    if rng.random() < 0.85:
        return rng.choice(SMALL_EXAMPLES)
    return rng.choice(sorted(p.name for p in MODELS_DIR.glob("*.onnx")))


def _position(rng: random.Random, size: int) -> int:
    """Mostly in the first and last few KB, where nodes, names and the interface are."""
    r = rng.random()
    if r < 0.45:
        return rng.randrange(min(size, 4096))
    if r < 0.8:
        return max(0, size - 1 - rng.randrange(min(size, 2048)))
    return rng.randrange(size)


def mutant(rng: random.Random) -> Case:
    name = _example(rng)
    data = bytearray((MODELS_DIR / name).read_bytes())
    how = rng.choice(["bitflip", "bytes", "truncate", "splice", "delete", "duplicate"])
    if how == "bitflip":
        for _ in range(rng.randint(1, 8)):
            data[_position(rng, len(data))] ^= 1 << rng.randrange(8)
    elif how == "bytes":
        for _ in range(rng.randint(1, 4)):
            data[_position(rng, len(data))] = rng.choice([0, 0xFF, 0x7F, 0x80, 0x01, 0x0A])
    elif how == "truncate":
        data = data[: _position(rng, len(data))]
    elif how == "splice":
        other = (MODELS_DIR / _example(rng)).read_bytes()
        data = data[: _position(rng, len(data))] + other[_position(rng, len(other)):]
    elif how == "delete":
        at = _position(rng, len(data))
        del data[at: at + rng.randint(1, 64)]
    else:
        at = _position(rng, len(data))
        data[at:at] = data[at: at + rng.randint(1, 64)]
    return _case(f"{how} of {name}", bytes(data))


# --- kind 2: attributes from the ONNX schemas ----------------------------------------------

_INTS = [0, -1, -2, 2**31, -(2**31), 2**62, -(2**62), 2**63 - 1, -(2**63), 1000, 7, 3]
_FLOATS = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e38, -1e38, 1e-45, -1.0]
_STRINGS = [b"", b"*/", b"bogus", b"\xff\xfe", b"NOTSET\n", b"\x1b[31m", b"a" * 300]


def _hostile_attribute(rng: random.Random, name: str, kind: int, length: int) -> AttributeProto:
    """A value of the schema's type that the op must refuse (or handle), or a wrong type."""
    attr = AttributeProto(name=name)
    if rng.random() < 0.25:  # a type other than the schema's
        kind = rng.choice([t for t in (AttributeProto.INT, AttributeProto.FLOAT,
                                       AttributeProto.STRING, AttributeProto.INTS,
                                       AttributeProto.FLOATS, AttributeProto.TENSOR,
                                       AttributeProto.UNDEFINED) if t != kind])
    attr.type = kind
    if kind == AttributeProto.INT:
        attr.i = rng.choice(_INTS)
    elif kind == AttributeProto.FLOAT:
        attr.f = rng.choice(_FLOATS)
    elif kind == AttributeProto.STRING:
        attr.s = rng.choice(_STRINGS)
    elif kind == AttributeProto.INTS:
        n = rng.choice([0, 1, max(length - 1, 0), length, length + 1, length * 2, 64])
        fill = rng.choice(["same", "random", "zeros"])
        value = rng.choice(_INTS)
        attr.ints.extend([value if fill == "same" else 0 if fill == "zeros"
                          else rng.choice(_INTS) for _ in range(n)])
    elif kind == AttributeProto.FLOATS:
        attr.floats.extend(rng.choice(_FLOATS) for _ in range(rng.choice([0, 1, 2, 4])))
    elif kind == AttributeProto.TENSOR:
        attr.t.CopyFrom(numpy_helper.from_array(np.array([rng.choice(_INTS[:8])], np.int64)))
    return attr


def _shown(attr: AttributeProto) -> str:
    """The attribute's value for a case description: one short line."""
    if attr.type == AttributeProto.TENSOR:
        return f"tensor{list(attr.t.dims)}"
    if attr.type == AttributeProto.UNDEFINED:
        return "<type UNDEFINED>"
    return f"{helper.get_attribute_value(attr)!r:.60}"


def attribute(rng: random.Random) -> Case:
    op = rng.choice(sorted(models.TEMPLATES))
    template = models.TEMPLATES[op]()
    schema = onnx.defs.get_schema(op, models.OPSET)
    graph = models.op_graph(template, outputs=2 if op in ("Split", "TopK") else 1)
    node = graph.node[0]
    names = sorted(schema.attributes)
    changed = []
    for _ in range(rng.choice([1, 1, 1, 2])):
        if rng.random() < 0.08 or not names:
            attr_name, kind = "fuzz_unknown", AttributeProto.INT
        else:
            attr_name = rng.choice(names)
            kind = int(schema.attributes[attr_name].type)
        baseline = next((a for a in node.attribute if a.name == attr_name), None)
        length = len(baseline.ints) if baseline is not None and baseline.ints else 2
        attr = _hostile_attribute(rng, attr_name, kind, length)
        kept = [a for a in node.attribute if a.name != attr_name]
        del node.attribute[:]
        node.attribute.extend(kept)
        node.attribute.append(attr)
        changed.append(f"{attr_name}={_shown(attr)}")
    return _case(f"{op} " + " ".join(changed), serialize(models.wrap(graph)))


# --- kind 3: hostile names ---------------------------------------------------------------

HOSTILE_STRINGS: list[str] = [
    "a*/b", "*/\n#define MODEL_INPUT0_SIZE 1\n/*", "x */ * 0 /*", "x */ + 1 /*",
    "a */\n#include <stdio.h>\n/*", "a */\nextern int evil;\n/*", "/*", "//",
    "a//b", "x??/\n", "??/", "??=define", "\n", "a\nb", "\r", "a\rb", "\x1b[31mred\x1b[0m",
    "\x1b]0;title\x07", "\u202eevil", "a\u2028b", "\ufeffbom", "\x00nul", "\t", "\x7f",
    "a" * 300, "n" * 5000, "int", "return", "static", "main", "float", "void", "if", "NULL",
    "restrict", "inline", "_Bool", "params", "f32", "tinyc_arena", "arena", "input0", "output0",
    "mlp_run", "TINYC_ALIGN", "tinyc_gemm", "tinyc_conv", "tinyc_rt", "tinyc_act", "", " ",
    "0abc", "a-b", "a.b", "A", "名前", "e\u0301", "\"quoted\"", "back\\slash", "%s%n", "$(x)",
]
#: one of these replaces the placeholder, giving a name with bytes that are not UTF-8
INVALID_UTF8 = [b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", b"ab\x80cdefg", b"\xc3(\xa0\xa1xyzw",
                b"\xed\xa0\x80abcde"]
#: the interface names (x, z, y) reach NAME.h: they are drawn twice as often
MODEL_PLACES = ("x", "z", "w", "b", "h", "r", "y", "gemm", "relu", "add", "x", "z", "y")
TEXT_PLACES = ("graph", "graph_doc", "node_doc", "model_doc", "metadata_key", "metadata_value",
               "producer", "producer_version", "domain")
CLI_PLACES = ("file", "name", "out", "prune_layers", "shape", "calib")
#: pairs of value names that a naive sanitizer maps to one identifier
COLLIDING = [("a-b", "a_b"), ("a.b", "a-b"), ("A", "a"), ("x y", "x_y"), ("1", "_1")]


def _hostile(rng: random.Random) -> str:
    return rng.choice(HOSTILE_STRINGS)


def _with_text(model: onnx.ModelProto, place: str, text: str) -> None:
    g = model.graph
    if place == "graph":
        g.name = text
    elif place == "graph_doc":
        g.doc_string = text
    elif place == "node_doc":
        g.node[0].doc_string = text
    elif place == "model_doc":
        model.doc_string = text
    elif place in ("metadata_key", "metadata_value"):
        entry = model.metadata_props.add()
        entry.key, entry.value = (text, "v") if place == "metadata_key" else ("k", text)
    elif place == "producer":
        model.producer_name = text
    elif place == "producer_version":
        model.producer_version = text
    else:
        model.domain = text


def _file_safe(text: str) -> str:
    """`text` as one path component: no NUL or '/', at most 200 bytes."""
    text = text.replace("\x00", "").replace("/", "%") or "empty"
    return text.encode("utf-8", "surrogateescape")[:200].decode("utf-8", "ignore") or "cut"


def _text(text: str, raw: bytes | None) -> str:
    """How a case description shows a hostile string (the raw bytes for a placeholder)."""
    return f"{raw!r}" if raw is not None and text == PLACEHOLDER else f"{text!r:.40}"


def names(rng: random.Random) -> Case:
    r = rng.random()
    raw = None
    if r < 0.5:  # in the model: a value, node or initializer name
        places = list(dict.fromkeys(rng.sample(MODEL_PLACES, rng.choice([1, 1, 2, 3]))))
        if rng.random() < 0.15:
            text = PLACEHOLDER
            raw = rng.choice(INVALID_UTF8)
        else:
            text = _hostile(rng)
        renames = {p: (text if i == 0 else f"{text}{i}") for i, p in enumerate(places)}
        if rng.random() < 0.3 and len(places) > 1:  # sanitize to one identifier
            pair = rng.choice(COLLIDING)
            renames = {places[0]: pair[0], places[1]: pair[1]}
        model = models.wrap(models.mlp_graph(renames))
        what = "names " + ", ".join(f"{p}={_text(v, raw)}" for p, v in renames.items())
        return _case(what, serialize(model, raw))
    model = models.wrap(models.mlp_graph())
    if r < 0.7:  # free text carried into comments
        place = rng.choice(TEXT_PLACES)
        text = _hostile(rng)
        if rng.random() < 0.15:
            text, raw = PLACEHOLDER, rng.choice(INVALID_UTF8)
        _with_text(model, place, text)
        return _case(f"{place}={_text(text, raw)}", serialize(model, raw))
    place = rng.choice(CLI_PLACES)
    text = _hostile(rng)
    data = serialize(model)
    if place == "file":
        file = _file_safe(text) + ".onnx"
        return Case("", "", f"model file {file!r:.50}", [file, "-o", "out"], {file: data},
                    model=file)
    if place == "name":
        return _case(f"--name {text!r:.50}", data, "--name", text)
    if place == "out":
        out = "o" + text.replace("\x00", "")[:200]
        return _case(f"-o {out!r:.50}", data, out=out)
    if place == "prune_layers":
        return _case(f"--prune-layers {text!r:.50}", data, "--prune", "unstructured:0.5",
                     "--prune-layers", f"/*/{text}," + text)
    if place == "calib":
        calib = _file_safe(text) + ".npy"
        digits = np.load(MODELS_DIR / "digits_train_x.npy")[:4].astype(np.float32)
        files = {"model.onnx": (MODELS_DIR / "digits_cnn.onnx").read_bytes(), calib: _npy(digits)}
        return Case("", "", f"--calib file {calib!r:.50}",
                    ["model.onnx", "-o", "out", "--quantize", "int8", "--calib", calib], files)
    return _case(f"--shape {text!r:.50}", data, "--shape", f"{text}=1x4")


# --- kind 4: hostile structures ------------------------------------------------------------

def _value(name: str, dims: list, elem: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, dims)


def _graph(nodes: list, inputs: list, outputs: list, inits: list | None = None) -> onnx.GraphProto:
    return helper.make_graph(nodes, "s", inputs, outputs, inits or [])


def _i64(name: str, values: list[int], dims: list[int] | None = None) -> TensorProto:
    t = numpy_helper.from_array(np.array(values, np.int64), name)
    if dims is not None:
        del t.dims[:]
        t.dims.extend(dims)
    return t


def _huge_input(rng: random.Random) -> onnx.GraphProto:
    dims = rng.choice([[2**40, 2**30], [2**62], [-1, 4], [0, 4], [1, -5], [2**31, 2],
                       [65536, 65536], [1, 2**20, 2**20], [2**63 - 1]])
    return _graph([helper.make_node("Relu", ["x"], ["y"])], [_value("x", dims)],
                  [_value("y", dims)])


def _blow_up(rng: random.Random) -> onnx.GraphProto:
    big = rng.choice([10**5, 10**6, 2**31, 2**40])
    which = rng.choice(["ConstantOfShape", "Range", "Expand", "Tile", "Reshape", "Pad"])
    x = _value("x", [1, 4])
    if which == "ConstantOfShape":
        nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c"]),
                 helper.make_node("Add", ["c", "x"], ["y"])]
        return _graph(nodes, [x], [_value("y", None)], [_i64("shape", [big, big])])
    if which == "Range":
        nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"]),
                 helper.make_node("Cast", ["r"], ["rc"], to=TensorProto.FLOAT),
                 helper.make_node("ReduceSum", ["rc"], ["t"], keepdims=0),
                 helper.make_node("Add", ["t", "x"], ["y"])]
        inits = [numpy_helper.from_array(np.array(v, np.float32), n)
                 for n, v in (("s", 0.0), ("l", float(big) * 1e4), ("d", 1.0))]
        return _graph(nodes, [x], [_value("y", None)], inits)
    if which == "Expand":
        nodes = [helper.make_node("Expand", ["x", "shape"], ["y"])]
        return _graph(nodes, [x], [_value("y", None)], [_i64("shape", [big, 4])])
    if which == "Tile":
        nodes = [helper.make_node("Tile", ["x", "rep"], ["y"])]
        return _graph(nodes, [x], [_value("y", None)], [_i64("rep", [big, big])])
    if which == "Reshape":
        nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"])]
        return _graph(nodes, [x], [_value("y", None)], [_i64("shape", [big, -1])])
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"])]
    return _graph(nodes, [x], [_value("y", None)], [_i64("pads", [0, 0, big, big])])


def _broken_graph(rng: random.Random) -> tuple[str, onnx.GraphProto]:
    x, y = _value("x", [1, 4]), _value("y", [1, 4])
    relu = helper.make_node
    w = numpy_helper.from_array(models._f(1, 4), "w")
    shapes = {
        "cycle": lambda: _graph([relu("Relu", ["b"], ["a"]), relu("Add", ["a", "x"], ["b"]),
                                 relu("Relu", ["b"], ["y"])], [x], [y]),
        "self loop": lambda: _graph([relu("Add", ["x", "y"], ["y"])], [x], [y]),
        "duplicate node outputs": lambda: _graph([relu("Relu", ["x"], ["y"]),
                                                  relu("Neg", ["x"], ["y"])], [x], [y]),
        "duplicate inputs": lambda: _graph([relu("Relu", ["x"], ["y"])], [x, x], [y]),
        "duplicate outputs": lambda: _graph([relu("Relu", ["x"], ["y"])], [x], [y, y]),
        "duplicate initializers": lambda: _graph(
            [relu("Add", ["x", "w"], ["y"])], [x], [y],
            [w, numpy_helper.from_array(models._f(1, 4) * 2, "w")]),
        "initializer shadows input": lambda: _graph(
            [relu("Add", ["x", "w"], ["y"])], [x, _value("w", [1, 4])], [y], [w]),
        "initializer shadows the only input": lambda: _graph(
            [relu("Relu", ["x"], ["y"])], [x], [y],
            [numpy_helper.from_array(models._f(1, 4), "x")]),
        "missing input": lambda: _graph([relu("Add", ["x", "ghost"], ["y"])], [x], [y]),
        "output never produced": lambda: _graph([relu("Relu", ["x"], ["h"])], [x], [y]),
        "output is the input": lambda: _graph([], [x], [_value("x", [1, 4])]),
        "empty graph": lambda: _graph([], [], []),
        "no outputs": lambda: _graph([relu("Relu", ["x"], ["h"])], [x], []),
        "no inputs": lambda: _graph([relu("Relu", ["w"], ["y"])], [], [y], [w]),
        "empty output name": lambda: _graph([relu("Relu", ["x"], [""])], [x], [y]),
        "node without op_type": lambda: _graph([relu("", ["x"], ["y"])], [x], [y]),
        "unknown op": lambda: _graph([relu("FuzzOp", ["x"], ["y"])], [x], [y]),
        "unknown domain": lambda: _graph([relu("Relu", ["x"], ["y"], domain="com.evil")],
                                         [x], [y]),
        "unknown dtype input": lambda: _graph([relu("Relu", ["x"], ["y"])],
                                              [_value("x", [1, 4], 99)], [y]),
        "undefined dtype input": lambda: _graph([relu("Relu", ["x"], ["y"])],
                                                [_value("x", [1, 4], 0)], [y]),
        "unknown dtype initializer": lambda: _graph(
            [relu("Add", ["x", "u"], ["y"])], [x], [y],
            [TensorProto(name="u", data_type=99, dims=[1, 4], raw_data=b"\0" * 16)]),
        "cast to unknown dtype": lambda: _graph([relu("Cast", ["x"], ["y"], to=99)], [x], [y]),
        "initializer dims [-1,4]": lambda: _graph(
            [relu("Add", ["x", "n"], ["y"])], [x], [y], [_neg_dims_initializer()]),
        "initializer short raw_data": lambda: _graph(
            [relu("Add", ["x", "s"], ["y"])], [x], [y],
            [TensorProto(name="s", data_type=TensorProto.FLOAT, dims=[1, 4], raw_data=b"\0" * 7)]),
        "initializer huge dims": lambda: _graph(
            [relu("Add", ["x", "s"], ["y"])], [x], [y],
            [TensorProto(name="s", data_type=TensorProto.FLOAT, dims=[2**31, 2**31],
                         raw_data=b"\0" * 16)]),
        "deep chain": lambda: _graph(
            [relu("Relu", [f"v{i}" if i else "x"], [f"v{i + 1}"]) for i in range(2500)]
            + [relu("Relu", ["v2500"], ["y"])], [x], [y]),
        "pool stride 2**62": lambda: _graph(
            [relu("MaxPool", ["x4"], ["y"], kernel_shape=[2, 2], strides=[2**62, 2**62])],
            [_value("x4", [1, 1, 4, 4])], [_value("y", None)]),
        "gemm shape mismatch": lambda: _graph(
            [relu("Gemm", ["x", "w"], ["y"])], [x], [y], [w]),
        "reshape to wrong count": lambda: _graph(
            [relu("Reshape", ["x", "shape"], ["y"])], [x], [y], [_i64("shape", [3, 5])]),
    }
    name = rng.choice(sorted(shapes))
    return name, shapes[name]()


def _neg_dims_initializer() -> TensorProto:
    t = numpy_helper.from_array(models._f(1, 4), "n")
    del t.dims[:]
    t.dims.extend([-1, 4])
    return t


#: broken graphs that tinyc must refuse although it could guess a meaning (issue 12)
MUST_FAIL = {
    "duplicate initializers": "two initializers with one name: which value?",
    "initializer dims [-1,4]": "a negative initializer dim",
}


def structure(rng: random.Random) -> Case:
    r = rng.random()
    opset = models.OPSET
    if r < 0.15:
        what, graph = "huge or negative input dims", _huge_input(rng)
    elif r < 0.35:
        what, graph = "blow-up", _blow_up(rng)
    elif r < 0.45:
        what, graph = "opset out of range", models.mlp_graph()
        opset = rng.choice([0, 1, 5, 99, 10**9, -1, 2**62])
    else:
        what, graph = _broken_graph(rng)
    model = models.wrap(graph, opset)
    refuse = MUST_FAIL.get(what, "")
    if r >= 0.45 and rng.random() < 0.1:
        model.ir_version = rng.choice([0, 1, 99, -1])
        what += f", ir_version {model.ir_version}"
    return _case(what, serialize(model), must_fail=refuse)


# --- kind 5: hostile OUT and calibration data ----------------------------------------------

def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _calibration(rng: random.Random) -> Case:
    model = (MODELS_DIR / "digits_cnn.onnx").read_bytes()
    good = np.load(MODELS_DIR / "digits_train_x.npy")[:8].astype(np.float32)
    how = rng.choice(["nan", "inf", "1e38", "-1e38", "empty", "wrong shape", "int64",
                      "scalar", "garbage", "npz wrong key", "all zero", "missing", "valid"])
    files = {"model.onnx": model}
    data = {
        "nan": lambda: np.where(good > 0.5, np.nan, good).astype(np.float32),
        "inf": lambda: np.where(good > 0.5, np.inf, good).astype(np.float32),
        "1e38": lambda: np.full_like(good, 1e38),
        "-1e38": lambda: np.full_like(good, -1e38),
        "empty": lambda: good[:0],
        "wrong shape": lambda: good.reshape(len(good), -1)[:, :7],
        "int64": lambda: (good * 10).astype(np.int64),
        "scalar": lambda: np.float32(1.0),
        "all zero": lambda: np.zeros_like(good),
        "valid": lambda: good,
    }
    calib = "calib.npy"
    if how == "garbage":
        files[calib] = b"\x93NUMPY" + bytes(rng.randrange(256) for _ in range(64))
    elif how == "npz wrong key":
        calib = "calib.npz"
        buf = io.BytesIO()
        np.savez(buf, nothere=good)
        files[calib] = buf.getvalue()
    elif how != "missing":
        files[calib] = _npy(np.asarray(data[how]()))
    argv = ["model.onnx", "-o", "out", "--quantize", "int8", "--calib", calib]
    if rng.random() < 0.3:
        argv += ["--io", "int8"]
    refuse = "calibration data with NaN or inf" if how in ("nan", "inf") else ""
    return Case("", "", f"calibration {how}", argv, files, must_fail=refuse)


def outdir(rng: random.Random) -> Case:
    if rng.random() < 0.35:
        return _calibration(rng)
    good = serialize(models.wrap(models.mlp_graph()))
    broken = serialize(models.wrap(models.mlp_graph({"z": "ghost_input_missing"})))[:-9]
    prepare = rng.choice(["foreign", "previous", "previous", "readonly", "file", "dangling",
                          "root", "empty string", "dot"])
    model = good if prepare in ("root", "dot") or rng.random() < 0.6 else broken
    state = "valid" if model is good else "broken"
    if prepare == "root":
        return _case(f"-o / ({state} model)", model, "--name", ROOT_PROBE_NAME, out="/",
                     prepare="root", must_fail="-o names a filesystem root")
    if prepare == "empty string":
        return _case(f"-o '' ({state} model)", model, out="", must_fail="-o ''")
    if prepare == "dot":
        return _case("-o . (valid model)", model, out=".")
    flags: list[str] = []
    if rng.random() < 0.3:
        flags += ["--name", rng.choice(["model", "fuzz_user", "tinyc_gemm", "m"])]
    if rng.random() < 0.3:
        flags += rng.choice([["-O0"], ["-O2"], ["--arena", "external"], ["--report"],
                             ["--quantize", "dynamic"]])
    previous = []
    if prepare == "previous":
        previous = ["previous.onnx", "-o", "out", "--name", rng.choice(["model", "old"]),
                    *rng.choice([["--quantize", "dynamic"], ["--report"], ["-O0"], []])]
    refuse = {"file": "OUT is a file", "dangling": "OUT is a dangling symlink"}
    case = _case(f"OUT {prepare}, {state} model {' '.join(flags)}".strip(), model, *flags,
                 prepare=prepare, previous_argv=previous, must_fail=refuse.get(prepare, ""))
    if previous:
        case.files["previous.onnx"] = (MODELS_DIR / "digits_cnn.onnx").read_bytes()
    return case


GENERATORS = {"mutant": mutant, "attr": attribute, "names": names, "structure": structure,
              "outdir": outdir}
