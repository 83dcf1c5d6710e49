"""Control flow flattened at import: If and Scan become plain nodes of the one graph.

tinyc's graphs are straight-line with static shapes, so subgraphs are inlined:

- `If` with a condition known at compile time (a constant, or folded from shapes) imports
  the taken branch only. With a run-time condition both branches are imported and each
  output becomes `Where(cond, then, else)`; the branches must agree on shape and type.
  Both are then computed, which is safe because ONNX branches have no side effects (a
  run-time check failing in the branch not taken would still fail the run).
- `Scan` is unrolled: its trip count is the static length of the scan axis. Each
  iteration takes its slice with Gather, imports the body with the current state, and the
  scan outputs are stacked with Unsqueeze + Concat. Opset 8's batched form runs that once
  per batch item (a `sequence_lens` must be a constant holding the full length).

Subgraph values are renamed with a per-inlining prefix; names the subgraph does not define
refer to the enclosing scope, as ONNX specifies.

- `Loop` is unrolled when its trip count and its condition are known at compile time: the
  trip count a constant (or absent), the condition a constant before the first iteration
  and, after each one, folded from the body (a condition computed from run-time data is
  refused, as is a loop of more than `MAX_LOOP_TRIPS` iterations). Scan outputs are
  concatenated along a new first axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import helper

from tinyc.errors import ModelError, UnsupportedError

if TYPE_CHECKING:
    from tinyc.frontend.onnx import _Importer

CONTROL_OPS = ("If", "Loop", "Scan")
#: most iterations a Loop is unrolled to (each one copies its body into the graph)
MAX_LOOP_TRIPS = 4096


def subgraph_refs(node: onnx.NodeProto) -> set[str]:
    """Names a node's subgraphs read from the enclosing scopes (its implicit inputs)."""
    refs: set[str] = set()
    for a in node.attribute:
        graphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
        for g in graphs:
            defined = {t.name for t in g.initializer} | {v.name for v in g.input}
            defined |= {o for n in g.node for o in n.output}
            used = {i for n in g.node for i in n.input if i} | {o.name for o in g.output}
            for n in g.node:
                used |= subgraph_refs(n)
            refs |= used - defined
    return refs


def _rename_graph(g: onnx.GraphProto, names: dict[str, str]) -> onnx.GraphProto:
    """A copy of nested subgraph `g` whose references to renamed outer values follow."""
    out = onnx.GraphProto()
    out.CopyFrom(g)
    for n in out.node:
        _rename_node(n, names)
    for o in out.output:
        o.name = names.get(o.name, o.name)
    return out


def _rename_node(n: onnx.NodeProto, names: dict[str, str]) -> None:
    n.input[:] = [names.get(i, i) if i else i for i in n.input]
    n.output[:] = [names.get(o, o) if o else o for o in n.output]
    for a in n.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            a.g.CopyFrom(_rename_graph(a.g, names))
        elif a.type == onnx.AttributeProto.GRAPHS:
            for i, g in enumerate(a.graphs):
                a.graphs[i].CopyFrom(_rename_graph(g, names))


def inline(imp: _Importer, g: onnx.GraphProto, bound: list[str], prefix: str) -> list[str]:
    """Import subgraph `g` with its inputs bound to the existing values `bound`; returns
    the names its outputs have in the importer."""
    if len(bound) != len(g.input):
        raise ModelError(f"subgraph '{g.name}': {len(g.input)} inputs, {len(bound)} given")
    names: dict[str, str] = {}
    for t in g.initializer:
        names[t.name] = prefix + t.name
        imp._add_const(prefix + t.name, imp._tensor(t, f"initializer '{t.name}'"))
    for vi, src in zip(g.input, bound, strict=True):
        if not src:  # an absent optional input stays absent inside
            names[vi.name] = ""
            continue
        names[vi.name] = prefix + vi.name
        imp.values[prefix + vi.name] = imp.values[src]
    for n in g.node:
        for o in n.output:
            if o:
                names[o] = prefix + o
    for proto in imp._topological(list(g.node)):
        copy = onnx.NodeProto()
        copy.CopyFrom(proto)
        _rename_node(copy, names)
        copy.name = prefix + (proto.name or (proto.output[0] if proto.output else proto.op_type))
        imp._import_node(copy)
    out = []
    for o in g.output:
        name = names.get(o.name, o.name)
        if name not in imp.values:
            raise ModelError(f"subgraph '{g.name}': output '{o.name}' is not defined")
        out.append(name)
    return out


