"""The textual IR: a canonical printer and a lark parser that round-trip graphs exactly.

The text form exists so that tests, pass dumps (`--print-ir-after`) and bug reports can show a
graph to a human and read it back unchanged. Sample (grammar in `grammar/tinyc.lark`):

    meta "onnx opset" = "17"
    graph @digits_cnn(%input: f32[1,1,8,8]) -> (%output: f32[1,10]) {
      %w0 = const f32[8,1,3,3] @w0
      %k = const i64[2] dense<[1, -1]>
      %c0 = Conv(%input, %w0, _) {group = 1, pads = [1, 1, 1, 1]} : f32[1,8,8,8] loc("/conv1/Conv")
      %q = QuantizeLinear(%c0, %s, %z) : i8[1,8,8,8] q(0.0123, -5)
      return %output
    }

Printing is canonical: attribute keys sorted, floats written so that they read back bit for
bit (`repr` for attributes and scales; the shortest exact digits for tensor data), names that
are not plain identifiers quoted (`%"onnx::Conv_29"`). Constants with at most `inline_limit`
elements are written inline as `dense<[...]>`; larger ones (and any whose bits the decimal
form cannot carry, such as NaN payloads) are written as `@name`, their data kept aside by
`external_constants` and stored in an `.npz` next to the `.tir` by `save_text_ir`.

Parsing rebuilds every `Value` and `Node` through their constructors, so use lists, producers
and output indices are correct; types are taken as printed (no shape inference is re-run).
Every error is an `IRError` (a `TextIRError`) whose one-line message starts with
`source:line:column:`; its `context` shows the offending line with a caret.
"""

from __future__ import annotations

import functools
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import ml_dtypes
import numpy as np
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from tinyc.errors import IRError, UsageError
from tinyc.ir.core import Graph, Node, Value
from tinyc.ir.types import DType, QuantParams, TensorType, from_storage, to_storage

#: Constants with at most this many elements are printed inline.
INLINE_LIMIT = 16

__all__ = [
    "INLINE_LIMIT",
    "TextIRError",
    "external_constants",
    "grammar_path",
    "load_text_ir",
    "parse_graph",
    "print_graph",
    "save_text_ir",
]

_PLAIN_NAME = re.compile(r"(?:[A-Za-z0-9_.$\-]|/(?!/))+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DTYPES = {d.value: d for d in DType}


# -- printing ---------------------------------------------------------------------------------


def print_graph(graph: Graph, *, inline_limit: int = INLINE_LIMIT) -> str:
    """The canonical text of `graph`; constants printed as `@name` are in `external_constants`."""
    lines = [f"meta {_quote(k)} = {_quote(v)}" for k, v in graph.metadata.items()]
    ins = ", ".join(f"{_ref('%', v.name)}: {_type(v.type)}" for v in graph.inputs)
    outs = ", ".join(f"{_ref('%', v.name)}: {_type(v.type)}" for v in graph.outputs)
    lines.append(f"graph {_ref('@', graph.name)}({ins}) -> ({outs}) {{")
    for value in graph.constants:
        lines.append("  " + _const_line(value, inline_limit))
    for node in graph.nodes:
        lines.append("  " + _node_line(node))
    returned = ", ".join(_ref("%", v.name) for v in graph.outputs)
    lines.append(f"  return {returned}" if returned else "  return")
    lines.append("}")
    return "\n".join(lines) + "\n"


def external_constants(graph: Graph, *, inline_limit: int = INLINE_LIMIT) -> dict[str, np.ndarray]:
    """The data of the constants `print_graph` writes out of line, keyed by their `@` name."""
    return {
        v.name: v.const
        for v in graph.constants
        if v.const is not None and _inline_data(v.const, v.type, inline_limit) is None
    }


def _const_line(value: Value, inline_limit: int) -> str:
    if value.const is None:
        raise IRError(f"constant %{value.name} has no data")
    data = _inline_data(value.const, value.type, inline_limit)
    where = data if data is not None else _ref("@", value.name)
    return f"{_ref('%', value.name)} = const {_type(value.type)} {where}"


def _inline_data(data: np.ndarray, ttype: TensorType, inline_limit: int) -> str | None:
    """`dense<[...]>` when small and exact through text, else None (the data goes out of line)."""
    if data.size > inline_limit:
        return None
    items = _elements(data)
    try:
        back = _to_array(items, ttype)
    except ValueError:
        return None
    if back.tobytes() != np.ascontiguousarray(data).tobytes():
        return None
    return "dense<[" + ", ".join(items) + "]>"


def _elements(data: np.ndarray) -> list[str]:
    flat = data.reshape(-1)
    if data.dtype == np.bool_:
        return ["true" if x else "false" for x in flat]
    if data.dtype.kind in "iu":
        return [str(int(x)) for x in flat]
    return [_short_float(x) for x in flat]


def _short_float(x: np.floating) -> str:
    """numpy's shortest digits for x's own precision, or `repr` of the widened value if those
    digits would round differently on the way back through float64."""
    text = str(x)
    if np.array(float(text)).astype(x.dtype).tobytes() == np.array(x).tobytes():
        return text
    return repr(float(x))


def _node_line(node: Node) -> str:
    results = ", ".join(_ref("%", v.name) for v in node.outputs)
    operands = ", ".join("_" if v is None else _ref("%", v.name) for v in node.inputs)
    plain = _IDENTIFIER.fullmatch(node.op) and node.op != "const"  # the one keyword there
    op = node.op if plain else _quote(node.op)
    line = f"{results} = {op}({operands})"
    if node.attrs:
        pairs = (f"{_key(k)} = {_attr(k, node.attrs[k])}" for k in sorted(node.attrs))
        line += " {" + ", ".join(pairs) + "}"
    line += " : " + ", ".join(_type(v.type) for v in node.outputs)
    if node.name:
        line += f" loc({_quote(node.name)})"
    return line


def _attr(key: str, value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, np.ndarray):
        ttype = TensorType(DType.from_numpy(value.dtype), tuple(value.shape))
        return f"{_type(ttype)} dense<[{', '.join(_elements(value))}]>"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_attr(key, v) for v in value) + "]"
    raise IRError(f"attribute '{key}': cannot print a value of type {type(value).__name__}")


