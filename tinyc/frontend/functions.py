"""Ops tinyc has no definition for but ONNX defines as a function of other ops (such as
ai.onnx.preview's FlexAttention, whose score_mod/prob_mod subgraphs its context-dependent
function body inlines): the node is replaced by that body, imported like any subgraph
(`tinyc/frontend/control.py`), so each op in it uses its own definition and kernels.

The body is the one for the opset the model imports for the node's domain; a
context-dependent body is built from the node and its inputs' static types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import onnx
from onnx import helper

from tinyc.frontend.control import inline
from tinyc.ops import has_op

if TYPE_CHECKING:
    from tinyc.frontend.onnx import _Importer

_DEFAULT = ("", "ai.onnx")


def _domain_version(imp: _Importer, domain: str) -> int | None:
    if domain in _DEFAULT:
        return imp.opset
    for o in imp.model.opset_import:
        if o.domain == domain:
            return o.version
    return None


def _input_type(imp: _Importer, name: str) -> onnx.TypeProto:
    t = imp.values[name].type
    return helper.make_tensor_type_proto(helper.np_dtype_to_tensor_dtype(t.dtype.np),
                                         list(t.shape))


def function_body(imp: _Importer, proto: onnx.NodeProto) -> onnx.FunctionProto | None:
    """ONNX's function body for `proto`, or None when there is none to expand."""
    version = _domain_version(imp, proto.domain)
    if version is None or not onnx.defs.has(proto.op_type, version, proto.domain):
        return None
    schema = onnx.defs.get_schema(proto.op_type, version, proto.domain)
    body = onnx.FunctionProto()
    plain = [v for v in schema.function_opset_versions if v <= version]
    dependent = [v for v in schema.context_dependent_function_opset_versions if v <= version]
    if plain:
        body.ParseFromString(schema.get_function_with_opset_version(max(plain)))
    elif dependent:
        try:
            types = [_input_type(imp, n).SerializeToString() for n in proto.input if n]
        except (KeyError, TypeError, ValueError):
            return None  # an input type ONNX cannot name: let the op be refused as usual
        if len(types) != len(proto.input):
            return None  # absent optional inputs: the builder takes types by position
        built = schema.get_context_dependent_function_with_opset_version(
            max(dependent), proto.SerializeToString(), types)
        if not built:
            return None
        body.ParseFromString(built)
    else:
        return None
    return body


def _resolve_attrs(node: onnx.NodeProto, given: dict[str, onnx.AttributeProto]) -> None:
    """Replace attribute references (`ref_attr_name`) by the calling node's attributes;
    a reference the caller leaves unset is dropped, so the inner op's default applies."""
    kept = []
    for a in node.attribute:
        if a.ref_attr_name:
            if a.ref_attr_name not in given:
                continue
            new = onnx.AttributeProto()
            new.CopyFrom(given[a.ref_attr_name])
            new.name = a.name
            kept.append(new)
        else:
            if a.type == onnx.AttributeProto.GRAPH:
                for n in a.g.node:
                    _resolve_attrs(n, given)
            kept.append(a)
    del node.attribute[:]
    node.attribute.extend(kept)


def expand_function(imp: _Importer, proto: onnx.NodeProto) -> bool:
    """Import `proto` as its ONNX function body when tinyc has no definition of the op;
    False when it has one, or ONNX defines no body."""
    if proto.domain in _DEFAULT and has_op(proto.op_type):
        return False
    body = function_body(imp, proto)
    if body is None:
        return False
    given = {a.name: a for a in proto.attribute}
    nodes = []
    for n in body.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        _resolve_attrs(copy, given)
        nodes.append(copy)
    bound = list(proto.input) + [""] * (len(body.input) - len(proto.input))
    graph = helper.make_graph(nodes, proto.op_type, [helper.make_empty_tensor_value_info(i)
                                                     for i in body.input],
                              [helper.make_empty_tensor_value_info(o) for o in body.output])
    label = proto.name or (proto.output[0] if proto.output else proto.op_type)
    results = inline(imp, graph, bound, f"{label}__{proto.op_type}__")
    for name, src in zip(proto.output, results, strict=False):
        if name:
            imp._import_node(helper.make_node("Identity", [src], [name], name=name))
    return True