def _node(imp: _Importer, op: str, inputs: list[str], output: str, **attrs: object) -> None:
    imp._import_node(helper.make_node(op, inputs, [output], name=output, **attrs))


def _label(proto: onnx.NodeProto) -> str:
    return proto.name or (proto.output[0] if proto.output else proto.op_type)


def import_control(imp: _Importer, proto: onnx.NodeProto, where: str) -> None:
    """Flatten one If, Loop or Scan node into the importer's graph."""
    if proto.op_type == "If":
        _import_if(imp, proto, where)
    elif proto.op_type == "Loop":
        _import_loop(imp, proto, where)
    else:
        _import_scan(imp, proto, where)


def _import_if(imp: _Importer, proto: onnx.NodeProto, where: str) -> None:
    attrs = {a.name: a.g for a in proto.attribute}
    cond = imp.values[proto.input[0]]
    if cond.type.numel != 1:
        raise ModelError(f"{where}: the condition must hold one value")
    prefix = f"{_label(proto)}__"
    if cond.const is not None:
        taken = "then_branch" if bool(cond.const.reshape(-1)[0]) else "else_branch"
        results = inline(imp, attrs[taken], [], prefix)
    else:
        then = _inline_branch(imp, proto, attrs, "then_branch", prefix + "then__")
        other = _inline_branch(imp, proto, attrs, "else_branch", prefix + "else__")
        results = []
        for i, (t, e) in enumerate(zip(then, other, strict=True)):
            tt, te = imp.values[t].type, imp.values[e].type
            if tt.shape != te.shape or tt.dtype is not te.dtype:
                raise UnsupportedError(
                    f"{where}: with a run-time condition both branches must give output {i} "
                    f"one type ({tt.dtype.value}{list(tt.shape)} vs "
                    f"{te.dtype.value}{list(te.shape)})")
            name = f"{prefix}select{i}"
            _node(imp, "Where", [proto.input[0], t, e], name)
            results.append(name)
    _bind_outputs(imp, proto, results, where)


def _inline_branch(imp: _Importer, proto: onnx.NodeProto, attrs: dict[str, onnx.GraphProto],
                   branch: str, prefix: str) -> list[str]:
    """One branch of an `If` whose condition is known only at run time. Both branches are
    imported, so a branch the model may never take can fail to import; the error is then
    about the `If` (UnsupportedError, exit 4), not the inner node."""
    try:
        return inline(imp, attrs[branch], [], prefix)
    except (ModelError, UnsupportedError) as exc:
        raise UnsupportedError(
            f"{exc} (in branch {branch} of If '{_label(proto)}', whose condition is only "
            "known at run time; if an input decides it, fix it with --const NAME=VALUE)"
        ) from None


def _bind_outputs(imp: _Importer, proto: onnx.NodeProto, results: list[str], where: str) -> None:
    if len(results) != len(proto.output):
        raise ModelError(f"{where}: {len(proto.output)} outputs, the subgraph gives "
                         f"{len(results)}")
    for name, src in zip(proto.output, results, strict=True):
        if name:
            _node(imp, "Identity", [src], name)


