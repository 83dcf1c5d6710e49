"""Hypothesis strategies for random, valid, float32 IR graphs (shared by every test suite).

    from tests.strategies import graphs

    @given(graphs(ops=["Conv", "BatchNormalization", "Relu"], max_nodes=6))
    def test_something(case):
        graph, feeds = case           # a verified Graph and {input name: np.ndarray}
        run_graph(graph, feeds)

What you get: a DAG built node by node. Each new node reads the most recent value about
half the time (so chains such as Conv -> BatchNormalization -> Relu appear) and an older
value otherwise (branching and fan-out); binary ops also read a second value, a constant
of a broadcast-compatible shape, or a small constant-only subgraph (for fold-constants).
Every node is built exactly as the ONNX frontend builds it (attribute defaults filled,
`normalize` at opset 17, types from the op's shape rule), so graphs look like imported ones.
Graph outputs are all unused results plus, sometimes, intermediate ones (which passes must
not rewrite away). Shapes are static and small (dims <= 6, rank 2 to 4) so the reference
interpreter stays fast.

`ops` chooses the ops (names from `FLOAT_OPS`; five extra pseudo-ops: "Duplicate" repeats
an earlier node with the same inputs and attributes, for CSE; "Shape" adds a
Shape -> Gather -> Cast -> Div motif, for shape folding; "ChannelsLast" a Transpose, a
layout-agnostic op and the inverse Transpose, as tf2onnx writes NHWC layers;
"FlattenDense" a Transpose, Flatten and MatMul/Gemm, Keras' Flatten before Dense;
"Gated" multiplies a value by a gate of itself as exporters write hardswish and SiLU). Structure
(ops, shapes, attributes) is drawn from hypothesis and shrinks; tensor data comes from a
numpy generator seeded by one drawn integer, which keeps generation fast. Data is tame on
purpose: inputs and weights are N(0, 1) scaled down, divisors are constants with
|c| >= 0.5, BatchNorm variances lie in [0.1, 2], so float comparisons after a pass are
meaningful.

`make_node` is the same builder for hand-written graphs in unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tinyc.ir import DType, Graph, Node, TensorType, Value
from tinyc.ir.verify import verify
from tinyc.ops import get_op
from tinyc.ops.registry import REQUIRED
from tinyc.ops.window import output_size

OPSET = 17

#: every op the strategy can build
FLOAT_OPS: tuple[str, ...] = (
    "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div",
    "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid",
    "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "Softmax", "Reshape", "Flatten", "Transpose", "Concat", "Squeeze", "Unsqueeze",
    "Identity", "Dropout", "Cast", "Pad", "Shape", "Duplicate", "Gated", "ReduceMean",
    "ReduceMax", "ChannelsLast", "FlattenDense",
)  # fmt: skip

#: ops that fit the activation-fusion and bias-folding passes
LINEAR_OPS = ("Conv", "Gemm", "MatMul", "Add", "BatchNormalization", "Flatten")
ACTIVATION_OPS = ("Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSwish", "HardSigmoid")

Case = tuple[Graph, dict[str, np.ndarray]]


def make_node(graph: Graph, op: str, inputs: Sequence[Value | None], **attrs: Any) -> Node:
    """Append an `op` node built like the ONNX frontend does: attribute defaults, then
    `normalize` (opset 17), then the shape rule gives the output types. Outputs are named
    `v<N>`."""
    opdef = get_op(op)
    full: dict[str, Any] = {}
    for key, spec in opdef.attrs.items():
        if spec.default_for(OPSET) is not REQUIRED:
            full[key] = spec.default_for(OPSET)
    full.update(attrs)
    node = Node(op, inputs, [], full, name=f"n{len(graph.nodes)}")
    opdef.normalize(node, OPSET)
    types = opdef.infer(node)
    names = graph.value_names()
    outs = []
    for i, ttype in enumerate(types):
        base = f"v{len(graph.nodes)}" + (f"_{i}" if i else "")
        name, k = base, 1
        while name in names:
            name, k = f"{base}_{k}", k + 1
        outs.append(Value(name, ttype, node, i))
    node.outputs = outs
    graph.add_node(node)
    return node


class _Builder:
    """Mutable state while drawing one graph."""

    def __init__(self, draw: st.DrawFn, seed: int) -> None:
        self.draw = draw
        self.rng = np.random.default_rng(seed)
        self.graph = Graph("random")
        #: float32 values computed at run time, oldest first
        self.pool: list[Value] = []
        #: the next `pick` must return the newest value (set between ops of a chain)
        self.chain = False

    # -- drawing helpers ---------------------------------------------------------------
    def pick(self, pred: Callable[[Value], bool] = lambda v: True) -> Value | None:
        """A run-time value: the newest matching one half the time, else any. Inside a
        chain ("Conv>Relu") the next op must read the newest value."""
        if self.chain:
            self.chain = False
            newest = self.pool[-1] if self.pool else None
            return newest if newest is not None and pred(newest) else None
        cands = [v for v in reversed(self.pool) if pred(v)]
        if not cands:
            return None
        if self.draw(st.booleans()):
            return cands[0]
        return cands[self.draw(st.integers(0, len(cands) - 1))]

    def choice(self, options: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(options)))

    def const(self, shape: Sequence[int], kind: str = "normal") -> Value:
        """A float32 constant; sometimes a byte-identical copy of an earlier one (for CSE)."""
        shape = tuple(shape)
        twins = [c for c in self.graph.constants if c.shape == shape and c.dtype is DType.F32]
        if twins and kind == "normal" and self.rng.random() < 0.2:
            data = twins[int(self.rng.integers(len(twins)))].const.copy()  # type: ignore[union-attr]
        elif kind == "positive":
            data = self.rng.uniform(0.1, 2.0, shape)
        elif kind == "divisor":
            sign = np.where(self.rng.random(shape) < 0.5, -1.0, 1.0)
            data = self.rng.uniform(0.5, 2.0, shape) * sign
        else:
            data = self.rng.standard_normal(shape) * 0.5
        name = f"c{len(self.graph.constants)}"
        return self.graph.add_const(name, np.asarray(data, dtype=np.float32).reshape(shape))

    def operand(self, shape: Sequence[int]) -> Value:
        """A constant of `shape`, or a small constant-only subgraph computing one."""
        if self.draw(st.integers(0, 4)) != 0:
            return self.const(shape)
        op = self.choice(["Relu", "Add", "Transpose", "Sigmoid"])
        if op == "Add":
            return self.node("Add", [self.const(shape), self.const(shape)], pool=False)
        if op == "Transpose" and len(shape) >= 2:
            src = self.const(tuple(reversed(shape)))
            return self.node("Transpose", [src], perm=list(reversed(range(len(shape)))),
                             pool=False)
        return self.node("Relu" if op == "Transpose" else op, [self.const(shape)], pool=False)

    def node(self, op: str, inputs: Sequence[Value | None], pool: bool = True,
             **attrs: Any) -> Value:
        out = make_node(self.graph, op, inputs, **attrs).outputs[0]
        if pool and out.dtype is DType.F32:
            self.pool.append(out)
        return out

    def broadcast_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape that broadcasts against `shape`: dims kept or 1, leading dims dropped,
        and rarely a size-1 dim of `shape` widened (the result then grows)."""
        mode = self.draw(st.integers(0, 3))
        if mode == 0 and len(shape) >= 3:  # per-channel, as a bias or a BatchNorm would be
            per_channel = (shape[1],) + (1,) * (len(shape) - 2)
            return per_channel if self.draw(st.booleans()) else (1,) + per_channel
        if mode == 1:
            return (1,)
        out = []
        for d in shape:
            r = self.draw(st.integers(0, 5))
            out.append(d if r < 3 else (1 if r < 5 or d != 1 else self.draw(st.integers(2, 3))))
        drop = self.draw(st.integers(0, len(out)))  # all of them: a 0-d scalar
        return tuple(out[drop:])