def _type(ttype: TensorType) -> str:
    text = f"{ttype.dtype.value}[{','.join(str(d) for d in ttype.shape)}]"
    q = ttype.quant
    if q is None:
        return text
    if q.axis is None:
        return f"{text} q({repr(float(q.scale[0]))}, {int(q.zero_point[0])})"
    scales = ", ".join(repr(float(s)) for s in q.scale)
    zeros = ", ".join(str(int(z)) for z in q.zero_point)
    return f"{text} q[axis={q.axis}]({scales}; {zeros})"


def _ref(sigil: str, name: str) -> str:
    return sigil + (name if _PLAIN_NAME.fullmatch(name) else _quote(name))


def _key(name: str) -> str:
    return name if _IDENTIFIER.fullmatch(name) else _quote(name)


def _quote(text: str) -> str:
    """A double-quoted string: `\\` `"` and non-printable characters escaped, the rest as is."""
    out = ['"']
    for ch in text:
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")


# -- parsing ----------------------------------------------------------------------------------


class TextIRError(IRError):
    """A parse error. `str()` is one line, `source:line:column: message`, as the CLI prints
    every error; `context` holds the offending line with a caret under the column."""

    def __init__(self, source: str, line: int, column: int, message: str, context: str) -> None:
        super().__init__(f"{source}:{line}:{column}: {message}")
        self.source = source
        self.line = line
        self.column = column
        self.message = message
        self.context = context


def parse_graph(
    text: str, constants: Mapping[str, np.ndarray] | None = None, *, source: str = "<tir>"
) -> Graph:
    """Parse one graph. `constants` holds the data of `@name` constants (copied, not shared);
    `source` names the text in error messages."""
    parser = _parser()
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, source) from None
    builder = _Builder(constants or {})
    try:
        graph = builder.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, _PositionedError):
            err = exc.orig_exc
            raise _located(source, text, err.line, err.column, err.message) from None
        raise exc.orig_exc from None  # a bug in the builder: show it, not lark's wrapper
    assert isinstance(graph, Graph)
    return graph


def grammar_path() -> Path:
    """`grammar/tinyc.lark` of the source tree, or its copy packaged inside the wheel."""
    packaged = Path(str(resources.files("tinyc"))) / "grammar" / "tinyc.lark"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "grammar" / "tinyc.lark"


