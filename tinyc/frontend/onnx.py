"""ONNX -> IR.

What happens here, in order: load and check the file; bind symbolic input dimensions
(`--shape`); turn initializers and Constant nodes into IR constants; for each node in
topological order look up its `OpDef`, fill attribute defaults, `normalize` it into the
canonical IR form, infer its output types, and fold it when all its inputs are constants
(this is what makes torch's Shape -> Gather -> Concat -> Reshape chains compile, and keeps
folding from growing flash: a folded result may not be bigger than its inputs).

Every user-facing failure is a `TinycError` naming the op, the node and the opset.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import onnx
from onnx import helper, numpy_helper

from tinyc.errors import ModelError, TinycError, UnsupportedError, UsageError
from tinyc.frontend.checks import (
    attribute_value,
    check_graph,
    check_strings,
    check_tensor_dims,
    check_unique_names,
    node_where,
)
from tinyc.frontend.consts import ConstBinding, bind_input
from tinyc.frontend.control import CONTROL_OPS, import_control, subgraph_refs
from tinyc.frontend.functions import expand_function
from tinyc.frontend.isolated import run_isolated
from tinyc.frontend.lowp import promote_bf16
from tinyc.frontend.qoperator import import_qoperator
from tinyc.ir import DType, Graph, Node, TensorType, Value
from tinyc.ir.limits import check_shape_fits
from tinyc.ops import get_op, has_op
from tinyc.ops.cast import LOWP_OPS, ONNX_TO_DTYPE
from tinyc.ops.registry import DECLARED_SHAPES, REQUIRED, folds_as_table
from tinyc.quant import semantics

#: oldest default-domain opset read at all; each op has its own `OpDef.min_opset` on top
MIN_OPSET = 1
MAX_OPSET = onnx.defs.onnx_opset_version()

_ONNX_DTYPES = {
    onnx.TensorProto.FLOAT: DType.F32,
    onnx.TensorProto.DOUBLE: DType.F64,
    onnx.TensorProto.FLOAT16: DType.F16,
    onnx.TensorProto.INT8: DType.I8,
    onnx.TensorProto.UINT8: DType.U8,
    onnx.TensorProto.INT16: DType.I16,
    onnx.TensorProto.UINT16: DType.U16,
    onnx.TensorProto.INT32: DType.I32,
    onnx.TensorProto.UINT32: DType.U32,
    onnx.TensorProto.INT64: DType.I64,
    onnx.TensorProto.UINT64: DType.U64,
    onnx.TensorProto.BOOL: DType.BOOL,
    **{code: dtype for code, dtype in ONNX_TO_DTYPE.items() if dtype.is_lowp},
}

#: metadata key listing graph inputs that have an initializer: ONNX makes the initializer
#: the input's default value, tinyc compiles it as a constant (the input leaves `NAME_run`)
CONSTANT_INPUTS = "inputs compiled as constants"

#: longest 1-D value with which ONNX shape inference still runs its data propagation
#: (which computes shape vectors, and allocates 8 bytes per element of every 1-D value)
DATA_PROP_MAX_VECTOR = 2**16

#: growth allowed when folding a node whose inputs are all constants (bytes)
FOLD_SLACK_BYTES = 256


def parse_shape_bindings(specs: list[str]) -> dict[str, tuple[int, ...]]:
    """`NAME=1x3x96x96` strings from the command line."""
    out: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name] = tuple(int(d) for d in dims.lower().split("x"))
            if any(d < 0 for d in out[name]):
                raise ValueError
        except ValueError:
            raise UsageError(f"bad --shape '{spec}': expected NAME=1x3x96x96") from None
    return out


def load_onnx(path: str | Path, shapes: dict[str, tuple[int, ...]] | None = None,
              consts: dict[str, ConstBinding] | None = None) -> Graph:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several unrelated types
        raise ModelError(f"{path}: not a valid ONNX file ({type(exc).__name__})") from None
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{path}: not a valid ONNX file (empty graph)")
    return import_model(model, shapes or {}, name=path.stem, consts=consts)


def import_model(
    model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]], name: str = "model",
    consts: dict[str, ConstBinding] | None = None,
    quant_semantics: str = semantics.ONNXRUNTIME,
) -> Graph:
    """`model` as an IR graph. A model with its own quantization gets `quant_semantics`
    recorded for `qdq-lower` (onnxruntime's arithmetic; the TFLite frontend asks for
    TFLite's)."""
    check_strings(model)
    opset = _default_opset(model)
    check_unique_names(model.graph)
    check_graph(model.graph, opset)
    importer = _Importer(model, opset, shapes, name, consts or {}, quant_semantics)
    return importer.run()


def _default_opset(model: onnx.ModelProto) -> int:
    versions = {o.domain: o.version for o in model.opset_import}
    opset = versions.get("", versions.get("ai.onnx"))
    if opset is None:
        others = sorted(d for d in versions if d not in ("", "ai.onnx"))
        if others:
            raise UnsupportedError(
                f"model imports only the domains {', '.join(others)}: tinyc compiles the "
                f"default ONNX domain"
            )
        raise ModelError("model imports no version of the default ONNX opset")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UnsupportedError(
            f"opset {opset} is not supported (tinyc reads opsets {MIN_OPSET} to {MAX_OPSET})"
        )
    return opset


def _declared_shapes(
    model: onnx.ModelProto, bindings: dict[str, tuple[int, ...]]
) -> dict[str, tuple[int, ...]]:
    """Static shapes the model declares or ONNX shape inference derives for its values
    (with the `--shape` bindings applied to the inputs first). Ops whose shape-like operand
    is a run-time input (Reshape's shape, Slice's starts, TopK's k, ...) compile against
    these and check the operand when the model runs."""
    if bindings:
        bound = onnx.ModelProto()
        bound.CopyFrom(model)
        for vi in bound.graph.input:
            if vi.name in bindings and vi.type.HasField("tensor_type"):
                shape = vi.type.tensor_type.shape
                shape.ClearField("dim")
                for d in bindings[vi.name]:
                    shape.dim.add().dim_value = d
        model = bound
    return run_isolated("ONNX shape inference", lambda: _inferred_shapes(model))


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    try:
        # without data propagation first: onnx's data propagation materializes values
        # (a Range of 1e10 elements), so a model whose shapes overflow the target stops here
        plain = onnx.shape_inference.infer_shapes(model)
        _check_inferred_sizes(plain)
        longest = max(_vector_lengths(plain), default=0)
        # ... and it keeps 8 bytes per element of every 1-D value: skip it when a 1-D
        # value is longer than any shape vector could be
        if longest <= DATA_PROP_MAX_VECTOR:
            model = onnx.shape_inference.infer_shapes(model, data_prop=True)
        else:
            model = plain
    except TinycError:
        raise
    except Exception:  # best effort: the declared graph outputs still count
        pass
    out: dict[str, tuple[int, ...]] = {}
    for vi in [*model.graph.value_info, *model.graph.output]:
        ttype = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not ttype.HasField("shape"):
            continue
        if all(d.HasField("dim_value") for d in ttype.shape.dim):
            out[vi.name] = tuple(d.dim_value for d in ttype.shape.dim)
    _shapes_backwards(model, out)
    return out


def _check_inferred_sizes(model: onnx.ModelProto) -> None:
    """Every value whose inferred static shape is known fits the target."""
    for vi in [*model.graph.value_info, *model.graph.output]:
        ttype = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not ttype.HasField("shape"):
            continue
        dims = [d.dim_value for d in ttype.shape.dim if d.HasField("dim_value")]
        dtype = _ONNX_DTYPES.get(ttype.elem_type)
        check_shape_fits(dims, dtype.itemsize if dtype else 1, f"tensor '{vi.name}'")


def _vector_lengths(model: onnx.ModelProto) -> list[int]:
    """Lengths of the 1-D values whose length the (plain) shape inference knows."""
    lengths = [t.dims[0] for t in model.graph.initializer if len(t.dims) == 1]
    for vi in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        if len(dims) == 1 and dims[0].HasField("dim_value"):
            lengths.append(dims[0].dim_value)
    return lengths


#: ops whose output 0 has the shape of their input 0, whatever the values
_SAME_SHAPE_OPS = frozenset(
    "Abs Acos Acosh Asin Asinh Atan Atanh Cast CastLike Ceil Cos Cosh Erf Exp Floor Identity "
    "IsInf IsNaN Log Neg Not Reciprocal Relu Round Sigmoid Sign Sin Sinh Softplus Softsign "
    "Sqrt Tan Tanh".split()
)


def _shapes_backwards(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]]) -> None:
    """Shape inference runs forwards only; a value whose shape depends on run-time data
    (a reduction over run-time axes) followed by shape-preserving ops up to a declared
    output gets that output's shape (only filled in where nothing is known)."""
    changed = True
    while changed:
        changed = False
        for node in reversed(model.graph.node):
            if node.op_type not in _SAME_SHAPE_OPS or not node.input or not node.output:
                continue
            src, dst = node.output[0], node.input[0]
            if dst and src in shapes and dst not in shapes:
                shapes[dst] = shapes[src]
                changed = True


