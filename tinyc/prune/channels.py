"""Structured pruning: remove whole output channels and propagate through the consumers.

Algorithm (one analysis, one rewrite):

1. **Channel atoms.** Walking the graph in order, every tensor whose axis 1 is tracked gets
   a list of *atoms*, one per index on that axis. A prunable layer (Conv with group 1, Gemm,
   2-D MatMul with a constant weight, selected by the layer filter) creates fresh atoms for
   its output channels. Ops that keep channels in place pass their input's list on: the
   elementwise activations, BatchNormalization (its parameters get sliced), pools, Pad
   without channel padding, depthwise Conv (group == input channels: one input channel
   feeds `multiplier` outputs, so atoms repeat), and Flatten/Reshape/Squeeze/Unsqueeze that
   keep each channel a contiguous block (atoms repeat once per element of the block; a
   Gemm after `Flatten` then drops whole column blocks). Binary elementwise ops (the
   residual `Add`) *unify* the atoms of their run-time operands index by index (a
   union-find), and slice a constant operand that varies along the channel axis. `Concat`
   on axis 1 concatenates the lists.
2. **Fixed atoms.** Whatever cannot follow a removal pins its atoms: graph outputs (the
   interface never changes), a grouped Conv that is not depthwise, Softmax and reductions
   over channels, Transpose, any op not listed above. A union class with one pinned atom
   is kept.
3. **Choice.** Layers whose channels are unified (a residual chain, a Concat's branches
   do not unify) form a *cluster*; each cluster drops `ratio` of its channels
   (`floor(ratio * channels)`, at least `min_channels` kept, the kept count rounded up to a
   multiple of `round_to`), the classes with the smallest summed filter norm (L1 or L2 over
   each producing layer's output filter, in float64) first. Ties break by channel index.
4. **Rewrite.** Every tracked tensor keeps the indices whose atom class survives; each
   producer, consumer and parameter constant is sliced accordingly (a constant shared with
   an untouched user is copied, not mutated), `group` and Reshape shapes are updated, and
   every node's output type is re-inferred. With nothing removed the graph is not touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import prod

import numpy as np

from tinyc.errors import UsageError
from tinyc.ir import Graph, Node, QuantParams, TensorType, Value
from tinyc.ops import get_op
from tinyc.prune.select import LayerFilter

NORMS = ("l1", "l2")

#: same shape out as in, channel i of the output depends on channel i of the input only
_PASSTHROUGH = frozenset({
    "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Identity",
    "Dropout", "Abs", "Neg", "Exp", "Log", "Sqrt", "Elu", "Selu", "Celu", "Softplus",
    "Softsign", "Gelu", "Erf", "Floor", "Ceil", "Round", "Reciprocal", "Sign", "Sin", "Cos",
    "Mish", "ThresholdedRelu", "Cast",
    "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool",
})  # fmt: skip
#: per-channel parameters (inputs 1.. are [C] constants)
_CHANNEL_PARAMS = frozenset({"BatchNormalization", "InstanceNormalization"})
_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "PRelu", "Max", "Min", "Pow"})
_RESHAPES = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})


class _UnionFind:
    """Atoms with a `fixed` flag per class."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.fixed: list[bool] = []

    def new(self, n: int, fixed: bool = False) -> list[int]:
        start = len(self.parent)
        self.parent += range(start, start + n)
        self.fixed += [fixed] * n
        return list(range(start, start + n))

    def find(self, a: int) -> int:
        root = a
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[a] != root:
            self.parent[a], a = root, self.parent[a]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)  # deterministic: the older atom is the root
            self.parent[hi] = lo
            self.fixed[lo] = self.fixed[lo] or self.fixed[hi]

    def fix(self, a: int) -> None:
        self.fixed[self.find(a)] = True

    def is_fixed(self, a: int) -> bool:
        return self.fixed[self.find(a)]