@functools.cache
def _parser() -> Lark:
    """Built once per process: building the LALR tables costs more than parsing a model."""
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


class _PositionedError(Exception):
    """A semantic error found by the builder, carrying the position of the token to blame."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _fail(message: str, token: Token) -> NoReturn:
    raise _PositionedError(message, token.line or 0, token.column or 0)


@dataclass
class _Dense:
    """Unconverted `dense<[...]>` elements: their dtype is only known one level up."""

    items: list[Token]
    anchor: Token


@dataclass
class _Loc:
    name: str


@v_args(inline=True)
class _Builder(Transformer[Token, Any]):
    """Builds the `Graph` bottom-up. lark calls the statement rules in text order, so the
    symbol table holds exactly the values defined above the statement being built."""

    def __init__(self, constants: Mapping[str, np.ndarray]) -> None:
        super().__init__()
        self.constants = constants
        self.values: dict[str, tuple[Value, Token]] = {}
        self.graph_consts: list[Value] = []
        self.nodes: list[Node] = []

    # -- names and symbols
    def _define(self, token: Token, value: Value) -> None:
        if value.name in self.values:
            first = self.values[value.name][1]
            _fail(f"value %{value.name} is already defined at line {first.line}", token)
        self.values[value.name] = (value, token)

    def _lookup(self, token: Token) -> Value:
        name = _unquote(token[1:], token)
        if name not in self.values:
            _fail(f"value %{name} is not defined above this use", token)
        return self.values[name][0]

    # -- top level
    def start(self, *items: Any) -> Graph:
        graph = items[-1]
        for key, value, token in items[:-1]:
            if key in graph.metadata:
                _fail(f"meta {_quote(key)} is given twice", token)
            graph.metadata[key] = value
        return graph

    def meta(self, key: Token, value: Token) -> tuple[str, str, Token]:
        return _unquote(key, key), _unquote(value, value), key

    def graph(self, name: Token, inputs: list[Value], outputs: list[Any], *rest: Any) -> Graph:
        returned: list[tuple[Value, Token]] = rest[-1]
        if len(outputs) != len(returned):
            _fail(
                f"the signature declares {len(outputs)} output(s), return gives {len(returned)}",
                name,
            )
        for (token, ttype), (value, ret_token) in zip(outputs, returned, strict=True):
            declared = _unquote(token[1:], token)
            if declared != value.name:
                _fail(f"return gives %{value.name} where the signature says %{declared}", ret_token)
            if _type(ttype) != _type(value.type):  # printed: NaN scales compare unequal
                _fail(
                    f"output %{declared} is declared {_type(ttype)} but is {_type(value.type)}",
                    token,
                )
        return Graph(
            _unquote(name[1:], name),
            inputs=inputs,
            outputs=[v for v, _ in returned],
            nodes=self.nodes,
            constants=self.graph_consts,
        )

    def inputs(self, *params: tuple[Token, TensorType]) -> list[Value]:
        values = []
        for token, ttype in params:
            value = Value(_unquote(token[1:], token), ttype)
            self._define(token, value)
            values.append(value)
        return values

    def outputs(self, *params: tuple[Token, TensorType]) -> list[tuple[Token, TensorType]]:
        return list(params)

    def param(self, token: Token, ttype: TensorType) -> tuple[Token, TensorType]:
        return token, ttype

    def ret(self, *tokens: Token) -> list[tuple[Value, Token]]:
        return [(self._lookup(t), t) for t in tokens]

    # -- statements
    def const_stmt(self, results: list[Token], ttype: TensorType, data: Any) -> None:
        if len(results) != 1:
            _fail("a const statement defines exactly one value", results[1])
        token = results[0]
        name = _unquote(token[1:], token)
        if isinstance(data, _Dense):
            array = _checked_array(data, ttype)
        else:
            ref = _unquote(data[1:], data)
            if ref not in self.constants:
                _fail(f"no data for constant @{ref} (pass it in `constants`, or keep the "
                      "sibling .npz)", data)
            array = np.array(self.constants[ref], copy=True)
            if ttype.dtype.is_lowp and array.dtype == ttype.dtype.storage.np:
                array = from_storage(array, ttype.dtype)  # as save_text_ir wrote it
            if array.dtype != ttype.dtype.np or array.shape != ttype.shape:
                _fail(f"data of @{ref} is {array.dtype}{list(array.shape)}, the type says "
                      f"{_type(ttype)}", data)
        try:
            value = Value(name, ttype, const=array)
        except ValueError as exc:
            _fail(str(exc), token)
        self._define(token, value)
        self.graph_consts.append(value)

    def node_stmt(self, results: list[Token], op: str, *rest: Any) -> None:
        operands = [r for r in rest if r is None or isinstance(r, Value)]
        attrs = next((r for r in rest if isinstance(r, dict)), {})
        types = [r for r in rest if isinstance(r, TensorType)]
        loc = next((r.name for r in rest if isinstance(r, _Loc)), "")
        if len(types) != len(results):
            _fail(f"{op} defines {len(results)} value(s) but lists {len(types)} type(s)",
                  results[0])
        outputs = [Value(_unquote(t[1:], t), ty) for t, ty in zip(results, types, strict=True)]
        for token, value in zip(results, outputs, strict=True):
            self._define(token, value)
        self.nodes.append(Node(op, operands, outputs, attrs, name=loc))

    def external(self, token: Token) -> Token:
        return token

    def results(self, *tokens: Token) -> list[Token]:
        return list(tokens)

    def op(self, token: Token) -> str:
        return _unquote(token, token) if token.type == "STRING" else str(token)

    def operand(self, token: Token) -> Value:
        return self._lookup(token)

    def absent(self) -> None:
        return None

    def loc(self, token: Token) -> _Loc:
        return _Loc(_unquote(token, token))

    # -- attributes
    def attr_dict(self, *attrs: tuple[str, Any, Token]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value, token in attrs:
            if key in out:
                _fail(f"attribute '{key}' is given twice", token)
            out[key] = value
        return out

    def attr(self, key: Token, value: Any) -> tuple[str, Any, Token]:
        name = _unquote(key, key) if key.type == "STRING" else str(key)
        return name, _attr_value(value), key

    def string(self, token: Token) -> str:
        return _unquote(token, token)

    def list(self, *items: Any) -> list[Any]:
        return [_attr_value(i) for i in items]

    def tensor(self, ttype: TensorType, data: _Dense) -> np.ndarray:
        return _checked_array(data, ttype)

    def scalar(self, token: Token) -> Token:
        return token

    @v_args(inline=True, meta=True)
    def dense(self, meta: Any, *items: Token) -> _Dense:
        anchor = Token("DENSE", "dense", line=meta.line, column=meta.column)
        return _Dense(list(items), anchor)

    # -- types
    def type(
        self, dtype: Token, shape: tuple[int, ...], quant: QuantParams | None = None
    ) -> TensorType:
        try:
            return TensorType(_DTYPES[str(dtype)], shape, quant)
        except ValueError as exc:
            _fail(str(exc), dtype)

    def shape(self, *dims: Token) -> tuple[int, ...]:
        out = []
        for d in dims:
            n = _int(d)
            if n < 0:
                _fail(f"dimension {n} is negative", d)
            out.append(n)
        return tuple(out)

    def quant_tensor(self, scale: Token, zero_point: Token) -> QuantParams:
        return QuantParams((float(scale),), (_int(zero_point),), None)

    def quant_axis(self, axis: Token, scales: list[Token], zeros: list[Token]) -> QuantParams:
        if len(scales) != len(zeros):
            _fail(f"{len(scales)} scale(s) but {len(zeros)} zero point(s)", axis)
        return QuantParams(tuple(float(s) for s in scales), tuple(_int(z) for z in zeros),
                           _int(axis))

    def numbers(self, *tokens: Token) -> list[Token]:
        return list(tokens)


def _int(token: Token) -> int:
    try:
        return int(token)
    except ValueError:
        _fail(f"expected an integer, got {token}", token)


def _attr_value(item: Any) -> Any:
    """Python value of a converted attribute item; scalars still arrive as tokens."""
    if not isinstance(item, Token):
        return item
    if item.type == "TRUE":
        return True
    if item.type == "FALSE":
        return False
    return _number(item)


def _number(token: Token) -> int | float:
    text = str(token)
    if any(c in text for c in ".eEn"):  # a decimal point, an exponent, inf or nan
        return float(text)
    return int(text)


def _checked_array(data: _Dense, ttype: TensorType) -> np.ndarray:
    if len(data.items) != ttype.numel:
        _fail(f"dense data has {len(data.items)} element(s), {_type(ttype)} needs {ttype.numel}",
              data.anchor)
    try:
        return _to_array(data.items, ttype)
    except _BadElement as exc:
        _fail(str(exc), exc.token if isinstance(exc.token, Token) else data.anchor)


class _BadElement(ValueError):
    def __init__(self, message: str, token: str) -> None:
        super().__init__(message)
        self.token = token


def _to_array(items: list[str], ttype: TensorType) -> np.ndarray:
    """Element texts (printer output or parser tokens) to an array of `ttype`. Shared by both
    sides, so the printer can check that what it writes reads back bit for bit."""
    dtype = ttype.dtype
    if dtype is DType.BOOL:
        flags = {"true": True, "false": False, "1": True, "0": False}
        for item in items:
            if str(item) not in flags:
                raise _BadElement(f"expected true or false, got {item}", item)
        array = np.array([flags[str(i)] for i in items], dtype=np.bool_)
    elif dtype.is_float:
        for item in items:
            if str(item) in ("true", "false"):
                raise _BadElement(f"expected a number, got {item}", item)
        array = np.array([float(i) for i in items], dtype=np.float64).astype(dtype.np)
    else:
        info = ml_dtypes.iinfo(dtype.np)  # numpy's iinfo does not know int4
        ints = []
        for item in items:
            if str(item) in ("true", "false") or any(c in str(item) for c in ".eEn"):
                raise _BadElement(f"expected an integer, got {item}", item)
            n = int(item)
            if not info.min <= n <= info.max:
                raise _BadElement(f"{n} is out of range for {dtype.value}", item)
            ints.append(n)
        array = np.array(ints, dtype=dtype.np)
    return array.reshape(ttype.shape)


def _unquote(text: str, token: Token) -> str:
    """The name or string a (possibly quoted) token spells."""
    if not text.startswith('"'):
        return text

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "xuU" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code in _UNESCAPES:
            return _UNESCAPES[code]
        _fail(f"unknown escape \\{code} in {text}", token)

    return _ESCAPE.sub(replace, text[1:-1])


# -- syntax errors ----------------------------------------------------------------------------

_TERMINAL_NAMES = {
    "VALUE_ID": "a value like %x",
    "GLOBAL_ID": "a name like @w0",
    "STRING": 'a "string"',
    "NAME": "a name",
    "NUMBER": "a number",
    "DTYPE": "a type like f32[1,2]",
    "TRUE": "true",
    "FALSE": "false",
    "$END": "end of input",
}

#: Labels for common mistakes. An error gets a label when an example fails in the same
#: parser state on the same kind of token (stricter than lark's `match_examples`, which also
#: accepts a different token in the same state).
_EXAMPLES = {
    "missing ': <type>' after the operands": [
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x)\n return\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x)\n %z = Relu(%x) : f32[1]\n return\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x)\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) {a = 1}\n return\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) {a = 1}\n %z = Relu(%x) : f32[1]\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) {a = 1}\n}",
    ],
    "missing shape after the element type (write f32[] for a scalar)": [
        "graph @g(%x: f32) -> () {\n return\n}",
        "graph @g(%x: f32, %y: f32[1]) -> () {\n return\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) : f32\n return\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) : f32\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) : f32\n %z = Relu(%x) : f32[1]\n}",
        "graph @g(%x: f32[1]) -> () {\n %y, %z = Op(%x) : f32, f32[1]\n return\n}",
        "graph @g() -> () {\n %c = const f32 dense<[1.0]>\n return\n}",
        "graph @g() -> () {\n %c = const f32 @c\n return\n}",
    ],
    "the graph body must end with `return`": [
        "graph @g(%x: f32[1]) -> () {\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) : f32[1]\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) : f32[1] q(1.0, 0)\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) : f32[1] q[axis=0](1.0; 0)\n}",
        "graph @g(%x: f32[1]) -> () {\n %y = Relu(%x) : f32[1] loc(\"n\")\n}",
        "graph @g(%x: f32[1]) -> () {\n %c = const f32[1] @c\n}",
        "graph @g(%x: f32[1]) -> () {\n %c = const f32[1] dense<[1.0]>\n}",
    ],
    "constant data must be dense<[...]> or @name": [
        "graph @g() -> () {\n %c = const f32[1] [1.0]\n return\n}",
        "graph @g() -> () {\n %c = const f32[1] 1.0\n return\n}",
    ],
}


@functools.cache
def _example_labels() -> dict[tuple[int, str], str]:
    """(parser state, token type) -> label, from parsing each example once per process."""
    table: dict[tuple[int, str], str] = {}
    for label, texts in _EXAMPLES.items():
        for text in texts:
            try:
                _parser().parse(text)
            except UnexpectedToken as exc:
                table.setdefault((exc.state.position, exc.token.type), label)
    return table


def _syntax_error(exc: UnexpectedInput, text: str, source: str) -> TextIRError:
    parser = _parser()
    if isinstance(exc, UnexpectedCharacters):
        got = repr(text[exc.pos_in_stream]) if exc.pos_in_stream < len(text) else "end of input"
        expected = exc.allowed
    elif isinstance(exc, UnexpectedToken):
        got = "end of input" if exc.token.type == "$END" else repr(str(exc.token))
        expected = exc.expected
    else:
        got, expected = "input", set()
    message = f"unexpected {got}"
    label = None
    if isinstance(exc, UnexpectedToken) and exc.state is not None:
        label = _example_labels().get((exc.state.position, exc.token.type))
    if label:
        message += f": {label}"
    elif expected:
        shown = sorted({_terminal_name(parser, t) for t in expected})
        message += ", expected " + (shown[0] if len(shown) == 1 else "one of " + ", ".join(shown))
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        end = len(text.rstrip())  # lark puts the end on the last token; point just past it
        line = text.count("\n", 0, end) + 1
        column = end - (text.rfind("\n", 0, end) + 1) + 1
    return _located(source, text, line, column, message)


def _terminal_name(parser: Lark, name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = parser.get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if pattern.type == "str" else name


def _located(source: str, text: str, line: int, column: int, message: str) -> TextIRError:
    """The error at `line:column`, with the offending line and a caret under the column."""
    lines = text.splitlines()
    if line < 1 or line > len(lines):
        line = max(1, len(lines))
        column = len(lines[-1]) + 1 if lines else 1
    snippet = lines[line - 1] if lines else ""
    caret = " " * (max(column, 1) - 1) + "^"
    return TextIRError(source, line, column, message, f"{snippet}\n{caret}")


# -- files ------------------------------------------------------------------------------------


def save_text_ir(graph: Graph, path: str | Path, *, inline_limit: int = INLINE_LIMIT) -> list[Path]:
    """Write `path` (the text) and, when some constants are out of line, the `.npz` beside it.
    The archive is byte-reproducible (fixed entry order and timestamps). Returns the paths.

    Both are built in memory first and each replaces its file in one rename, the archive
    before the text: a failed or killed run leaves no half-written file."""
    path = Path(path)
    if not path.parent.is_dir():
        raise UsageError(f"{path}: directory {path.parent} does not exist")
    text = print_graph(graph, inline_limit=inline_limit).encode("utf-8")
    written = [path]
    data = external_constants(graph, inline_limit=inline_limit)
    if data:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, array in data.items():
                info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                with archive.open(info, "w") as stream:
                    stored = to_storage(array, DType.from_numpy(array.dtype))  # ml_dtypes
                    np.lib.format.write_array(stream, stored, allow_pickle=False)
        npz = path.with_suffix(".npz")
        _replace_file(npz, buffer.getvalue())
        written.append(npz)
    _replace_file(path, text)
    return written


def _replace_file(path: Path, data: bytes) -> None:
    """Write `data` to a temporary sibling, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_text_ir(path: str | Path) -> Graph:
    """Read a `.tir` file and the out-of-line constants from its sibling `.npz`, if any."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    constants: dict[str, np.ndarray] = {}
    npz = path.with_suffix(".npz")
    if npz.is_file():
        with np.load(npz, allow_pickle=False) as archive:
            constants = {key: archive[key] for key in archive.files}
    return parse_graph(path.read_text(encoding="utf-8"), constants, source=str(path))