def _dtype(elem_type: int, what: str) -> DType:
    if elem_type not in _ONNX_DTYPES:
        if elem_type not in onnx.TensorProto.DataType.values():
            raise ModelError(f"{what}: unknown element type {elem_type}")
        type_name = onnx.TensorProto.DataType.Name(elem_type) if elem_type else "undefined"
        raise UnsupportedError(f"{what}: element type {type_name} is not supported")
    return _ONNX_DTYPES[elem_type]


class _Importer:
    def __init__(
        self, model: onnx.ModelProto, opset: int, shapes: dict[str, tuple[int, ...]], name: str,
        consts: dict[str, ConstBinding], quant_semantics: str = semantics.ONNXRUNTIME,
    ) -> None:
        self.model = model
        self.quant_semantics = quant_semantics
        self.opset = opset
        self.shapes = dict(shapes)
        self.consts = consts
        self.graph = Graph(name)
        self.values: dict[str, Value] = {}
        self.declared = _declared_shapes(model, self.shapes)

    def run(self) -> Graph:
        g = self.model.graph
        init_names = {t.name for t in g.initializer}
        shadowed = [vi.name for vi in g.input if vi.name in init_names]
        if shadowed and self.model.ir_version >= 4:  # before IR 4 every weight is listed
            self.graph.metadata[CONSTANT_INPUTS] = ", ".join(ascii(n) for n in shadowed)
        for tensor in g.initializer:
            self._add_const(tensor.name, self._tensor(tensor, f"initializer '{tensor.name}'"))
        for vi in g.input:
            if vi.name not in init_names:
                self._add_input(vi)
        inputs = {vi.name for vi in g.input} - init_names
        for flag, names in (("--shape", self.shapes), ("--const", self.consts)):
            unknown = sorted(set(names) - inputs)
            if unknown:
                raise UsageError(f"{flag} names no graph input: {', '.join(unknown)}")
        for node in self._topological(g.node):
            self._import_node(node)
        for vi in g.output:
            value = self.values.get(vi.name)
            if value is None:
                raise ModelError(f"graph output '{vi.name}' is not produced by any node")
            self.graph.outputs.append(value)
        self._drop_dead()
        self.graph.metadata = {**self._metadata(), **self.graph.metadata}
        return self.graph

    # -- pieces ---------------------------------------------------------------------------
    def _metadata(self) -> dict[str, str]:
        m = self.model
        meta = {"onnx opset": str(self.opset)}
        if any(n.op_type in semantics.QUANTIZATION_OPS or n.domain == "com.microsoft"
               for n in m.graph.node):
            # the file's own quantization: compute what its runtime computes
            meta[semantics.METADATA_KEY] = self.quant_semantics
        if m.producer_name:
            meta["producer"] = f"{m.producer_name} {m.producer_version}".strip()
        return meta

    def _tensor(self, tensor: onnx.TensorProto, what: str) -> np.ndarray:
        check_tensor_dims(tensor, _dtype(tensor.data_type, what).itemsize, what)
        try:
            return numpy_helper.to_array(tensor)
        except Exception as exc:
            raise ModelError(f"{what}: unreadable tensor data ({exc})") from None

    def _add_const(self, name: str, data: np.ndarray) -> Value:
        value = self.graph.add_const(name, np.asarray(data))
        self.values[name] = value
        return value

    def _add_input(self, vi: onnx.ValueInfoProto) -> None:
        ttype = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            raise UnsupportedError(f"input '{vi.name}' is not a tensor")
        dtype = _dtype(ttype.elem_type, f"input '{vi.name}'")
        if vi.name in self.consts:  # --const: a constant from here on
            self._add_const(vi.name, bind_input(self.consts[vi.name], vi,
                                                self.shapes.get(vi.name)))
            return
        if vi.name in self.shapes:
            shape = self.shapes[vi.name]
            if ttype.HasField("shape") and len(ttype.shape.dim) != len(shape):
                raise UsageError(
                    f"--shape {vi.name}: rank {len(shape)} but the model declares "
                    f"rank {len(ttype.shape.dim)}"
                )
        else:
            if not ttype.HasField("shape"):
                raise UnsupportedError(f"input '{vi.name}' has no shape: bind it with --shape")
            dims = []
            for d in ttype.shape.dim:
                if not d.HasField("dim_value") or d.dim_value < 0:
                    label = d.dim_param or "?"
                    raise UnsupportedError(
                        f"input '{vi.name}' has symbolic dimension '{label}': "
                        f"bind it with --shape {vi.name}=..."
                    )
                dims.append(d.dim_value)
            shape = tuple(dims)
        check_shape_fits(shape, dtype.itemsize, f"input '{vi.name}'")
        self.values[vi.name] = self.graph.add_input(vi.name, TensorType(dtype, shape))

    def _topological(self, nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
        producer = {out: i for i, n in enumerate(nodes) for out in n.output if out}
        dag = nx.DiGraph()
        dag.add_nodes_from(range(len(nodes)))
        for i, n in enumerate(nodes):
            for name in [*n.input, *sorted(subgraph_refs(n))]:
                if name in producer:
                    dag.add_edge(producer[name], i)
        try:
            order = list(nx.lexicographical_topological_sort(dag))
        except nx.NetworkXUnfeasible:
            raise ModelError("the graph has a cycle") from None
        return [nodes[i] for i in order]

    def _import_node(self, proto: onnx.NodeProto) -> None:
        label = proto.name or (proto.output[0] if proto.output else proto.op_type)
        where = node_where(proto, self.opset)
        if proto.domain in ("", "ai.onnx") and proto.op_type in CONTROL_OPS:
            import_control(self, proto, where)
            return
        if import_qoperator(self, proto, where):  # onnxruntime's com.microsoft QLinear* ops
            return
        if expand_function(self, proto):  # an op ONNX defines as a function of others
            return
        if promote_bf16(self, proto):  # bfloat16 arithmetic, through float32
            return
        if proto.domain not in ("", "ai.onnx"):
            raise UnsupportedError(f"unsupported {where} in domain '{proto.domain}'")
        if proto.op_type == "Constant":
            self._import_constant(proto, where)
            return
        if not has_op(proto.op_type):
            raise UnsupportedError(f"unsupported {where}")
        opdef = get_op(proto.op_type)
        if self.opset < opdef.min_opset:
            raise UnsupportedError(
                f"unsupported {where}: tinyc reads {proto.op_type} from opset {opdef.min_opset}"
            )
        inputs: list[Value | None] = []
        for name in proto.input:
            if not name:
                inputs.append(None)
                continue
            if name not in self.values:
                raise ModelError(f"{where}: input '{name}' is not defined")
            inputs.append(self.values[name])
        while inputs and inputs[-1] is None:
            inputs.pop()
        attrs = {}
        for a in proto.attribute:
            value = attribute_value(a, where)
            if isinstance(value, onnx.TensorProto):
                value = self._tensor(value, where)
            attrs[a.name] = value
        for key, spec in opdef.attrs.items():
            if key not in attrs:
                default = spec.default_for(self.opset)
                if default is REQUIRED:
                    raise ModelError(f"{where}: required attribute '{key}' is missing")
                attrs[key] = default
        lowp = [v.dtype for v in inputs if v is not None and v.dtype.is_lowp]
        if lowp and proto.op_type not in LOWP_OPS:
            raise UnsupportedError(f"{where}: element type {lowp[0].value} is not supported")
        attrs[DECLARED_SHAPES] = [self.declared.get(o) for o in proto.output]
        node = Node(proto.op_type, inputs, [], attrs, name=label)
        try:
            opdef.normalize(node, self.opset)
            node.attrs.pop(DECLARED_SHAPES, None)
            types = opdef.infer(node)
        except TinycError:
            node.drop_inputs()
            raise
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            node.drop_inputs()
            raise ModelError(f"{where}: invalid node ({exc})") from None
        outputs = [n for n in proto.output]
        for oname, ttype in zip(outputs, types):
            check_shape_fits(ttype.shape, ttype.dtype.itemsize, f"{where}: output '{oname}'")
        if len(types) < len([o for o in outputs if o]):
            raise UnsupportedError(f"{where}: {len(outputs)} outputs, tinyc computes {len(types)}")
        node.outputs = []
        for i, (oname, ttype) in enumerate(zip(outputs, types)):
            value = Value(oname or f"{label}_unused{i}", ttype, node, i)
            node.outputs.append(value)
        self._fold_or_add(node, opdef, where)

    def _fold_or_add(self, node: Node, opdef, where: str) -> None:  # type: ignore[no-untyped-def]
        folded = None
        in_bytes = sum(v.type.nbytes for v in node.inputs if v is not None)
        out_bytes = sum(v.type.nbytes for v in node.outputs)
        if folds_as_table(opdef, out_bytes) or out_bytes <= in_bytes + FOLD_SLACK_BYTES:
            try:
                folded = opdef.fold(node)
            except TinycError:
                raise
            except Exception as exc:
                raise ModelError(f"{where}: cannot evaluate constant node ({exc})") from None
        if folded is None:
            self.graph.add_node(node)
            for out in node.outputs:
                if out.name in self.values:
                    raise ModelError(f"{where}: value '{out.name}' is defined twice")
                self.values[out.name] = out
            return
        node.drop_inputs()
        for out, data in zip(node.outputs, folded):
            data = np.asarray(data).astype(out.dtype.np).reshape(out.shape)
            self._add_const(out.name, data)

    def _import_constant(self, proto: onnx.NodeProto, where: str) -> None:
        if len(proto.attribute) != 1:
            raise ModelError(f"{where}: Constant needs exactly one value attribute")
        a = proto.attribute[0]
        value = helper.get_attribute_value(a)
        if a.name == "value":
            data = self._tensor(value, where)
        elif a.name == "value_float":
            data = np.asarray(value, np.float32)
        elif a.name == "value_floats":
            data = np.asarray(value, np.float32)
        elif a.name == "value_int":
            data = np.asarray(value, np.int64)
        elif a.name == "value_ints":
            data = np.asarray(value, np.int64)
        else:
            raise UnsupportedError(f"unsupported {where}: attribute {a.name}")
        self._add_const(proto.output[0], data)

    def _drop_dead(self) -> None:
        """Nodes whose results reach no output were imported only to be folded away."""
        live = {id(v) for v in self.graph.outputs}
        keep: list[Node] = []
        for node in reversed(self.graph.nodes):
            if any(id(o) in live for o in node.outputs):
                keep.append(node)
                live.update(id(v) for v in node.inputs if v is not None)
            else:
                node.drop_inputs()
        self.graph.nodes = keep[::-1]
        self.graph.remove_unused_constants()