# -- one builder per op -------------------------------------------------------------------


def _conv(b: _Builder) -> bool:
    x = b.pick(lambda v: v.type.rank in (3, 4) and v.shape[1] <= 8)
    if x is None:
        return False
    c, nsp = x.shape[1], x.type.rank - 2
    kind = b.choice(["dense", "depthwise", "grouped"])
    group = {"dense": 1, "depthwise": c, "grouped": max(1, c // 2) if c % 2 == 0 else 1}[kind]
    m = group * b.draw(st.integers(1, 2)) if kind == "depthwise" else b.draw(st.integers(1, 6))
    if m % group:
        m = group
    ks, strides, dils, pads = [], [], [], []
    for i in range(nsp):
        size = x.shape[2 + i]
        k = b.draw(st.integers(1, 3))
        s, d = b.draw(st.integers(1, 2)), b.draw(st.integers(1, 2))
        p0, p1 = b.draw(st.integers(0, 1)), b.draw(st.integers(0, 1))
        if output_size(size, k, s, d, p0, p1, False) < 1:
            k, s, d, p0, p1 = 1, 1, 1, 0, 0
        ks.append(k)
        strides.append(s)
        dils.append(d)
        pads.append((p0, p1))
    w = b.const((m, c // group) + tuple(ks))
    bias = b.const((m,)) if b.draw(st.booleans()) else None
    b.node("Conv", [x, w, bias], group=group, strides=strides, dilations=dils,
           pads=[p for p, _ in pads] + [q for _, q in pads])
    return True


def _gemm(b: _Builder) -> bool:
    x = b.pick(lambda v: v.type.rank == 2)
    if x is None:
        return False
    trans_a, trans_b = b.draw(st.integers(0, 1)), b.draw(st.integers(0, 1))
    m, k = x.shape[::-1] if trans_a else x.shape
    n = b.draw(st.integers(1, 6))
    w = b.const((n, k) if trans_b else (k, n))
    c_shape = b.choice([None, (n,), (1, n), (m, n), (m, 1), (1,), ()])
    c = None if c_shape is None else b.const(c_shape)
    b.node("Gemm", [x, w] + ([c] if c is not None else []), transA=trans_a, transB=trans_b,
           alpha=b.choice([1.0, 0.5]), beta=b.choice([1.0, 1.0, 0.5]))
    return True


def _matmul(b: _Builder) -> bool:
    x = b.pick(lambda v: v.type.rank in (2, 3))
    if x is None:
        return False
    n = b.draw(st.integers(1, 6))
    k = x.shape[-1]
    other = b.pick(lambda v: v.type.rank == 2 and v.shape[0] == k) if b.draw(
        st.integers(0, 3)) == 0 else None
    w = other if other is not None else b.const((k, n))
    b.node("MatMul", [x, w])
    return True


def _binary(op: str) -> Callable[[_Builder], bool]:
    def build(b: _Builder) -> bool:
        x = b.pick()
        if x is None:
            return False
        if op == "Div":
            b.node("Div", [x, b.const(b.broadcast_shape(x.shape), "divisor")])
            return True
        r = b.draw(st.integers(0, 3))
        y = b.pick(lambda v: v.shape == x.shape) if r == 0 else None
        if y is None:
            y = b.operand(b.broadcast_shape(x.shape))
        b.node(op, [y, x] if b.draw(st.booleans()) else [x, y])
        return True

    return build


def _activation(op: str) -> Callable[[_Builder], bool]:
    def build(b: _Builder) -> bool:
        x = b.pick()
        if x is None:
            return False
        attrs: dict[str, Any] = {}
        if op == "LeakyRelu":
            attrs["alpha"] = b.choice([0.01, 0.1, 0.3])
        elif op == "HardSigmoid":
            attrs.update(alpha=b.choice([0.2, 0.5]), beta=b.choice([0.5, 0.4]))
        elif op == "Clip":
            lo, hi = b.choice([(0.0, 6.0), (-1.0, 1.0), (0.0, 0.5), (-0.5, float("inf")),
                               (float("-inf"), 0.25)])
            attrs.update(min=lo, max=hi)
        b.node(op, [x], **attrs)
        return True

    return build


def _batchnorm(b: _Builder) -> bool:
    x = b.pick(lambda v: v.type.rank >= 2)
    if x is None:
        return False
    c = x.shape[1]
    params = [b.const((c,)), b.const((c,)), b.const((c,)), b.const((c,), "positive")]
    b.node("BatchNormalization", [x, *params], epsilon=b.choice([1e-5, 1e-3, 0.1, 0.5]))
    return True


def _pool(op: str) -> Callable[[_Builder], bool]:
    def build(b: _Builder) -> bool:
        x = b.pick(lambda v: v.type.rank in (3, 4))
        if x is None:
            return False
        if op.startswith("Global"):
            b.node(op, [x])
            return True
        nsp = x.type.rank - 2
        ks, st_, pb, pe = [], [], [], []
        for i in range(nsp):
            k = min(b.draw(st.integers(1, 3)), x.shape[2 + i])
            ks.append(k)
            st_.append(b.draw(st.integers(1, 2)))
            pb.append(b.draw(st.integers(0, k - 1)))
            pe.append(b.draw(st.integers(0, k - 1)))
        attrs: dict[str, Any] = dict(kernel_shape=ks, strides=st_, pads=pb + pe,
                                     ceil_mode=b.draw(st.integers(0, 1)))
        if op == "AveragePool":
            attrs["count_include_pad"] = b.draw(st.integers(0, 1))
        b.node(op, [x], **attrs)
        return True

    return build


def _softmax(b: _Builder) -> bool:
    x = b.pick()
    if x is None or x.type.rank == 0:  # a scalar has no axis to normalize over
        return False
    b.node("Softmax", [x], axis=b.draw(st.integers(-x.type.rank, x.type.rank - 1)))
    return True


def _reshape(b: _Builder) -> bool:
    x = b.pick()
    if x is None:
        return False
    shape = list(x.shape)
    how = b.choice(["flat", "merge", "insert1", "drop1", "same"])
    if how == "flat":
        shape = [1, prod(shape)] if b.draw(st.booleans()) else [prod(shape)]
    elif how == "merge" and len(shape) >= 2:
        i = b.draw(st.integers(0, len(shape) - 2))
        shape[i : i + 2] = [shape[i] * shape[i + 1]]
    elif how == "insert1" and len(shape) < 5:
        shape.insert(b.draw(st.integers(0, len(shape))), 1)
    elif how == "drop1" and 1 in shape and len(shape) > 1:
        shape.remove(1)
    if b.draw(st.booleans()) and shape:
        # also exercise -1 and 0 in the spec, resolved by normalize like the frontend does
        shape[b.draw(st.integers(0, len(shape) - 1))] = -1
    spec = b.graph.add_const(f"s{len(b.graph.constants)}", np.asarray(shape, np.int64))
    b.node("Reshape", [x, spec])
    return True


def _flatten(b: _Builder) -> bool:
    x = b.pick()
    if x is None:
        return False
    b.node("Flatten", [x], axis=b.draw(st.integers(0, x.type.rank)))
    return True


def _transpose(b: _Builder) -> bool:
    x = b.pick(lambda v: v.type.rank >= 2)
    if x is None:
        return False
    perm = b.draw(st.permutations(list(range(x.type.rank))))
    b.node("Transpose", [x], perm=list(perm))
    return True


def _concat(b: _Builder) -> bool:
    x = b.pick()
    if x is None or x.type.rank == 0:  # scalars have no axis to join along
        return False
    axis = b.draw(st.integers(0, x.type.rank - 1))
    others = []
    for _ in range(b.draw(st.integers(1, 2))):
        shape = list(x.shape)
        shape[axis] = b.draw(st.integers(1, 3))
        same = b.pick(lambda v, s=tuple(shape): v.shape == s)
        others.append(same if same is not None and b.draw(st.booleans()) else b.const(shape))
    b.node("Concat", [x, *others], axis=axis)
    return True


def _squeeze(b: _Builder) -> bool:
    x = b.pick(lambda v: 1 in v.shape and v.type.rank >= 2)
    if x is None:
        return False
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    axes = b.draw(st.lists(st.sampled_from(ones), min_size=1, unique=True))
    b.node("Squeeze", [x], axes=sorted(axes))
    return True


def _unsqueeze(b: _Builder) -> bool:
    x = b.pick(lambda v: v.type.rank <= 4)
    if x is None:
        return False
    axis = b.draw(st.integers(0, x.type.rank))
    b.node("Unsqueeze", [x], axes=[axis])
    return True


def _copy(op: str) -> Callable[[_Builder], bool]:
    def build(b: _Builder) -> bool:
        x = b.pick()
        if x is None:
            return False
        b.node(op, [x])
        return True

    return build


def _cast(b: _Builder) -> bool:
    x = b.pick()
    if x is None:
        return False
    if b.draw(st.booleans()):
        b.node("Cast", [x], to=1)  # float -> float: a no-op cast
    else:
        wide = b.node("Cast", [x], pool=False, to=11)  # f32 -> f64 -> f32 is exact
        b.node("Cast", [wide], to=1)
    return True


def _pad(b: _Builder) -> bool:
    x = b.pick(lambda v: v.type.rank >= 1)  # Pad of a 0-d tensor reads as run-time pads
    if x is None:
        return False
    r = x.type.rank
    pads = [b.draw(st.integers(0, 1)) for _ in range(2 * r)]
    if r >= 3 and b.draw(st.booleans()):  # spatial only, as exporters pad before a window op
        for i in (0, 1, r, r + 1):
            pads[i] = 0
    b.node("Pad", [x], pads=pads, value=b.choice([0.0, 1.5]))
    return True


def _gated(b: _Builder) -> bool:
    """x times a gate of x, spelled as exporters write hardswish and SiLU (HardSigmoid,
    Paddle's Clip(x + 3, 0, 6) / 6, Relu then Min, Sigmoid), or with other constants."""
    x = b.pick()
    if x is None:
        return False

    def scalar(value: float) -> Value:
        return b.graph.add_const(f"c{len(b.graph.constants)}", np.asarray(value, np.float32))

    form = b.choice(["hardsigmoid", "paddle", "relu6-min", "sigmoid", "other-constants"])
    if form == "hardsigmoid":
        gate = b.node("HardSigmoid", [x], pool=False, alpha=1 / 6, beta=0.5)
    elif form == "sigmoid":
        scaled = b.node("Mul", [x, scalar(b.choice([1.0, 1.702]))], pool=False)
        gate = b.node("Sigmoid", [b.choice([x, scaled])], pool=False)
    else:
        shifted = b.node("Add", [scalar(3.0), x] if b.draw(st.booleans()) else [x, scalar(3.0)],
                         pool=False)
        if form == "relu6-min":
            gate = b.node("Min", [b.node("Relu", [shifted], pool=False), scalar(6.0)], pool=False)
        else:
            gate = b.node("Clip", [shifted], pool=False, min=0.0,
                          max=6.0 if form == "paddle" else 5.0)
    product = b.node("Mul", [x, gate] if b.draw(st.booleans()) else [gate, x],
                     pool=form in ("hardsigmoid", "sigmoid"))
    if form not in ("hardsigmoid", "sigmoid"):
        if b.draw(st.booleans()):
            b.node("Div", [product, scalar(6.0)])
        else:
            b.node("Mul", [product, scalar(1 / 6)])
    return True


def _reduce(op: str) -> Callable[[_Builder], bool]:
    def build(b: _Builder) -> bool:
        x = b.pick(lambda v: v.type.rank >= 2)
        if x is None:
            return False
        r = x.type.rank
        if r >= 3 and b.draw(st.booleans()):
            axes = list(range(2, r))  # the spatial axes, as a global pool written out
        else:
            # never every axis: a 0-d result would leave nothing for the axis-taking builders
            axes = sorted(b.draw(st.lists(st.integers(0, r - 1), min_size=1, max_size=r - 1,
                                          unique=True)))
        b.node(op, [x], axes=axes, keepdims=b.draw(st.integers(0, 1)))
        return True

    return build


def _channels_last(b: _Builder) -> bool:
    """What tf2onnx writes around an NHWC layer: Transpose{p}(x), a layout-agnostic op
    (activation, Add of a broadcast constant or of another Transpose{p}, Pad, Concat) and
    Transpose{p^-1} back."""
    x = b.pick(lambda v: v.type.rank >= 3)
    if x is None:
        return False
    perm = list(b.draw(st.permutations(list(range(x.type.rank)))))
    t = b.node("Transpose", [x], pool=False, perm=perm)
    kind = b.choice(["Relu", "Add", "AddT", "Pad", "Concat"])
    if kind == "Relu":
        y = b.node("Relu", [t], pool=False)
    elif kind == "Add":
        y = b.node("Add", [t, b.const(b.broadcast_shape(t.shape))], pool=False)
    elif kind == "AddT":
        other = b.pick(lambda v: v.shape == x.shape) or x
        y = b.node("Add", [t, b.node("Transpose", [other], pool=False, perm=perm)], pool=False)
    elif kind == "Pad":
        pads = [b.draw(st.integers(0, 1)) for _ in range(2 * t.type.rank)]
        y = b.node("Pad", [t], pool=False, pads=pads)
    else:
        axis = b.draw(st.integers(0, t.type.rank - 1))
        shape = list(t.shape)
        shape[axis] = b.draw(st.integers(1, 3))
        y = b.node("Concat", [t, b.const(shape)], pool=False, axis=axis)
    inv = [perm.index(i) for i in range(len(perm))]
    b.node("Transpose", [y], perm=inv)
    return True


def _flatten_dense(b: _Builder) -> bool:
    """Keras' Flatten of a channels-last map into a Dense: Transpose (batch axis kept),
    Flatten, then MatMul or Gemm (either weight layout) with a constant weight."""
    x = b.pick(lambda v: v.type.rank >= 3)
    if x is None:
        return False
    perm = [0] + list(b.draw(st.permutations(list(range(1, x.type.rank)))))
    t = b.node("Transpose", [x], pool=False, perm=perm)
    f = b.node("Flatten", [t], pool=False, axis=1)
    k, n = f.shape[1], b.draw(st.integers(1, 4))
    if b.draw(st.booleans()):
        b.node("MatMul", [f, b.const((k, n))])
    else:
        trans = b.draw(st.integers(0, 1))
        b.node("Gemm", [f, b.const((n, k) if trans else (k, n)), b.const((n,))], transB=trans)
    return True


def _shape(b: _Builder) -> bool:
    """Shape(x) -> Gather(dim) -> Cast(f32) -> Div(y, dim): shape arithmetic to fold."""
    x, y = b.pick(), b.pick()
    if x is None or y is None:
        return False
    shape = b.node("Shape", [x], pool=False)
    idx = b.graph.add_const(f"i{len(b.graph.constants)}",
                            np.asarray([b.draw(st.integers(0, x.type.rank - 1))], np.int64))
    dim = b.node("Gather", [shape, idx], pool=False)
    dim_f = b.node("Cast", [dim], pool=False, to=1)
    b.node("Div", [y, dim_f])
    return True


def _duplicate(b: _Builder) -> bool:
    """Repeat an earlier single-output float node with the same inputs (a CSE candidate)."""
    cands = [n for n in b.graph.nodes if n.outputs[0].dtype is DType.F32 and n.op != "Dropout"]
    if not cands:
        return False
    src = cands[b.draw(st.integers(0, len(cands) - 1))]
    node = Node(src.op, src.inputs, [], dict(src.attrs), name=f"n{len(b.graph.nodes)}")
    node.outputs = [Value(f"v{len(b.graph.nodes)}", src.outputs[0].type, node, 0)]
    b.graph.add_node(node)
    b.pool.append(node.outputs[0])
    return True


_BUILDERS: dict[str, Callable[[_Builder], bool]] = {
    "Conv": _conv, "Gemm": _gemm, "MatMul": _matmul,
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"), "Div": _binary("Div"),
    "BatchNormalization": _batchnorm, "Softmax": _softmax,
    "MaxPool": _pool("MaxPool"), "AveragePool": _pool("AveragePool"),
    "GlobalAveragePool": _pool("GlobalAveragePool"), "GlobalMaxPool": _pool("GlobalMaxPool"),
    "Reshape": _reshape, "Flatten": _flatten, "Transpose": _transpose, "Concat": _concat,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Identity": _copy("Identity"),
    "Dropout": _copy("Dropout"), "Cast": _cast, "Pad": _pad, "Shape": _shape,
    "Duplicate": _duplicate, "Gated": _gated, "ChannelsLast": _channels_last,
    "FlattenDense": _flatten_dense,
    "ReduceMean": _reduce("ReduceMean"), "ReduceMax": _reduce("ReduceMax"),
    **{op: _activation(op) for op in ("Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh",
                                     "HardSwish", "HardSigmoid")},
}  # fmt: skip

_INPUT_SHAPES = st.one_of(
    st.tuples(st.integers(1, 4), st.integers(1, 6)),
    st.tuples(st.just(1), st.integers(1, 6), st.integers(1, 6)),
    st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)),
)


@st.composite
def _graphs(
    draw: st.DrawFn,
    ops: tuple[str, ...],
    min_nodes: int,
    max_nodes: int,
    max_inputs: int,
    extra_outputs: bool,
    dead_code: bool,
) -> Case:
    b = _Builder(draw, draw(st.integers(0, 2**32 - 1)))
    for i in range(draw(st.integers(1, max_inputs))):
        b.pool.append(b.graph.add_input(f"x{i}", TensorType(DType.F32, draw(_INPUT_SHAPES))))
    inputs = list(b.pool)
    target = draw(st.integers(min_nodes, max_nodes))
    built = attempts = 0
    while built < target and attempts < 4 * target + 8:
        attempts += 1
        for i, op in enumerate(draw(st.sampled_from(ops)).split(">")):
            b.chain = i > 0
            if not _BUILDERS[op](b):
                break
            built += 1
        b.chain = False
    g = b.graph
    sinks = [v for v in b.pool if not v.uses and v.producer is not None]
    if dead_code and len(sinks) > 1:
        keep = draw(st.lists(st.sampled_from(sinks), min_size=1, max_size=len(sinks) - 1))
        sinks = [v for v in sinks if v in keep]
    outs = sinks or [b.pool[-1]]
    if extra_outputs:
        inner = [v for v in b.pool if v.uses and v.producer is not None]
        if inner and draw(st.integers(0, 3)) == 0:
            outs.append(inner[draw(st.integers(0, len(inner) - 1))])
    g.outputs = list(dict.fromkeys(outs))  # unique, in order
    verify(g)
    feeds = {v.name: (b.rng.standard_normal(v.shape)).astype(np.float32) for v in inputs}
    return g, feeds


def graphs(
    ops: Sequence[str] | None = None,
    *,
    min_nodes: int = 1,
    max_nodes: int = 8,
    max_inputs: int = 2,
    extra_outputs: bool = True,
    dead_code: bool = False,
) -> st.SearchStrategy[Case]:
    """Random valid float32 graphs and matching input feeds: `(Graph, {name: array})`.

    ops: op names to draw from (default `FLOAT_OPS`, all of them); an op that does not fit
        the values built so far is skipped and another one drawn. An entry may be a chain,
        "Conv>BatchNormalization>Relu": each op after the first reads the newest value (the
        chain stops at the first op that does not fit). Chains make the patterns a pass
        looks for common without hand-building them.
    min_nodes, max_nodes: how many op builders to run (a builder may add a few helper
        nodes, e.g. constant subgraphs or the Shape motif).
    max_inputs: graph inputs (1 to this many).
    extra_outputs: sometimes also make an intermediate (used) value a graph output.
    dead_code: leave some unused results out of the graph outputs, so the nodes (and
        constants) computing only them are dead.
    """
    chosen = tuple(ops) if ops is not None else FLOAT_OPS
    unknown = sorted({op for item in chosen for op in item.split(">")} - set(_BUILDERS))
    if unknown:
        raise ValueError(f"graphs(): no builder for {unknown} (known: {sorted(_BUILDERS)})")
    return _graphs(chosen, min_nodes, max_nodes, max_inputs, extra_outputs, dead_code)