@dataclass
class Producer:
    """A layer whose output channels pruning may remove."""

    node: Node
    atoms: list[int]

    @property
    def name(self) -> str:
        return self.node.name or self.node.outputs[0].name

    def filter_norms(self, norm: str) -> np.ndarray:
        """Norm of each output channel's filter, float64."""
        w = self.node.inputs[1]
        assert w is not None and w.const is not None
        data = w.const.astype(np.float64)
        if self.node.op == "Conv":
            rows = data.reshape(data.shape[0], -1)
        elif self.node.op == "Gemm" and self.node.attrs["transB"]:
            rows = data
        else:  # Gemm without transB, MatMul: B is [K, N]
            rows = data.T
        if norm == "l1":
            return np.abs(rows).sum(axis=1)
        return np.sqrt((rows * rows).sum(axis=1))


@dataclass
class ChannelAnalysis:
    """Atoms of every tracked tensor, the producers, and why atoms were pinned."""

    uf: _UnionFind = field(default_factory=_UnionFind)
    chan: dict[int, list[int]] = field(default_factory=dict)
    producers: list[Producer] = field(default_factory=list)
    #: node name -> reason its inputs' channels are pinned (for debugging and tests)
    pinned: dict[str, str] = field(default_factory=dict)

    def atoms(self, value: Value | None) -> list[int] | None:
        return None if value is None else self.chan.get(id(value))

    def pin(self, value: Value | None, why: str) -> None:
        atoms = self.atoms(value)
        if atoms:
            for a in atoms:
                self.uf.fix(a)
            self.pinned.setdefault(why, why)

    def removable(self, producer: Producer) -> list[int]:
        """Roots of the producer's unpinned classes, in channel order, unique."""
        seen: dict[int, None] = {}
        for a in producer.atoms:
            root = self.uf.find(a)
            if not self.uf.fixed[root]:
                seen.setdefault(root, None)
        return list(seen)


def _channel_axis_of(value: Value, out_rank: int) -> int | None:
    """Axis of `value` that broadcasts onto output axis 1 (None: it does not reach it)."""
    axis = 1 - (out_rank - value.type.rank)
    return axis if axis >= 0 else None


def analyze(graph: Graph, layers: LayerFilter | str | None = None) -> ChannelAnalysis:
    """Channel atoms and producers of `graph` (see the module docstring, steps 1 and 2)."""
    filt = layers if isinstance(layers, LayerFilter) else LayerFilter.parse(layers)
    an = ChannelAnalysis()
    for node in graph.nodes:
        handled = _visit(node, an, filt)
        for i, value in enumerate(node.inputs):
            if i not in handled:
                an.pin(value, f"{node.op} '{node.name}' input {i}")
    for value in graph.outputs:
        an.pin(value, f"graph output %{value.name}")
    return an


def _const_or_none(value: Value | None) -> bool:
    return value is None or value.const is not None


def _visit(node: Node, an: ChannelAnalysis, filt: LayerFilter) -> set[int]:
    """Record the output atoms of `node`; return the input indices it can slice."""
    op, x = node.op, node.input(0)
    xa = an.atoms(x)
    y = node.outputs[0] if node.outputs else None
    if op == "Conv":
        return _visit_conv(node, an, filt)
    if op in ("Gemm", "MatMul"):
        w, b = node.input(1), node.input(2)
        if w is None or w.const is None or w.type.rank != 2 or x is None or x.type.rank != 2:
            return set()
        if op == "Gemm" and node.attrs["transA"]:
            return set()
        if _const_or_none(b) and filt.accepts((node.name, w.name, node.outputs[0].name)):
            atoms = an.uf.new(node.outputs[0].shape[1])
            an.chan[id(node.outputs[0])] = atoms
            an.producers.append(Producer(node, atoms))
            return {0, 1, 2}
        return {0, 1}
    if y is None or xa is None:
        return set()
    if op in _PASSTHROUGH:
        if y.type.rank >= 2 and y.shape[1] == x.shape[1]:  # type: ignore[union-attr]
            an.chan[id(y)] = xa
            return {0}
        return set()
    if op in _CHANNEL_PARAMS:
        if all(v is not None and v.const is not None for v in node.inputs[1:]):
            an.chan[id(y)] = xa
            return set(range(len(node.inputs)))
        return set()
    if op == "Pad":
        pads, rank = node.attrs.get("pads") or [], x.type.rank  # type: ignore[union-attr]
        if len(node.inputs) == 1 and len(pads) == 2 * rank and not pads[1] and not pads[1 + rank]:
            an.chan[id(y)] = xa
            return {0}
        return set()
    if op in _RESHAPES:
        return _visit_reshape(node, an, xa)
    if op in _BINARY:
        return _visit_binary(node, an)
    if op == "Concat" and node.attrs.get("axis") == 1:
        atoms: list[int] = []
        for v in node.inputs:
            assert v is not None
            atoms += an.atoms(v) or an.uf.new(v.shape[1], fixed=True)
        an.chan[id(y)] = atoms
        return set(range(len(node.inputs)))
    return set()


