"""Checks a model must pass before any op code sees it.

An op's `normalize`/`infer`/`reference` trusts its attributes to have the types the ONNX
schema gives and the ranges the op's `Attr` declarations give, and trusts every tensor to fit
the target. A hostile or broken model breaks those assumptions, so the frontend checks them
here, once, and turns each violation into a one-line `ModelError` (malformed: exit 3) or
`UnsupportedError` (too big for the target: exit 4) that names the op, node, opset and
attribute.
"""

from __future__ import annotations

from typing import Any

import onnx
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from onnx import helper

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir.limits import TARGET_INT_MAX, check_shape_fits
from tinyc.ops.registry import Attr, get_op, has_op

_ATTR_TYPE_NAMES = {
    int(v): name for name, v in onnx.AttributeProto.AttributeType.items()
}
#: tinyc's `Attr.kind` for each ONNX attribute type it reads
_KIND_OF_TYPE = {
    onnx.AttributeProto.FLOAT: "float",
    onnx.AttributeProto.INT: "int",
    onnx.AttributeProto.STRING: "string",
    onnx.AttributeProto.TENSOR: "tensor",
    onnx.AttributeProto.FLOATS: "floats",
    onnx.AttributeProto.INTS: "ints",
    onnx.AttributeProto.STRINGS: "strings",
}


#: attributes that say how many outputs a node has; ONNX shape inference trusts them (it
#: sizes its work by them), so they must agree with the node before it runs
_OUTPUT_COUNT_ATTRS = {"Split": "num_outputs"}


def node_where(proto: onnx.NodeProto, opset: int) -> str:
    """How every error about a node names it: op, node and opset."""
    label = proto.name or (proto.output[0] if proto.output else proto.op_type)
    return f"op {proto.op_type} (node '{label}', opset {opset})"


def check_graph(graph: onnx.GraphProto, opset: int) -> None:
    """Every node of `graph` and of its subgraphs against its ONNX schema and the bounds
    its `Attr`s declare: run before ONNX shape inference and before any op code, both of
    which trust attributes to be well formed."""
    for proto in graph.node:
        where = node_where(proto, opset)
        default_domain = proto.domain in ("", "ai.onnx")
        if default_domain:
            check_node_schema(proto, opset, where)
        attrs = {a.name: attribute_value(a, where) for a in proto.attribute}
        count = attrs.get(_OUTPUT_COUNT_ATTRS.get(proto.op_type, ""))
        if default_domain and count is not None and count != len(proto.output):
            raise ModelError(f"{where}: {_OUTPUT_COUNT_ATTRS[proto.op_type]} is {count}, the "
                             f"node has {len(proto.output)} outputs")
        if default_domain and has_op(proto.op_type):
            specs = get_op(proto.op_type).attrs
            if not onnx.defs.has(proto.op_type, opset, proto.domain):
                check_attribute_kinds(specs, proto, where)
            check_attribute_ranges(specs, attrs, where)
        for a in proto.attribute:
            for sub in [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs):
                check_graph(sub, opset)


def check_strings(message: Message, where: str = "model") -> None:
    """Every string field of the model is valid UTF-8. protobuf hands an invalid one back
    as `bytes`, which would otherwise surface as a type error deep inside onnx or tinyc."""
    for field, value in message.ListFields():
        if field.type not in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_MESSAGE):
            continue  # numbers (a tensor's float_data) need no look
        repeated = _is_repeated(field)
        items = list(value) if repeated else [value]
        if field.type == FieldDescriptor.TYPE_STRING:
            if any(not isinstance(item, str) for item in items):
                raise ModelError(f"{where}: field '{field.name}' is not valid UTF-8")
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            for i, item in enumerate(items):
                label = getattr(item, "name", "") or (f"{field.name}[{i}]" if repeated else
                                                     field.name)
                check_strings(item, f"{where} > {label!r}")