def _import_scan(imp: _Importer, proto: onnx.NodeProto, where: str) -> None:
    a = {x.name: helper.get_attribute_value(x) for x in proto.attribute}
    body: onnx.GraphProto = a["body"]
    m = int(a["num_scan_inputs"])
    inputs = list(proto.input)
    if not 1 <= m <= len(inputs):
        raise ModelError(f"{where}: num_scan_inputs {m} for {len(inputs)} inputs")
    lens = None
    if imp.opset < 9:  # batched form: sequence_lens first, axis 0 is the batch
        lens = imp.values.get(inputs[0]) if inputs[0] else None
        inputs = inputs[1:]
    states, scans = inputs[: len(inputs) - m], inputs[len(inputs) - m :]
    n_out = len(body.output) - len(states)
    prefix = f"{_label(proto)}__"
    if imp.opset >= 9:
        plan = _ScanPlan(list(a.get("scan_input_axes") or [0] * m),
                         list(a.get("scan_input_directions") or [0] * m),
                         list(a.get("scan_output_axes") or [0] * n_out),
                         list(a.get("scan_output_directions") or [0] * n_out))
        _check_plan_lengths(plan, m, n_out, where)
        states, outs = _unroll(imp, body, states, scans, plan, prefix, where)
        _bind_outputs(imp, proto, states + outs, where)
        return
    batch = imp.values[scans[0]].shape[0] if scans else 0
    seq = imp.values[scans[0]].shape[1] if scans else 0
    if lens is not None and (lens.const is None or (lens.const != seq).any()):
        raise UnsupportedError(f"{where}: sequence_lens other than the full length {seq}")
    plan = _ScanPlan([0] * m, list(a.get("directions") or [0] * m), [0] * n_out, [0] * n_out)
    per_batch: list[list[str]] = []
    for b in range(batch):
        pick = [_gather(imp, name, b, 0, f"{prefix}b{b}__{i}") for i, name in
                enumerate(states + scans)]
        got, outs = _unroll(imp, body, pick[: len(states)], pick[len(states) :], plan,
                            f"{prefix}b{b}__", where)
        per_batch.append(got + outs)
    results = [_stack(imp, [r[k] for r in per_batch], 0, f"{prefix}batch{k}")
               for k in range(len(states) + n_out)]
    _bind_outputs(imp, proto, results, where)


@dataclass
class _ScanPlan:
    in_axes: list[int]
    in_dirs: list[int]
    out_axes: list[int]
    out_dirs: list[int]


def _gather(imp: _Importer, name: str, index: int, axis: int, out: str) -> str:
    """`out` = slice `index` of `name` along `axis` (the axis removed)."""
    imp._add_const(f"{out}_index", np.asarray(index, np.int64))
    _node(imp, "Gather", [name, f"{out}_index"], out, axis=axis)
    return out


