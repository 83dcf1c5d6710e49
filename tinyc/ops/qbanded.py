"""`QBanded`: a chain of int8 layers (QConv, same-shape QAdd; NCHW, batch 1) run row by
row, so the arena holds only a ring of rows of each intermediate tensor (`band-rows` makes
it; `tinyc.ops.bands` schedules it; `codegen/kernels/tinyc_qband.h` runs it).

The node keeps its layers in plain attributes, so the text IR and every tool read it:
`n_inputs` activation inputs come first, then each conv layer's weight and bias (None when
absent) in layer order; `layers` holds `FIELDS` per layer (a source index below n_inputs
is a node input, from n_inputs on the output of layer index - n_inputs; the last layer's
output is the node's); `scales`/`zero_points` quantize each layer's output. `members`
rebuilds the original QConv/QAdd nodes from them: the reference runs those nodes' own
references, and the kernel calls their own kernels, so the fused node computes exactly
what the layers did (same semantics attribute, same requantization). `band_rows` > 1 runs a
plain chain that many output rows a step (`bands.chain_schedule`: halos instead of rings,
for rows too narrow for one kernel call per row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, QuantParams, TensorType, Value
from tinyc.ops.bands import (
    ADD,
    CONV,
    DEPTHWISE,
    POOL,
    BandLayer,
    BandSchedule,
    ChainStep,
    chain_schedule,
    schedule,
)
from tinyc.ops.qinteger import (
    ACT_ATTRS,
    POOL_ATTRS,
    _act,
    qconv_depthwise,
    qconv_geometry,
    qconv_params_init,
    requant_fields,
    scale_multipliers,
)
from tinyc.ops.qpack import m4_conv_kernel
from tinyc.ops.qwork import (
    QBAND_HALO,
    QCONV_PARAMS_BYTES,
    QDW_NARROW,
    QDW_STAGE,
    QDW_WIDE,
    qconv_work_bytes,
    round8,
    uses_m4_kernels,
)
from tinyc.ops.registry import Attr, OpDef, get_op, register_op
from tinyc.quant import semantics

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

#: whole-plane average pools a band can end with
POOLS = ("QGlobalAveragePool", "QAveragePool")
#: QConv.stream_kernel -> tinyc_qband.h TINYC_QBAND_STREAM_*
STREAM_FORMS = {"dwconv2d": 1, "conv1x1": 2}
#: the ints each layer keeps in `layers`
FIELDS = ("kind", "src0", "src1", "kh", "kw", "stride_h", "stride_w", "dil_h", "dil_w",
          "pad_top", "pad_left", "pad_bottom", "pad_right", "group", "act_min", "act_max",
          "u8_codes")


def layer_fields(node: Node, srcs: list[int]) -> list[int]:
    """`FIELDS` of a QConv or QAdd node reading tensors `srcs`."""
    a = node.attrs
    act = [int(a.get("act_min", -128)), int(a.get("act_max", 127))]
    if node.op == "QAdd":
        return [ADD, srcs[0], srcs[1]] + [1] * 4 + [1, 1] + [0] * 4 + [1] + act + [
            int(a.get("u8_codes", 0))]
    if node.op in POOLS:  # kh, kw: the window of a QAveragePool, 0 for a global pool
        window = list(a["kernel_shape"]) if node.op == "QAveragePool" else [0, 0]
        return [POOL, srcs[0], -1, *window] + [1] * 4 + [0] * 4 + [1] + act + [
            int(a.get("u8_codes", 0))]
    kind = DEPTHWISE if qconv_depthwise(node) else CONV
    return ([kind, srcs[0], -1, *a["kernel_shape"], *a["strides"], *a["dilations"],
             *a["pads"], int(a["group"])] + act + [0])


@dataclass(frozen=True)
class Members:
    """The rebuilt layers: `nodes[j]` reads `tensors` (the node's inputs, then each layer's
    output) and writes `tensors[n_inputs + j]`."""

    nodes: list[Node]
    tensors: list[Value]
    n_inputs: int


def _record(node: Node, j: int) -> dict[str, int]:
    values = node.attrs["layers"][j * len(FIELDS):(j + 1) * len(FIELDS)]
    return dict(zip(FIELDS, (int(v) for v in values)))


def layer_count(node: Node) -> int:
    return len(node.attrs["layers"]) // len(FIELDS)


def _check_records(node: Node) -> None:
    """The attributes describe a chain `members` can rebuild (a hand-written node too)."""
    a = node.attrs
    n_in, count = int(a["n_inputs"]), layer_count(node)
    convs = [_record(node, j)["kind"] in (CONV, DEPTHWISE) for j in range(count)]
    problems = [
        (len(a["layers"]) % len(FIELDS) != 0 or count == 0,
         f"layers must hold {len(FIELDS)} ints per layer"),
        (len(a["scales"]) != count or len(a["zero_points"]) != count,
         "scales and zero_points must hold one value per layer"),
        (len(node.inputs) != n_in + 2 * sum(convs), "needs its inputs, then each conv's "
         "weight and bias"),
    ]
    for j in range(count):
        r = _record(node, j)
        srcs = [r["src0"]] + ([r["src1"]] if r["kind"] == ADD else [])
        problems.append((r["kind"] not in (CONV, DEPTHWISE, ADD, POOL)
                         or any(not 0 <= t < n_in + j for t in srcs),
                         f"layer {j} has a bad kind or source"))
    for bad, what in problems:
        if bad:
            raise ModelError(f"QBanded node '{node.name}': {what}")


def members(node: Node) -> Members:
    """The original layers of `node` as fresh nodes on fresh values (the graph's use lists
    are untouched)."""
    _check_records(node)
    n_in = int(node.attrs["n_inputs"])
    tensors: list[Value] = []
    for v in node.inputs[:n_in]:
        assert v is not None
        tensors.append(Value(v.name, v.type))
    consts = iter(node.inputs[n_in:])
    sem = semantics.of(node)
    nodes: list[Node] = []
    for j in range(layer_count(node)):
        r = _record(node, j)
        quant = QuantParams((float(node.attrs["scales"][j]),), (int(node.attrs["zero_points"][j]),))
        act: dict[str, object] = {"act_min": r["act_min"], "act_max": r["act_max"],
                                  semantics.ATTR: sem}
        if r["kind"] == ADD:
            inputs: list[Value | None] = [tensors[r["src0"]], tensors[r["src1"]]]
            attrs: dict[str, object] = {**act, "u8_codes": r["u8_codes"]}
            op = "QAdd"
        elif r["kind"] == POOL and not r["kh"]:
            inputs, attrs, op = [tensors[r["src0"]]], act, "QGlobalAveragePool"
        elif r["kind"] == POOL:
            inputs, op = [tensors[r["src0"]]], "QAveragePool"
            attrs = {**{k: a.default_for(99) for k, a in POOL_ATTRS.items()}, **act,
                     "kernel_shape": [r["kh"], r["kw"]], "strides": [1, 1],
                     "dilations": [1, 1], "pads": [0, 0, 0, 0], "u8_codes": r["u8_codes"]}
        else:
            w, b = next(consts), next(consts)
            assert w is not None
            inputs = [tensors[r["src0"]], _copy(w), None if b is None else _copy(b)]
            attrs = {"kernel_shape": [r["kh"], r["kw"]], "strides": [r["stride_h"], r["stride_w"]],
                     "dilations": [r["dil_h"], r["dil_w"]],
                     "pads": [r["pad_top"], r["pad_left"], r["pad_bottom"], r["pad_right"]],
                     "group": r["group"], "act_min": r["act_min"], "act_max": r["act_max"],
                     semantics.ATTR: sem}
            op = "QConv"
        member = Node(op, inputs, [], attrs, name=f"{node.name}/{j}")
        (out_type,) = get_op(op).infer(member)
        out = Value(f"{node.name}_band{j}", TensorType(DType.I8, out_type.shape, quant),
                    producer=member)
        member.outputs = [out]
        nodes.append(member)
        tensors.append(out)
    return Members(nodes, tensors, n_in)


def _copy(v: Value) -> Value:
    return Value(v.name, v.type, const=v.const)


def band_layers(m: Members) -> list[BandLayer]:
    out = []
    for node in m.nodes:
        srcs = tuple(next(i for i, t in enumerate(m.tensors) if t is v) for v in node.inputs[:2]
                     if v is not None and v.const is None)
        if node.op == "QAdd":
            out.append(BandLayer(ADD, srcs))
        elif node.op in POOLS:
            out.append(BandLayer(POOL, srcs))
        else:
            a = node.attrs
            kind = DEPTHWISE if qconv_depthwise(node) else CONV
            out.append(BandLayer(kind, srcs, a["kernel_shape"][0], a["strides"][0],
                                 a["dilations"][0], a["pads"][0]))
    return out


def band_schedule(m: Members) -> BandSchedule:
    rows = [t.shape[2] for t in m.tensors]
    for j, node in enumerate(m.nodes):
        if node.op in POOLS:  # one step per input row
            x = node.inputs[0]
            assert x is not None
            rows[m.n_inputs + j] = x.shape[2]
    return schedule(band_layers(m), rows, m.n_inputs)


def band_rows(node: Node) -> int:
    """Output rows a step computes: 1, or more in the multi-row chain form."""
    return int(node.attrs.get("band_rows", 1))


def chain_steps(m: Members, rows: int) -> tuple[ChainStep, ...] | None:
    """The multi-row schedule of `m`, `rows` output rows a step (None: not a plain chain)."""
    heights = [t.shape[2] for t in m.tensors]
    for j, node in enumerate(m.nodes):
        if node.op in POOLS:
            x = node.inputs[0]
            assert x is not None
            heights[m.n_inputs + j] = x.shape[2]
    return chain_schedule(band_layers(m), heights, m.n_inputs, rows)


def _steps(node: Node, m: Members) -> tuple[ChainStep, ...]:
    steps = chain_steps(m, band_rows(node))
    if steps is None:
        raise ModelError(f"QBanded node '{node.name}': band_rows > 1 needs a plain chain "
                         "(each layer reads the one before)")
    return steps


def row_bytes(v: Value) -> int:
    """Bytes of one row of an NCHW tensor, every channel."""
    return v.shape[1] * v.shape[3]


@dataclass(frozen=True)
class Layout:
    """Where the kernel keeps what in its workspace (tinyc_qband.h), in bytes."""

    kernel_work: int
    offsets: tuple[int, ...]  # per tensor, rings only (else 0)
    band: int
    row_a: int
    row_b: int
    row_y: int
    sums: int  # a pool's int32 sum per channel
    conv_params: int  # the band's tinyc_qconv_params
    total: int


def layout(m: Members, sched: BandSchedule, kernel_dirs: tuple[str, ...] | None) -> Layout:
    kernel = 0
    band = 0
    for node in m.nodes:
        if node.op != "QConv":
            continue
        g = qconv_geometry(node)
        if uses_m4_kernels(kernel_dirs):
            kernel = max(kernel, qconv_work_bytes(g, qconv_depthwise(node), band_rows=1))
        band = max(band, g.c * min(g.h, (g.kh - 1) * g.dil_h + 1) * g.w)
    at = round8(kernel)
    offsets = []
    for t, ring in zip(m.tensors, sched.rings):
        offsets.append(at if ring else 0)
        at += ring * row_bytes(t)
    band_at = at
    at += band
    row_y, at = at, at + (0 if m.nodes[-1].op in POOLS else row_bytes(m.tensors[-1]))
    gathered = [0, 0]  # widest add operand row read from a whole tensor, per operand
    for node, bl in zip(m.nodes, band_layers(m)):
        if node.op == "QAdd":
            for k, t in enumerate(bl.srcs):
                if not sched.rings[t]:
                    gathered[k] = max(gathered[k], row_bytes(m.tensors[t]))
        if node.op in POOLS and not sched.rings[bl.srcs[0]]:
            gathered[0] = max(gathered[0], row_bytes(m.tensors[bl.srcs[0]]))
    row_a, at = at, at + gathered[0]
    row_b, at = at, at + gathered[1]
    pooled = [node.outputs[0].shape[1] for node in m.nodes if node.op in POOLS]
    sums = round8(at)
    at = sums + 4 * max(pooled, default=0)
    conv_params = round8(at)
    at = conv_params + (QCONV_PARAMS_BYTES if any(n.op == "QConv" for n in m.nodes) else 0)
    return Layout(round8(kernel), tuple(offsets), band_at, row_a, row_b, row_y, sums,
                  conv_params, at)


def stream_form(node: Node) -> int:
    """The overlapping form a member conv runs in place in the multi-row chain form
    (tinyc_qband.h TINYC_QBAND_STREAM_*): depthwise or 1x1, as QConv's own
    `stream_kernel`; 0 for none."""
    if node.op != "QConv":
        return 0
    return STREAM_FORMS.get(get_op("QConv").stream_kernel(node) or "", 0)


def in_place(node: Node, step: ChainStep, src: Value) -> bool:
    """Whether a conv step of the multi-row form writes over its window (tinyc_qband.c
    run_chain): it has an overlapping form and its output planes (step.rows rows) are no
    larger than its input planes (the window's rows)."""
    y = node.outputs[0]
    if not stream_form(node):
        return False
    if step.layer == 0:
        lo, hi = _input_rows(node, step, src)
    else:
        lo, hi = 0, step.halo_in + step.new_in
    return step.rows * y.shape[3] <= (hi - lo) * src.shape[3]


def _stream_scratch(node: Node, rows: int) -> int:
    """Scratch of a member's overlapping form on `rows` output rows (QConv's
    `memory_behavior`: a depthwise output plane, or min(c, m) for a 1x1 conv)."""
    x, y = node.inputs[0], node.outputs[0]
    assert x is not None
    if stream_form(node) == STREAM_FORMS["dwconv2d"]:
        return rows * y.shape[3]
    return min(x.shape[1], y.shape[1]) if stream_form(node) else 0


#: tinyc_qconv.c TINYC_QDW_WALK_SHIFT: the column walk's SSAT shift
WALK_SHIFT = 10


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _pack16(lo: int, hi: int) -> int:
    return _i32((lo & 0xFFFF) | ((hi & 0xFFFF) << 16))


def walk_constants(weights: np.ndarray, bias: np.ndarray | None, shifts: np.ndarray,
                   input_offset: int, fast_act: bool) -> list[int]:
    """Per channel, the column walk's six constants (tinyc_qconv.c dw3_walk_setup, then
    its test of whether the channel takes the assembly): u0, u1, u2, v01, v2 with bit 16
    set when it does, and the bias; computed once here instead of per channel per band
    call."""
    out: list[int] = []
    for ch in range(weights.shape[0]):
        w = [int(v) for v in weights[ch].reshape(-1)]
        b = _i32((0 if bias is None else int(bias[ch])) + input_offset * sum(w))
        j = WALK_SHIFT + 1 + int(shifts[ch])
        ok = fast_act and 0 <= j <= 8 and ((b + (1 << (30 - j))) & 0xFFFFFFFF) <= 2 << (30 - j)
        if not ok:
            out += [0] * 6
            continue
        s = [v << j for v in w]
        out += [_pack16(s[0], s[2]), _pack16(s[3], s[5]), _pack16(s[6], s[8]),
                _pack16(s[1], s[4]), (s[7] & 0xFFFF) | 1 << 16, _i32(b << j)]
    return out


def _halo_fits(node: Node, layer: BandLayer, step: ChainStep, in_rows: int) -> bool:
    """Whether tinyc_dwconv2d_halo_s8 takes `step` of depthwise `node` (the column walk:
    tinyc_qconv.c dw3_small_fits and dw3_walk_fits, and the halo conditions there)."""
    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    assert x is not None
    ow, w = y.shape[3], x.shape[3]
    width = ow + 2  # the padded row
    if (stream_form(node) != STREAM_FORMS["dwconv2d"] or list(a["kernel_shape"]) != [3, 3]
            or list(a["strides"]) != [1, 1] or list(a["dilations"]) != [1, 1]
            or not 0 <= a["pads"][1] <= 2 or width > QDW_WIDE):
        return False
    stride = QDW_NARROW if width <= QDW_NARROW else QDW_WIDE
    lo = layer.reads(step.row, in_rows)[0]
    pad_top = lo - (step.row * layer.stride - layer.pad_top)
    down = step.rows * ow > step.new_in * w
    ordered = not (step.halo_in and step.halo_out) or (
        step.halo_out >= step.halo_in if down else step.halo_out <= step.halo_in)
    return (0 <= pad_top <= 2 and (step.rows + 2) * stride + 4 <= QDW_STAGE
            and step.halo_out <= step.new_in and ordered)


def halo_steps(m: Members, steps: tuple[ChainStep, ...],
               kernel_dirs: tuple[str, ...] | None) -> frozenset[int]:
    """The depthwise layers that run every step by their halo form (tinyc_qband.c
    run_chain: a later layer's step whose new rows the step before wrote in the window
    buffer), so their windows are never assembled."""
    if not m4_conv_kernel(kernel_dirs):  # only the Cortex-M4's have the halo form
        return frozenset()
    layers = band_layers(m)
    heights = [t.shape[2] for t in m.tensors]
    chosen = {j for j, node in enumerate(m.nodes) if j and node.op == "QConv"
              and all(_halo_fits(node, layers[j], s, heights[layers[j].srcs[0]])
                      for s in steps if s.layer == j)}
    while True:  # drop a layer whose step finds its new rows elsewhere, and replay
        bad = {s.layer for s, buf in zip(steps, _inputs(m, steps, chosen))
               if s.layer in chosen and buf != "band"}
        if not bad:
            return frozenset(chosen)
        chosen -= bad


def _inputs(m: Members, steps: tuple[ChainStep, ...], halo: set[int]) -> list[str]:
    """The buffer each step finds the rows the step before wrote in ("band", "other" or
    "input"), as tinyc_qband.c run_chain chooses them with the halo forms `halo`."""
    cur, found = "band", []
    layers = band_layers(m)
    for s in steps:
        found.append(cur)
        node = m.nodes[s.layer]
        if node.op in POOLS:
            continue
        if s.layer in halo and cur == "band":
            continue  # written over the new rows
        src = m.tensors[layers[s.layer].srcs[0]]
        if s.layer == 0:
            x = "input" if src.shape[1] == 1 else "band"
        else:
            x = "band" if s.halo_in else cur
        if x == "input":
            cur = "band"
        elif not in_place(node, s, src):
            cur = "other" if x == "band" else "band"
        else:
            cur = x
    return found


def chain_layout(m: Members, steps: tuple[ChainStep, ...],
                 kernel_dirs: tuple[str, ...] | None) -> tuple[Layout, tuple[int, ...]]:
    """The multi-row form's workspace: the conv kernels' scratch, each source's halo, the
    window buffer (`band`), the second buffer for layers without an overlapping form
    (`row_a`), the stream scratch (`row_b`), a pool's sums and the band's conv parameters;
    and the rows each tensor's halo keeps. A layer with the halo form (`halo_steps`) takes
    only its new rows and its output in the window buffer."""
    halo = halo_steps(m, steps, kernel_dirs)
    kernel = scratch = 0
    rows = max(s.rows for s in steps)
    for node in m.nodes:
        if node.op == "QConv":
            scratch = max(scratch, _stream_scratch(node, rows))
            if uses_m4_kernels(kernel_dirs):
                g = qconv_geometry(node)
                kernel = max(kernel, qconv_work_bytes(g, qconv_depthwise(node), band_rows=rows))
    layers = band_layers(m)
    halos = [0] * len(m.tensors)
    window = other = 0
    for s in steps:
        node, t = m.nodes[s.layer], layers[s.layer].srcs[0]
        halos[t] = max(halos[t], s.halo_out)
        src, dst = m.tensors[t], m.tensors[m.n_inputs + s.layer]
        if s.stash >= 0:
            halos[m.n_inputs + s.layer] = max(halos[m.n_inputs + s.layer], s.stash + s.rows)
        if node.op in POOLS:
            continue
        if s.layer == 0:
            lo, hi = _input_rows(node, s, src)
            gathered = (hi - lo) * row_bytes(src) if src.shape[1] > 1 else 0
        elif s.layer in halo:
            window = max(window, s.new_in * row_bytes(src), s.rows * row_bytes(dst))
            continue
        else:
            gathered = (s.halo_in + s.new_in) * row_bytes(src)
        window = max(window, gathered, s.rows * row_bytes(dst))
        if (s.layer or src.shape[1] > 1) and not in_place(node, s, src):
            other = max(other, s.rows * row_bytes(dst))
    at = round8(kernel)
    offsets = []
    for t, keep in zip(m.tensors, halos):
        offsets.append(at if keep else 0)
        at = round8(at + keep * row_bytes(t))
    band_at, at = at, round8(at + window)
    second, at = at, round8(at + other)
    stream_at, at = at, at + scratch
    pooled = [node.outputs[0].shape[1] for node in m.nodes if node.op in POOLS]
    sums = round8(at)
    at = sums + 4 * max(pooled, default=0)
    conv_params = round8(at)
    at = conv_params + QCONV_PARAMS_BYTES
    return Layout(round8(kernel), tuple(offsets), band_at, second, stream_at, stream_at, sums,
                  conv_params, at), tuple(halos)


def _input_rows(node: Node, step: ChainStep, x: Value) -> tuple[int, int]:
    """[lo, hi): the rows of the node's input layer 0's step reads."""
    a = node.attrs
    layer = BandLayer(CONV, (0,), a["kernel_shape"][0], a["strides"][0], a["dilations"][0],
                      a["pads"][0])
    lo = layer.reads(step.row, x.shape[2])[0]
    return lo, layer.reads(step.row + step.rows - 1, x.shape[2])[1]


def band_summary(node: Node) -> dict[str, object]:
    """What a banded node costs beyond its layers, for `tinyc plan` and `--report`: one
    kernel call per step (no row is computed twice), and the bytes its rings (multi-row
    form: halos) keep."""
    m = members(node)
    if band_rows(node) > 1:
        steps = _steps(node, m)
        _, halos = chain_layout(m, steps, None)
        kept = sum(k * row_bytes(t) for t, k in zip(m.tensors, halos))
        count = len(steps)
    else:
        sched = band_schedule(m)
        kept = sum(r * row_bytes(t) for t, r in zip(m.tensors, sched.rings))
        count = len(sched.steps)
    return {"node": node.name, "layers": len(m.nodes), "row_steps": count,
            "band_rows": band_rows(node), "recomputed_rows": 0, "ring_bytes": kept}


def check_bandable(node: Node) -> None:
    """The conditions `band-rows` fuses under, as a model error for a hand-written node."""
    for v in [*node.inputs[: int(node.attrs["n_inputs"])], node.outputs[0]]:
        if v is None or v.type.rank != 4 or v.shape[0] != 1 or v.dtype is not DType.I8:
            raise ModelError(f"QBanded node '{node.name}': tensors must be int8 NCHW, batch 1")


@register_op
class QBanded(OpDef):
    """int8 conv/add chain run in row bands (see the module docstring)."""

    name = "QBanded"
    attrs = {"n_inputs": Attr("int", min=1), "layers": Attr("ints"), "scales": Attr("floats"),
             "zero_points": Attr("ints"), "band_rows": Attr("int", 1, min=1, max=4096),
             semantics.ATTR: ACT_ATTRS[semantics.ATTR]}

    def infer(self, node: Node) -> list[TensorType]:
        _check_records(node)
        check_bandable(node)
        return [members(node).tensors[-1].type]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        m = members(node)
        data: list[np.ndarray] = [x for x in inputs[: m.n_inputs] if x is not None]
        for member in m.nodes:
            args = [v.const if v is not None and v.const is not None
                    else (None if v is None else data[m.tensors.index(v)])
                    for v in member.inputs]
            (out,) = get_op(member.op).reference(member, args)
            data.append(np.asarray(out).reshape(member.outputs[0].shape))
        return [data[-1]]

    def macs(self, node: Node) -> int:
        return sum(get_op(n.op).macs(n) for n in members(node).nodes)

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        m = members(node)
        if band_rows(node) > 1:
            return chain_layout(m, _steps(node, m), kernel_dirs)[0].total
        return layout(m, band_schedule(m), kernel_dirs).total

    def emit(self, node: Node, ctx: EmitContext) -> None:
        m = members(node)
        halo: frozenset[int] = frozenset()
        if band_rows(node) > 1:
            chain = _steps(node, m)
            lay, kept = chain_layout(m, chain, ctx.kernel_dirs)
            halo = halo_steps(m, chain, ctx.kernel_dirs)
            step_fields = [v for step in chain for v in step.fields()]
        else:
            sched = band_schedule(m)
            lay, kept = layout(m, sched, ctx.kernel_dirs), sched.rings
            step_fields = [v for step in sched.steps for v in step]
        y = node.outputs[0]
        tensors = [f"{{{t.shape[1]}, {t.shape[2]}, {t.shape[3]}, {ring}, {off}}}"
                   for t, ring, off in zip(m.tensors, kept, lay.offsets)]
        consts = iter(node.inputs[m.n_inputs:])
        layers = []
        for member, bl in zip(m.nodes, band_layers(m)):
            src1 = bl.srcs[1] if len(bl.srcs) > 1 else -1
            if member.op == "QAdd":
                row_node = _row_add(member)
                add = ctx.params("tinyc_qbinary_params", get_op("QAdd").params_init(row_node),
                                 f"qband_add_{y.name}")
                layers.append(f"{{{bl.kind}, {bl.srcs[0]}, {src1}, NULL, NULL, NULL, {add}, "
                              "NULL, 0, NULL}")
                continue
            if member.op in POOLS:
                x = member.inputs[0]
                assert x is not None
                count = x.shape[2] * x.shape[3]
                if member.op == "QAveragePool" and semantics.is_tflite(member):
                    fields = [0, 0, 0, 0, *_act(member), count]  # TFLite: rounded raw mean
                else:
                    fields = requant_fields(member, x, count) + [0]
                pool = ctx.params("tinyc_qband_pool", "{" + ", ".join(map(str, fields)) + "}",
                                  f"qband_pool_{y.name}")
                layers.append(f"{{{bl.kind}, {bl.srcs[0]}, -1, NULL, NULL, NULL, NULL, {pool}, "
                              "0, NULL}")
                continue
            w, b = next(consts), next(consts)
            assert w is not None
            x = member.inputs[0]
            assert x is not None
            init = qconv_params_init(member, ctx, _scale_zp(x), _scale_zp(member.outputs[0]))
            conv = ctx.params("tinyc_qconv_params", init, f"qband_conv_{y.name}")
            bias = ctx.ptr(b) if b is not None else "NULL"
            halo_k = "NULL"
            if len(layers) in halo:
                halo_k = ctx.table(DType.I32, _walk_table(member, x), f"qband_walk_{y.name}")
                ctx.kernel_paths.add(QBAND_HALO)
            # NULL with packed records (qinteger.qconv_weights)
            weights = ctx.ptr(w) if init.endswith(", NULL}") else "NULL"
            layers.append(f"{{{bl.kind}, {bl.srcs[0]}, {src1}, {conv}, {weights}, {bias}, "
                          f"NULL, NULL, {stream_form(member)}, {halo_k}}}")
        steps = ctx.table(DType.I16, step_fields, f"qband_steps_{y.name}")
        n_steps = len(step_fields) // (7 if band_rows(node) > 1 else 2)
        init = (f"{{{m.n_inputs}, {len(m.nodes)}, {n_steps}, "
                f"{ctx.params_array('tinyc_qband_tensor', tensors, f'qband_t_{y.name}')}, "
                f"{ctx.params_array('tinyc_qband_layer', layers, f'qband_l_{y.name}')}, "
                f"{steps}, {lay.kernel_work}, {lay.band}, {lay.row_a}, {lay.row_b}, "
                f"{lay.row_y}, {lay.sums}, {lay.conv_params}, {band_rows(node)}}}")
        params = ctx.params("tinyc_qband_params", init, f"qband_{y.name}")
        inputs = [v for v in node.inputs[: m.n_inputs] if v is not None]
        ctx.call("qband", "tinyc_qband_s8",
                 ctx.pointer_array("int8_t", inputs, f"qband_in_{y.name}"), ctx.ptr(y),
                 ctx.workspace(node, DType.I8), params)


def _walk_table(node: Node, x: Value) -> list[int]:
    """`walk_constants` of a depthwise member reading x."""
    w, b = node.inputs[1], node.input(2)
    assert w is not None and w.const is not None
    (sx, zx), (sy, _) = _scale_zp(x), _scale_zp(node.outputs[0])
    _, shifts = scale_multipliers(node, sx, w, sy)
    lo, hi = _act(node)
    return walk_constants(np.asarray(w.const), None if b is None else np.asarray(b.const),
                          np.asarray(shifts), -zx, lo <= -128 and hi >= 127)


def _scale_zp(v: Value) -> tuple[float, int]:
    q = v.type.quant
    assert q is not None
    return float(q.scale[0]), int(q.zero_point[0])


def _row_add(node: Node) -> Node:
    """`node` on one row of its tensors: what each step's add covers."""
    def row(v: Value) -> Value:
        return Value(v.name, TensorType(DType.I8, (1, row_bytes(v)), v.type.quant))

    a, b = node.inputs
    assert a is not None and b is not None
    out = row(node.outputs[0])
    new = Node("QAdd", [row(a), row(b)], [out], dict(node.attrs), name=node.name)
    out.producer = new
    return new