def _is_repeated(field: FieldDescriptor) -> bool:
    """protobuf 6+ has `is_repeated`; older releases only `label`."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return field.label == FieldDescriptor.LABEL_REPEATED  # type: ignore[attr-defined]


def attribute_value(a: onnx.AttributeProto, where: str) -> Any:
    """The Python value of an attribute; strings decoded strictly as UTF-8."""
    if a.type == onnx.AttributeProto.UNDEFINED:
        raise ModelError(f"{where}: attribute '{a.name}' has no type")
    try:
        value = helper.get_attribute_value(a)
    except Exception:  # onnx raises ValueError or TypeError for a type it does not know
        raise ModelError(f"{where}: attribute '{a.name}' has an unknown type ({a.type})") from None
    try:
        if isinstance(value, bytes):
            return value.decode()
        if a.type == onnx.AttributeProto.STRINGS:
            return [v.decode() for v in value]
    except UnicodeDecodeError:
        raise ModelError(f"{where}: attribute '{a.name}' is not valid UTF-8") from None
    return value


def check_node_schema(proto: onnx.NodeProto, opset: int, where: str) -> None:
    """Attribute names and types, and required inputs, as the op's ONNX schema declares
    them for the model's opset (nothing to check for an op ONNX does not define there)."""
    try:
        schema = onnx.defs.get_schema(proto.op_type, opset, proto.domain)
    except onnx.defs.SchemaError:
        return
    for a in proto.attribute:
        spec = schema.attributes.get(a.name)
        if spec is None:
            raise ModelError(
                f"{where}: attribute '{a.name}' is not an attribute of {proto.op_type}"
            )
        expected = int(spec.type)
        if a.type != expected:
            raise ModelError(
                f"{where}: attribute '{a.name}' must be {_type_name(expected)}, "
                f"the model gives {_type_name(a.type)}"
            )
    for i, formal in enumerate(schema.inputs):
        if formal.option != onnx.defs.OpSchema.FormalParameterOption.Single:
            continue
        if i >= len(proto.input) or not proto.input[i]:
            raise ModelError(f"{where}: required input {i} ('{formal.name}') is missing")
    if len(proto.input) > schema.max_input:
        raise ModelError(
            f"{where}: {len(proto.input)} inputs, {proto.op_type} takes at most "
            f"{schema.max_input}"
        )
    if not schema.min_output <= len(proto.output) <= schema.max_output:
        raise ModelError(
            f"{where}: {len(proto.output)} outputs, {proto.op_type} gives "
            f"{schema.min_output} to {schema.max_output}"
        )


def check_unique_names(graph: onnx.GraphProto) -> None:
    """Each value is defined once: by a graph input, an initializer (which may share its
    name with the graph input it gives a default) or one node output."""
    inputs = [vi.name for vi in graph.input]
    initializers = [t.name for t in graph.initializer]
    outputs = [name for node in graph.node for name in node.output if name]
    seen: set[str] = set()
    for names in (inputs, initializers):
        duplicate = _first_duplicate(names)
        if duplicate is not None:
            raise ModelError(f"value '{duplicate}' is defined twice")
    for name in [*set(inputs) | set(initializers), *outputs]:
        if name in seen:
            raise ModelError(f"value '{name}' is defined twice")
        seen.add(name)


def _first_duplicate(names: list[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def check_attribute_kinds(specs: dict[str, Attr], proto: onnx.NodeProto, where: str) -> None:
    """For ops with no ONNX schema at this opset: the attributes tinyc's `OpDef` declares,
    with the kinds it declares."""
    for a in proto.attribute:
        spec = specs.get(a.name)
        if spec is None:
            raise ModelError(f"{where}: unknown attribute '{a.name}'")
        if _KIND_OF_TYPE.get(a.type) != spec.kind:
            raise ModelError(
                f"{where}: attribute '{a.name}' must be {spec.kind}, the model gives "
                f"{_type_name(a.type)}"
            )


def check_attribute_ranges(specs: dict[str, Attr], given: dict[str, Any], where: str) -> None:
    """The bounds `Attr` declares, on every attribute the model gives (each element of a
    list). Defaults are tinyc's own and need no check."""
    for name, value in given.items():
        spec = specs.get(name)
        if spec is None or (spec.min is None and spec.max is None):
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, int | float):
                continue
            if spec.max == TARGET_INT_MAX and item > TARGET_INT_MAX:
                raise UnsupportedError(
                    f"{where}: attribute '{name}' = {item}; the target's int is 32-bit"
                )
            if (
                item != item  # NaN is in no declared range
                or (spec.min is not None and item < spec.min)
                or (spec.max is not None and item > spec.max)
            ):
                raise ModelError(
                    f"{where}: attribute '{name}' = {_short(value)} is out of range "
                    f"({spec.bounds()})"
                )


def check_tensor_dims(tensor: onnx.TensorProto, itemsize: int, what: str) -> None:
    """Dimensions that make sense and fit the target, before numpy reads the data."""
    check_shape_fits(list(tensor.dims), itemsize, what)


def _type_name(code: int) -> str:
    return _ATTR_TYPE_NAMES.get(code, f"type {code}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
