"""sparsify-weights: store mostly-zero weights compactly and run the sparse kernels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyc.ir import DType, Graph, Node, Value
from tinyc.ops.qint4 import packs_int4
from tinyc.passes.base import Pass, PassContext, PassResult, register_pass
from tinyc.prune.select import LayerFilter
from tinyc.prune.sparse import (
    LayerCost,
    best_encoding,
    kernel_set,
    layer_cost,
    weight_matrix,
)

#: dense ops with a constant weight the sparse kernels replace
DENSE_OPS = ("Conv", "Gemm", "MatMul", "QConv", "QGemm")
SPARSE_OPS = ("SparseConv", "SparseGemm", "SparseQConv", "SparseQGemm")


def _gemm_bias(node: Node, n: int) -> np.ndarray | None | bool:
    """Gemm's beta * C as a float32 [N] vector; None without C; False when C does not
    broadcast along the rows (then the layer stays dense)."""
    c = node.input(2)
    if c is None:
        return None
    if c.const is None:
        return False
    y_rows = node.outputs[0].shape[0]
    shape = c.shape
    if c.type.numel == 1:
        data = np.full(n, c.const.reshape(-1)[0], dtype=np.float32)
    elif shape in ((n,), (1, n)) or (shape == (y_rows, n) and y_rows == 1):
        data = c.const.reshape(n).astype(np.float32)
    else:
        return False
    # the dense kernel computes beta * C in float32 at run time: the same product
    return (np.float32(node.attrs["beta"]) * data).astype(np.float32)


def candidate(graph: Graph, node: Node) -> tuple[np.ndarray, tuple[int, ...]] | None:
    """The rows x cols weight of a node the sparse kernels can run, else None."""
    outputs = {id(v) for v in graph.outputs}
    x, w = node.input(0), node.input(1)
    if node.op not in DENSE_OPS or x is None or w is None or w.const is None:
        return None
    if len(w.uses) != 1 or id(w) in outputs:
        return None  # a shared weight would stay in flash anyway
    if node.op in ("QConv", "QGemm"):
        q = w.type.quant
        if packs_int4(node):
            return None  # int4 weights stay packed (the sparse kernels store int8 values)
        if w.dtype is not DType.I8 or q is None or any(q.zero_point) or q.axis not in (None, 0):
            return None
        if x.dtype is not DType.I8:  # the sparse integer kernels are int8 (not int16x8)
            return None
    elif x.dtype is not DType.F32 or w.dtype is not DType.F32:
        return None
    b = node.input(2)
    if node.op in ("Conv", "QConv"):
        if x.type.rank not in (3, 4) or (b is not None and b.const is None):
            return None
    elif node.op == "QGemm":
        if b is not None and b.const is None:
            return None
    elif node.op == "Gemm":
        if node.attrs["transA"] or x.type.rank != 2:
            return None
    elif x.type.rank != 2:
        return None
    return weight_matrix(node)


def layer_costs(graph: Graph, policy: str = "auto", max_slowdown: float = 1.5,
                layers: LayerFilter | str | None = None,
                target: str = "generic") -> list[LayerCost]:
    """The cost model's view of every Conv/Gemm/MatMul and sparse layer, in graph order
    (what `sparsify-weights` decides, and what the report prints after it ran)."""
    return [cost for _, cost in _node_costs(graph, policy, max_slowdown, layers, target)]


def _node_costs(graph: Graph, policy: str, max_slowdown: float,
                layers: LayerFilter | str | None,
                target: str) -> list[tuple[Node, LayerCost]]:
    from tinyc.ops.sparse import dense_weight

    kernels = kernel_set(target)
    filt = layers if isinstance(layers, LayerFilter) else LayerFilter.parse(layers)
    costs: list[tuple[Node, LayerCost]] = []
    for node in graph.nodes:
        if node.op in SPARSE_OPS:
            shape = tuple(node.attrs["weight_shape"])
            dense = dense_weight(node)
            matrix = dense.reshape(shape[0], -1)
            vals = node.inputs[1]
            assert vals is not None
            csr = best_encoding(matrix)
            cost = layer_cost(node, matrix, shape, vals.name.removesuffix("_values"), csr,
                              "always", kernels=kernels)
            costs.append((node, cost))
            continue
        found = candidate(graph, node)
        w = node.input(1)
        if found is None or w is None:
            continue
        matrix, shape = found
        names = (node.name, w.name, node.outputs[0].name)
        csr = best_encoding(matrix) if np.count_nonzero(matrix) < matrix.size else None
        pol = policy if filt.accepts(names) else "never"
        costs.append((node, layer_cost(node, matrix, shape, w.name, csr, pol, max_slowdown,
                                       kernels)))
    return costs


def _replace(graph: Graph, node: Node, new: Node) -> None:
    pos = next(i for i, n in enumerate(graph.nodes) if n is node)
    node.drop_inputs()
    graph.nodes[pos] = new


def _const(graph: Graph, base: str, data: np.ndarray) -> Value:
    return graph.add_const(graph.unique_name(base), np.ascontiguousarray(data))


def sparsify_node(graph: Graph, node: Node, matrix: np.ndarray) -> bool:
    """Replace `node` by its SparseConv/SparseGemm form; False if it cannot be encoded."""
    csr = best_encoding(matrix)
    w, x = node.inputs[1], node.inputs[0]
    assert w is not None and x is not None
    if csr is None:
        return False
    bias: Value | None = None
    if node.op == "Gemm":
        b = _gemm_bias(node, matrix.shape[0])
        if b is False:
            return False
        if isinstance(b, np.ndarray):
            c = node.input(2)
            same = c is not None and c.const is not None and c.shape == b.shape
            reuse = same and np.array_equal(c.const, b) and c.dtype is DType.F32  # type: ignore[union-attr]
            bias = c if reuse else _const(graph, f"{w.name}_bias", b)
    elif node.op == "Conv":
        bias = node.input(2)
    values = _const(graph, f"{w.name}_values", csr.values)
    deltas = _const(graph, f"{w.name}_deltas", csr.deltas)
    row_nnz = _const(graph, f"{w.name}_row_nnz", csr.row_nnz)
    inputs: list[Value | None] = [x, values, deltas, row_nnz]
    if bias is not None:
        inputs.append(bias)
    conv_keys = ("dilations", "group", "kernel_shape", "pads", "strides")
    if node.op in ("QConv", "QGemm"):
        assert w.type.quant is not None
        attrs = {k: node.attrs[k] for k in ("act_min", "act_max")}
        attrs.update(weight_shape=list(w.shape),
                     weight_scales=[float(s) for s in w.type.quant.scale])
        if node.op == "QConv":
            attrs.update({k: node.attrs[k] for k in conv_keys})
        op = "SparseQConv" if node.op == "QConv" else "SparseQGemm"
        inputs[4:] = [node.input(2)] if node.input(2) is not None else []
        new = Node(op, inputs, node.outputs, attrs, name=node.name)
        _replace(graph, node, new)
        return True
    act = {k: node.attrs[k] for k in ("activation", "activation_params") if k in node.attrs}
    act.setdefault("activation", "")
    act.setdefault("activation_params", [])
    if node.op == "Conv":
        attrs = {k: node.attrs[k] for k in conv_keys}
        attrs.update(act, weight_shape=list(w.shape))
        new = Node("SparseConv", inputs, node.outputs, attrs, name=node.name)
    else:
        alpha = float(node.attrs.get("alpha", 1.0)) if node.op == "Gemm" else 1.0
        attrs = {"weight_shape": list(matrix.shape), "alpha": alpha, **act}
        new = Node("SparseGemm", inputs, node.outputs, attrs, name=node.name)
    _replace(graph, node, new)
    return True


@register_pass
@dataclass(frozen=True)
class SparsifyWeights(Pass):
    """Store a Conv/Gemm/MatMul (float32) or QConv/QGemm (int8) weight that has zeros in
    delta-coded CSR form
    (`tinyc.prune.sparse`) and run the sparse kernel, when the per-layer cost model says
    it pays under `policy`: `auto` (smaller and at most `max-slowdown` times the dense
    instruction estimate for `target`'s dense kernels, or faster and no bigger), `flash`,
    `speed`, `always`, `never`.
    Models that arrive already sparse are handled the same way as pruned ones.

    Run it last: the sparse ops take no further fusion. Refuses (keeps dense) a weight that
    is shared or a graph output, a run-time bias, Gemm with transA or a C that varies
    along the rows, other dtypes, int8 weights that are not symmetric per output channel,
    and rows longer than 65535 stored entries.
    """

    name = "sparsify-weights"
    summary = "store mostly-zero Conv/Gemm weights as CSR and use sparse kernels (cost model)"
    policy: str = "auto"
    """auto | flash | speed | always | never"""
    max_slowdown: float = 1.5
    """auto: the largest estimated slowdown accepted for a flash saving"""
    target: str = "generic"
    """code-generation target whose dense kernels the sparse ones are compared with"""
    layers: str = ""
    """include/exclude patterns, `|`-separated (see tinyc.prune.select.LayerFilter)"""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        modified = False
        for node, cost in _node_costs(graph, self.policy, self.max_slowdown, self.layers,
                                      self.target):
            if cost.choice != "sparse" or node.op.startswith("Sparse"):
                continue
            found = candidate(graph, node)
            if found is not None and sparsify_node(graph, node, found[0]):
                ctx.count("sparsify-weights:layers")
                modified = True
        if modified:
            graph.remove_unused_constants()
        return PassResult(graph, modified)