def _visit_conv(node: Node, an: ChannelAnalysis, filt: LayerFilter) -> set[int]:
    x, w, b, y = node.input(0), node.input(1), node.input(2), node.outputs[0]
    if x is None or w is None or w.const is None or not _const_or_none(b):
        return set()
    group, c_in = node.attrs["group"], x.shape[1]
    xa = an.atoms(x)
    if group == 1:
        if filt.accepts((node.name, w.name, y.name)):
            atoms = an.uf.new(y.shape[1])
            an.chan[id(y)] = atoms
            an.producers.append(Producer(node, atoms))
            return {0, 1, 2}
        return {0, 1}
    if group == c_in and xa is not None:  # depthwise, channel multiplier y.C / x.C
        mult = y.shape[1] // c_in
        an.chan[id(y)] = [a for a in xa for _ in range(mult)]
        return {0, 1, 2}
    return set()


def _visit_reshape(node: Node, an: ChannelAnalysis, xa: list[int]) -> set[int]:
    """Channel c stays a contiguous block of `r` indices on the output's axis 1."""
    x, y = node.inputs[0], node.outputs[0]
    assert x is not None
    xs, ys = x.shape, y.shape
    if len(node.inputs) > 1 or len(xs) < 2 or len(ys) < 2 or xs[0] != ys[0]:
        return set()
    s_in, s_out = prod(xs[2:]), prod(ys[2:])
    if s_out == 0 or s_in % s_out or ys[1] != xs[1] * (s_in // s_out):
        return set()
    if node.op in ("Squeeze", "Unsqueeze") and any(a < 2 for a in node.attrs["axes"]):
        return set()
    r = s_in // s_out
    an.chan[id(y)] = [a for a in xa for _ in range(r)]
    return {0}


def _visit_binary(node: Node, an: ChannelAnalysis) -> set[int]:
    y = node.outputs[0]
    if y.type.rank < 2:
        return set()
    c = y.shape[1]
    handled: set[int] = set()
    out: list[int] | None = None
    for i, v in enumerate(node.inputs):
        if v is None:
            continue
        axis = _channel_axis_of(v, y.type.rank)
        if axis is None or v.shape[axis] == 1:
            if an.atoms(v) is None:
                handled.add(i)  # broadcast over the channels: unaffected
            continue
        va = an.atoms(v)
        if v.const is not None:
            handled.add(i)  # sliced along `axis` by the rewrite
            continue
        if axis != 1:
            continue
        if va is None:
            va = an.uf.new(c, fixed=True)  # a run-time operand we do not track
        if out is None:
            out = va
        else:
            for a, b in zip(out, va, strict=False):
                an.uf.union(a, b)
        handled.add(i)
    if out is not None:
        an.chan[id(y)] = out
    return handled


# -- choice ------------------------------------------------------------------------------


@dataclass
class ChannelPlan:
    """Which atom classes go, and the per-layer channel counts before and after."""

    analysis: ChannelAnalysis
    removed: set[int]
    layers: dict[str, tuple[int, int]]

    @property
    def empty(self) -> bool:
        return not self.removed


def choose(
    an: ChannelAnalysis,
    ratio: float,
    norm: str = "l1",
    min_channels: int = 1,
    round_to: int = 1,
) -> ChannelPlan:
    """Lowest-norm classes of each cluster (module docstring, step 3)."""
    if not 0.0 <= ratio < 1.0:
        raise UsageError(f"channel pruning ratio must be in [0, 1), got {ratio}")
    if norm not in NORMS:
        raise UsageError(f"channel norm must be one of {', '.join(NORMS)}, not '{norm}'")
    uf = an.uf
    # clusters: producers that share a class
    owner: dict[int, int] = {}
    parent = list(range(len(an.producers)))

    def top(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, p in enumerate(an.producers):
        for a in p.atoms:
            r = uf.find(a)
            if r in owner:
                ti, tj = top(owner[r]), top(i)
                parent[max(ti, tj)] = min(ti, tj)
            else:
                owner[r] = i
    clusters: dict[int, list[int]] = {}
    for i in range(len(an.producers)):
        clusters.setdefault(top(i), []).append(i)
    removed: set[int] = set()
    for members in clusters.values():
        scores: dict[int, float] = {}
        order: dict[int, int] = {}
        base = 0
        for i in members:
            p = an.producers[i]
            norms = p.filter_norms(norm)
            base = max(base, len({uf.find(a) for a in p.atoms}))
            for ch, a in enumerate(p.atoms):
                r = uf.find(a)
                scores[r] = scores.get(r, 0.0) + float(norms[ch])
                order.setdefault(r, ch)
        candidates = [r for r in scores if not uf.fixed[r]]
        keep = max(base - int(ratio * base), min_channels)
        if round_to > 1:
            keep = min(base, -(-keep // round_to) * round_to)
        n_remove = min(base - keep, len(candidates))
        candidates.sort(key=lambda r: (scores[r], order[r]))
        removed.update(candidates[:max(n_remove, 0)])
    plan = ChannelPlan(an, removed, {})
    for p in an.producers:
        before = p.node.outputs[0].shape[1]
        after = sum(1 for a in p.atoms if uf.find(a) not in removed)
        plan.layers[p.name] = (before, after)
    return plan


def plan_from_masks(an: ChannelAnalysis, remove: Mapping[str, Sequence[int]]) -> ChannelPlan:
    """An explicit plan: layer name -> output channels to remove. A channel whose class is
    pinned, or a layer that is not a producer, is an error."""
    by_name = {p.name: p for p in an.producers}
    removed: set[int] = set()
    for name, channels in remove.items():
        p = by_name.get(name)
        if p is None:
            raise UsageError(f"'{name}' is not a prunable layer (known: {', '.join(by_name)})")
        for ch in channels:
            r = an.uf.find(p.atoms[ch])
            if an.uf.fixed[r]:
                raise UsageError(f"layer '{name}': channel {ch} cannot be removed (pinned)")
            removed.add(r)
    plan = ChannelPlan(an, removed, {})
    for p in an.producers:
        after = sum(1 for a in p.atoms if an.uf.find(a) not in removed)
        plan.layers[p.name] = (p.node.outputs[0].shape[1], after)
    return plan


# -- rewrite -----------------------------------------------------------------------------


def apply_plan(graph: Graph, plan: ChannelPlan) -> bool:
    """Slice every affected tensor, constant and attribute (module docstring, step 4)."""
    if plan.empty:
        return False
    an, uf = plan.analysis, plan.analysis.uf

    def keep(value: Value | None) -> np.ndarray | None:
        atoms = an.atoms(value)
        if atoms is None:
            return None
        idx = np.array([i for i, a in enumerate(atoms) if uf.find(a) not in plan.removed],
                       dtype=np.int64)
        return None if len(idx) == len(atoms) else idx

    for node in list(graph.nodes):
        kin, kout = keep(node.input(0)), keep(node.outputs[0])
        _rewrite_node(graph, node, kin, kout)
        types = get_op(node.op).infer(node)
        for out, t in zip(node.outputs, types, strict=False):
            out.type = TensorType(t.dtype, t.shape, out.type.quant)
    graph.remove_unused_constants()
    return True


def _rewrite_node(
    graph: Graph, node: Node, kin: np.ndarray | None, kout: np.ndarray | None
) -> None:
    op = node.op
    if op == "Conv":
        x = node.inputs[0]
        assert x is not None
        depthwise = node.attrs["group"] != 1
        if depthwise:
            if kout is not None:
                _slice_input(graph, node, 1, kout, 0)
                _slice_input(graph, node, 2, kout, 0)
                node.attrs["group"] = node.attrs["group"] if kin is None else len(kin)
            return
        if kout is not None:
            _slice_input(graph, node, 1, kout, 0)
            _slice_input(graph, node, 2, kout, 0)
        if kin is not None:
            _slice_input(graph, node, 1, kin, 1)
    elif op in ("Gemm", "MatMul"):
        trans_b = op == "Gemm" and node.attrs["transB"]
        if kin is not None:
            _slice_input(graph, node, 1, kin, 1 if trans_b else 0)
        if kout is not None:
            _slice_input(graph, node, 1, kout, 0 if trans_b else 1)
            c = node.input(2)
            n_old = node.outputs[0].shape[1]
            if c is not None and c.type.rank >= 1 and c.shape[-1] == n_old and n_old > 1:
                _slice_input(graph, node, 2, kout, c.type.rank - 1)
    elif op in _CHANNEL_PARAMS and kin is not None:
        for i in range(1, len(node.inputs)):
            _slice_input(graph, node, i, kin, 0)
    elif op in _BINARY and kout is not None:
        y = node.outputs[0]
        for i, v in enumerate(node.inputs):
            if v is None or v.const is None:
                continue
            axis = _channel_axis_of(v, y.type.rank)
            if axis is not None and v.shape[axis] == y.shape[1]:
                _slice_input(graph, node, i, kout, axis)
    elif op == "Reshape" and kout is not None:
        shape = list(node.attrs["shape"])
        shape[1] = len(kout)
        node.attrs["shape"] = shape


def _slice_input(graph: Graph, node: Node, index: int, idx: np.ndarray, axis: int) -> None:
    """Replace constant input `index` by its slice `idx` along `axis` (in place when this
    node is its only user, else as a new constant)."""
    value = node.input(index)
    if value is None or value.const is None:
        return
    data = np.ascontiguousarray(np.take(value.const, idx, axis=axis))
    quant = value.type.quant
    if quant is not None and quant.axis == axis:
        quant = QuantParams(tuple(quant.scale[i] for i in idx),
                            tuple(quant.zero_point[i] for i in idx), axis)
    new_type = TensorType(value.dtype, tuple(data.shape), quant)
    sole_user = all(u.node is node and u.index == index for u in value.uses)
    if sole_user and not any(v is value for v in graph.outputs):
        value.type = new_type
        value.const = data
        return
    copy = Value(graph.unique_name(f"{value.name}_pruned"), new_type, const=data)
    graph.constants.append(copy)
    node.set_input(index, copy)


@dataclass(frozen=True)
class ChannelPruneResult:
    """Per-layer output channels (before, after) and whether the graph changed."""

    layers: dict[str, tuple[int, int]]
    modified: bool


def prune_channels(
    graph: Graph,
    ratio: float,
    norm: str = "l1",
    layers: LayerFilter | str | None = None,
    min_channels: int = 1,
    round_to: int = 1,
) -> ChannelPruneResult:
    """Remove `ratio` of the output channels of every selected layer, in place."""
    an = analyze(graph, layers)
    plan = choose(an, ratio, norm, min_channels, round_to)
    return ChannelPruneResult(plan.layers, apply_plan(graph, plan))