def _stack(imp: _Importer, pieces: list[str], axis: int, out: str) -> str:
    """`out` = the pieces stacked along a new `axis` (negative: counted in the result)."""
    rank = len(imp.values[pieces[0]].shape) + 1
    if not -rank <= axis < rank:
        raise ModelError(f"scan output axis {axis} out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    grown = []
    for i, name in enumerate(pieces):
        piece = f"{out}_{i}"
        if imp.opset >= 13:
            imp._add_const(f"{piece}_axes", np.asarray([axis], np.int64))
            _node(imp, "Unsqueeze", [name, f"{piece}_axes"], piece)
        else:
            _node(imp, "Unsqueeze", [name], piece, axes=[axis])
        grown.append(piece)
    _node(imp, "Concat", grown, out, axis=axis)
    return out


def _check_plan_lengths(plan: _ScanPlan, m: int, n_out: int, where: str) -> None:
    for what, values, count in (("scan_input_axes", plan.in_axes, m),
                                ("scan_input_directions", plan.in_dirs, m),
                                ("scan_output_axes", plan.out_axes, n_out),
                                ("scan_output_directions", plan.out_dirs, n_out)):
        if len(values) != count:
            raise ModelError(f"{where}: {what} has {len(values)} values for {count} scans")


def _unroll(imp: _Importer, body: onnx.GraphProto, states: list[str], scans: list[str],
            plan: _ScanPlan, prefix: str, where: str) -> tuple[list[str], list[str]]:
    """Run `body` once per scan step: (final states, stacked scan outputs)."""
    lengths = set()
    in_axes = list(plan.in_axes)
    for j, name in enumerate(scans):
        shape = imp.values[name].shape
        if not -len(shape) <= in_axes[j] < len(shape):
            raise ModelError(f"{where}: scan input axis {in_axes[j]} out of range for rank "
                             f"{len(shape)}")
        in_axes[j] = in_axes[j] + len(shape) if in_axes[j] < 0 else in_axes[j]
        lengths.add(shape[in_axes[j]])
    if len(lengths) != 1:
        raise ModelError(f"{where}: scan inputs have different lengths {sorted(lengths)}")
    trips = lengths.pop()
    if trips == 0:
        raise UnsupportedError(f"{where}: a scan of length 0")
    n_out = len(body.output) - len(states)
    steps: list[list[str]] = [[] for _ in range(n_out)]
    for t in range(trips):
        it = f"{prefix}it{t}__"
        slices = [_gather(imp, name, trips - 1 - t if plan.in_dirs[j] else t, in_axes[j],
                          f"{it}slice{j}") for j, name in enumerate(scans)]
        results = inline(imp, body, states + slices, it)
        states = results[: len(states)]
        for k, name in enumerate(results[len(states) :]):
            steps[k].append(name)
    outs = [_stack(imp, names[::-1] if plan.out_dirs[k] else names, plan.out_axes[k],
                   f"{prefix}scan{k}") for k, names in enumerate(steps)]
    return states, outs


def _const_scalar(imp: _Importer, name: str, what: str, where: str) -> object:
    """The compile-time value of a one-element input, or None when the input is absent."""
    if not name:
        return None
    value = imp.values[name]
    if value.const is None:
        raise UnsupportedError(f"{where}: the {what} is only known at run time (tinyc unrolls "
                               "loops whose trip count and condition are compile-time values)")
    if value.const.size != 1:
        raise ModelError(f"{where}: the {what} must hold one value")
    return value.const.reshape(-1)[0].item()


def _import_loop(imp: _Importer, proto: onnx.NodeProto, where: str) -> None:
    body: onnx.GraphProto = next(a.g for a in proto.attribute if a.name == "body")
    inputs = list(proto.input) + [""] * max(0, 2 - len(proto.input))
    trips = _const_scalar(imp, inputs[0], "trip count", where)
    go = _const_scalar(imp, inputs[1], "condition", where)
    limit = float("inf") if trips is None else int(trips)
    if trips is None and go is None:
        raise UnsupportedError(f"{where}: a loop with neither trip count nor condition")
    states = inputs[2:]
    n_out = len(body.output) - 1 - len(states)
    prefix = f"{_label(proto)}__"
    steps: list[list[str]] = [[] for _ in range(n_out)]
    i = 0
    while (go is None or bool(go)) and i < limit:
        if i == MAX_LOOP_TRIPS:
            raise UnsupportedError(f"{where}: more than {MAX_LOOP_TRIPS} iterations")
        it = f"{prefix}it{i}__"
        imp._add_const(f"{it}iter", np.asarray(i, np.int64))
        imp._add_const(f"{it}cond", np.asarray(True))
        results = inline(imp, body, [f"{it}iter", f"{it}cond", *states], it)
        go = _const_scalar(imp, results[0], "condition", where)
        states = results[1 : 1 + len(states)]
        for k, name in enumerate(results[1 + len(states) :]):
            steps[k].append(name)
        i += 1
    if n_out and i == 0:
        raise UnsupportedError(f"{where}: a loop of no iterations with scan outputs")
    outs = [_stack(imp, names, 0, f"{prefix}scan{k}") for k, names in enumerate(steps)]
    _bind_outputs(imp, proto, states + outs, where)
