"""Integer recurrent layers: QLSTM and QGRU, what `--quantize int8` makes of LSTM and GRU.

In the spirit of TFLite's integer LSTM (int8 weights and activations, int16 gates and cell
state, fixed-point sigmoid/tanh, integer requantization); tinyc's own definition, which the
interpreter (`reference`) and the C kernels (`codegen/kernels/tinyc_qrnn.h`, portable and
Cortex-M4 SMLAD) compute bit for bit:

- X and the hidden state int8, asymmetric per tensor; the hidden state is Y itself, so Y
  (and Y_h, a copy of the last step) has the hidden state's parameters (s_h, zp_h).
- W [dirs*G, H, I] and R [dirs*G, H, H]: int8 symmetric, one scale per (direction, gate)
  block (axis 0), gates in ONNX order (LSTM i, o, f, c; GRU z, r, h).
- B int32 [dirs, G, H]: the gate's two ONNX biases together at scale s_x * s_w[gate]; a GRU
  has a fourth row per direction, the recurrent bias of its h gate at s_h * s_r[h] (applied
  with its recurrent product: inside the reset product when linear_before_reset = 1).
- Gate pre-activations are int16 Q3.12 (scale 2^-12): each int32 accumulator,
  sum (x - zp_x) w + b and sum (h - zp_h) r, is requantized on its own by
  `multiply_by_quantized_multiplier` (s_x s_w / 2^-12, s_h s_r / 2^-12), saturated to int16,
  and the two are added with saturation.
- sigmoid and tanh map Q3.12 to Q0.15 through one 257-entry tanh table with linear
  interpolation (`lut_tanh`); sigmoid(x) = (1 + tanh(x / 2)) / 2.
- LSTM cell state int16 with scale 2^-cell_frac (a power of two chosen from the calibrated
  range): c = f c + i g with rounding shifts; h = requant(o tanh(c)) with s = 2^-30 / s_h.
- GRU: h = (1 - z) n + z h_prev, the first term requantized from Q0.30, the second a
  rounding shift of z (h_prev - zp_h). With linear_before_reset = 0 the h gate's
  recurrent product reads r (h - zp_h) rounded to the hidden state's units.

What this does not cover stays a float LSTM/GRU (see `tinyc.quant.lower_rnn`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, TensorType, Value
from tinyc.ops.qinteger import _check_acc, quant_of, scale_zp
from tinyc.ops.registry import Attr, OpDef, input_type, register_op
from tinyc.ops.rnn import DIRECTIONS
from tinyc.quant.fixedpoint import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    quantize_multipliers,
)

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

#: fractional bits of the int16 gate pre-activations (Q3.12)
GATE_FRAC = 12
#: fractional bits of the int16 gate outputs (Q0.15)
UNIT_FRAC = 15
#: the tanh table: 2^TABLE_BITS intervals over the int16 Q3.12 range, plus the end point
TABLE_BITS = 8
TABLE_STEP = 16 - TABLE_BITS


def tanh_table() -> np.ndarray:
    """int16[257]: round(2^15 tanh(v)) at v = -8, -8 + 1/16, ..., 8, clamped to int16."""
    grid = (np.arange(2**TABLE_BITS + 1, dtype=np.float64) * 2**TABLE_STEP - 2**15) / 2**GATE_FRAC
    return np.clip(np.rint(np.tanh(grid) * 2**UNIT_FRAC), -32768, 32767).astype(np.int16)


_TABLE = tanh_table().astype(np.int64)


def lut_tanh(x: np.ndarray) -> np.ndarray:
    """tanh of int16 Q3.12 values as Q0.15 (int64 arrays): the table, linearly interpolated
    with one rounding (half up)."""
    u = np.asarray(x, np.int64) + 2**15
    i = u >> TABLE_STEP
    frac = u & (2**TABLE_STEP - 1)
    lo = _TABLE[i]
    hi = _TABLE[np.minimum(i + 1, 2**TABLE_BITS)]
    return lo + (((hi - lo) * frac + 2 ** (TABLE_STEP - 1)) >> TABLE_STEP)


def lut_sigmoid(x: np.ndarray) -> np.ndarray:
    """sigmoid of int16 Q3.12 values as Q0.15 in [0, 32767]: (tanh(x / 2) + 1) / 2."""
    return (lut_tanh(np.asarray(x, np.int64) >> 1) + 2**15) >> 1


def rshift_round(v: np.ndarray, n: int) -> np.ndarray:
    """v / 2^n rounded half up (n >= 0), as the C kernel's `rshift_round`."""
    v = np.asarray(v, np.int64)
    return v if n == 0 else (v + (1 << (n - 1))) >> n


def sat(v: np.ndarray, bits: int) -> np.ndarray:
    lim = 1 << (bits - 1)
    return np.clip(np.asarray(v, np.int64), -lim, lim - 1)


def cell_frac_for(bound: float) -> int:
    """Fractional bits of the int16 cell state for an observed max |c|: the largest power
    of two range holding twice the bound (one bit of headroom), within [0, 15]."""
    if not bound > 0 or not np.isfinite(bound):
        return 15
    return int(np.clip(15 - int(np.ceil(np.log2(bound))) - 1, 0, 15))


def to_q312(c: np.ndarray, cell_frac: int) -> np.ndarray:
    """An int16 cell state at 2^-cell_frac as a Q3.12 tanh input (saturated)."""
    if cell_frac >= GATE_FRAC:
        return rshift_round(c, cell_frac - GATE_FRAC)
    return sat(np.asarray(c, np.int64) << (GATE_FRAC - cell_frac), 16)


class _QRecurrent(OpDef):
    cell: ClassVar[int] = 1
    gates: ClassVar[int] = 3
    attrs = {
        "direction": Attr("string", "forward"),
        "hidden_size": Attr("int"),
        "layout": Attr("int", 0),
    }

    # -- shapes ---------------------------------------------------------------------------
    def dims(self, node: Node) -> tuple[int, int, int, int, int]:
        """(seq, batch, input, hidden, dirs), checking the operands."""
        a = node.attrs
        x = input_type(node, 0)
        if x.rank != 3 or x.dtype is not DType.I8:
            raise ModelError(f"{node.op} node '{node.name}': X must be 3-D int8")
        seq, batch = (x.shape[1], x.shape[0]) if a["layout"] else x.shape[:2]
        size, hidden = x.shape[2], a["hidden_size"]
        dirs = 2 if a["direction"] == "bidirectional" else 1
        g = self.gates
        state = (batch, dirs, hidden) if a["layout"] else (dirs, batch, hidden)
        expect = {1: ((dirs * g, hidden, size), DType.I8),
                  2: ((dirs * g, hidden, hidden), DType.I8),
                  3: ((dirs, self.bias_rows(), hidden), DType.I32), 4: ((batch,), DType.I32),
                  5: (state, DType.I8), 6: (state, DType.I16)}
        for i, (shape, dtype) in expect.items():
            v = node.input(i)
            if v is None:
                if i <= 3:
                    raise ModelError(f"{node.op} node '{node.name}': input {i} is required")
                continue
            if i == 6 and v.dtype is DType.I8:  # a run-time int8 cell state, own parameters
                dtype = DType.I8
            if v.shape != shape or v.dtype is not dtype:
                raise ModelError(f"{node.op} node '{node.name}': input {i} is {v.dtype.value}"
                                 f"{list(v.shape)}, expected {dtype.value}{list(shape)}")
        return seq, batch, size, hidden, dirs

    def bias_rows(self) -> int:
        return self.gates

    def infer(self, node: Node) -> list[TensorType]:
        seq, batch, _, hidden, dirs = self.dims(node)
        layout = node.attrs["layout"]
        y = (batch, seq, dirs, hidden) if layout else (seq, dirs, batch, hidden)
        state = (batch, dirs, hidden) if layout else (dirs, batch, hidden)
        n_state = 2 if self.cell == 2 else 1
        types = [TensorType(DType.I8, y)] + [TensorType(DType.I8, state)] * n_state
        return types[: max(len(node.outputs), 1)]

    def macs(self, node: Node) -> int:
        seq, batch, size, hidden, dirs = self.dims(node)
        return dirs * seq * batch * self.gates * hidden * (size + hidden)

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """int16: the step's (x - zp_x) and (h - zp_h), each padded to a multiple of 4 (the
        Cortex-M4 kernel's SMLAD pairs), then the LSTM cell state [batch, hidden], or a GRU
        with linear_before_reset = 0's r (h - zp_h) (padded), z and h-gate input term."""
        _, batch, size, hidden, _ = self.dims(node)
        pad = -(-hidden // 4) * 4
        extra = batch * hidden if self.cell == 2 else 0
        if self.cell == 1 and not node.attrs["linear_before_reset"]:
            extra = pad + 2 * hidden
        return 2 * (-(-size // 4) * 4 + pad + extra)

    # -- fixed-point parameters -----------------------------------------------------------
    def multipliers(self, node: Node) -> dict[str, np.ndarray]:
        """(q, shift) int32 arrays: `x` and `r` per (direction, gate) block, for the input
        and recurrent accumulators to Q3.12; `h` for Q0.30 products to the hidden state."""
        x, w, r, y = node.inputs[0], node.inputs[1], node.inputs[2], node.outputs[0]
        assert x is not None and w is not None and r is not None
        sx, sh = scale_zp(x, node)[0], scale_zp(y, node)[0]
        sw, sr = _block_scales(node, w), _block_scales(node, r)
        xq, xs = quantize_multipliers(sx * sw * 2.0**GATE_FRAC)
        rq, rs = quantize_multipliers(sh * sr * 2.0**GATE_FRAC)
        hq, hs = quantize_multiplier(2.0 ** (-2 * UNIT_FRAC) / sh)
        out = {"x": np.stack([xq, xs]), "r": np.stack([rq, rs]),
               "h": np.array([hq, hs], np.int32), "c_in": np.zeros(3, np.int32),
               "c_out": np.zeros(3, np.int32)}
        cf = int(node.attrs.get("cell_frac", 0))
        c0 = node.input(6)
        if c0 is not None and c0.dtype is DType.I8:  # int8 (own parameters) -> int16 cell
            s, z = scale_zp(c0, node)
            out["c_in"] = np.array([*quantize_multiplier(s * 2.0**cf), z], np.int32)
        if len(node.outputs) > 2:  # int16 cell -> Y_c, int8 with its own parameters
            s, z = scale_zp(node.outputs[2], node)
            out["c_out"] = np.array([*quantize_multiplier(2.0**-cf / s), z], np.int32)
        return out

    # -- integer semantics ----------------------------------------------------------------
    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a = node.attrs
        seq, batch, _, hidden, dirs = self.dims(node)
        padded = list(inputs) + [None] * (7 - len(inputs))
        x, w, r, b, lens, h0, c0 = padded[:7]
        assert x is not None and w is not None and r is not None and b is not None
        xv, yv = node.inputs[0], node.outputs[0]
        assert xv is not None
        zx, zh = scale_zp(xv, node)[1], scale_zp(yv, node)[1]
        m = self.multipliers(node)
        g = self.gates
        if a["layout"]:
            x = x.transpose(1, 0, 2)
            h0 = None if h0 is None else h0.transpose(1, 0, 2)
            c0 = None if c0 is None else c0.transpose(1, 0, 2)
        lens_v = np.full(batch, seq) if lens is None else lens.astype(np.int64)
        if ((lens_v < 0) | (lens_v > seq)).any():
            raise ModelError(f"{node.op} node '{node.name}': sequence length out of range")
        y = np.full((seq, dirs, batch, hidden), zh, np.int64)
        y_h = np.full((dirs, batch, hidden), zh, np.int64)
        y_c = np.zeros((dirs, batch, hidden), np.int64)
        c_in, c_out = m["c_in"], m["c_out"]
        for d in range(dirs):
            blocks = slice(d * g, (d + 1) * g)
            wd, rd = w[blocks].astype(np.int64), r[blocks].astype(np.int64)
            bd = b[d].astype(np.int64)
            mx, mr = m["x"][:, blocks, None], m["r"][:, blocks, None]
            reverse = a["direction"] == "reverse" or d == 1
            for n in range(batch):
                h = np.full(hidden, zh, np.int64) if h0 is None else h0[d, n].astype(np.int64)
                c = np.zeros(hidden, np.int64) if c0 is None else c0[d, n].astype(np.int64)
                if c0 is not None and c0.dtype == np.int8:
                    c = sat(multiply_by_quantized_multiplier(c - c_in[2], c_in[0], c_in[1]), 16)
                steps = range(int(lens_v[n]))
                for t in reversed(steps) if reverse else steps:
                    acc_x = wd @ (x[t, n].astype(np.int64) - zx) + bd[:g]
                    acc_r = rd @ (h - zh)
                    _check_acc(acc_x, node)
                    _check_acc(acc_r, node)
                    part_x = sat(multiply_by_quantized_multiplier(acc_x, mx[0], mx[1]), 16)
                    h, c = self.cell_step(node, part_x, acc_r, bd, mr, m["h"], h, c, zh, rd)
                    y[t, d, n] = h
                y_h[d, n] = h
                y_c[d, n] = sat(multiply_by_quantized_multiplier(c, c_out[0], c_out[1])
                                .astype(np.int64) + c_out[2], 8)
        outs = [y, y_h, y_c]
        if a["layout"]:
            outs = [y.transpose(2, 0, 1, 3), y_h.transpose(1, 0, 2), y_c.transpose(1, 0, 2)]
        return [o.astype(np.int8) for o in outs[: len(node.outputs)]]

    def cell_step(self, node: Node, part_x: np.ndarray, acc_r: np.ndarray, bias: np.ndarray,
                  mr: np.ndarray, mh: np.ndarray, h: np.ndarray, c: np.ndarray,
                  zh: int, rd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    # -- C --------------------------------------------------------------------------------
    def emit(self, node: Node, ctx: EmitContext) -> None:
        a = node.attrs
        seq, batch, size, hidden, dirs = self.dims(node)
        xv, yv = node.inputs[0], node.outputs[0]
        assert xv is not None
        m = self.multipliers(node)
        hint = yv.name
        fields = [self.cell, seq, batch, size, hidden, DIRECTIONS[a["direction"]], a["layout"],
                  scale_zp(xv, node)[1], scale_zp(yv, node)[1], int(a.get("cell_frac", 0)),
                  ctx.table(DType.I32, m["x"][0], f"qrnn_xmult_{hint}"),
                  ctx.table(DType.I32, m["x"][1], f"qrnn_xshift_{hint}"),
                  ctx.table(DType.I32, m["r"][0], f"qrnn_rmult_{hint}"),
                  ctx.table(DType.I32, m["r"][1], f"qrnn_rshift_{hint}"),
                  int(m["h"][0]), int(m["h"][1]),
                  ctx.table(DType.I16, tanh_table(), "qrnn_tanh"),
                  int(a.get("linear_before_reset", 1)),
                  *(int(v) for v in m["c_in"]), *(int(v) for v in m["c_out"])]
        params = ctx.params("tinyc_qrnn_params", "{" + ", ".join(str(f) for f in fields) + "}",
                            f"qrnn_{hint}")

        def ptr(v: Value | None) -> str:
            return ctx.ptr(v) if v is not None else "NULL"

        ins = [ptr(node.input(i)) for i in range(6)]
        c0 = node.input(6)
        c16, c8 = (c0, None) if c0 is None or c0.dtype is DType.I16 else (None, c0)
        outs = [ptr(v) for v in node.outputs] + ["NULL"] * (3 - len(node.outputs))
        ctx.checked_call("qrnn", "tinyc_qrnn_s8", *ins, ptr(c16), ptr(c8), *outs,
                         ctx.workspace(node, DType.I16), params)


def _block_scales(node: Node, w: Value) -> np.ndarray:
    q = quant_of(w, node)
    if any(z != 0 for z in q.zero_point) or (len(q.scale) > 1 and q.axis != 0):
        raise ModelError(f"{node.op} node '{node.name}': weights must be symmetric per block")
    return np.broadcast_to(np.asarray(q.scale, np.float64), (w.shape[0],))


@register_op
class QLSTM(_QRecurrent):
    """int8 LSTM (see the module docstring); outputs Y, optionally Y_h and Y_c. Y_c, and an
    initial cell state computed at run time, are int8 with parameters of their own, converted
    from and to the int16 cell state with one multiplier each."""

    name, cell, gates = "QLSTM", 2, 4
    attrs = {**_QRecurrent.attrs, "cell_frac": Attr("int", 15, min=0, max=15)}

    def cell_step(self, node: Node, part_x: np.ndarray, acc_r: np.ndarray, bias: np.ndarray,
                  mr: np.ndarray, mh: np.ndarray, h: np.ndarray, c: np.ndarray,
                  zh: int, rd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cf = int(node.attrs["cell_frac"])
        part_r = sat(multiply_by_quantized_multiplier(acc_r, mr[0], mr[1]), 16)
        pre = sat(part_x + part_r, 16)
        i, o, f = lut_sigmoid(pre[0]), lut_sigmoid(pre[1]), lut_sigmoid(pre[2])
        g = lut_tanh(pre[3])
        c = sat(rshift_round(f * c, UNIT_FRAC) + rshift_round(i * g, 2 * UNIT_FRAC - cf), 16)
        hq = multiply_by_quantized_multiplier(o * lut_tanh(to_q312(c, cf)), mh[0], mh[1])
        return sat(hq.astype(np.int64) + zh, 8), c


@register_op
class QGRU(_QRecurrent):
    """int8 GRU (see the module docstring); outputs Y and optionally Y_h. With
    linear_before_reset = 0 the h gate's recurrent product reads r (h - zp_h), rounded to
    the hidden state's units, so every unit's r comes first."""

    name, cell, gates = "QGRU", 1, 3
    attrs = {**_QRecurrent.attrs, "linear_before_reset": Attr("int", 1, min=0, max=1)}

    def bias_rows(self) -> int:
        return self.gates + 1

    def cell_step(self, node: Node, part_x: np.ndarray, acc_r: np.ndarray, bias: np.ndarray,
                  mr: np.ndarray, mh: np.ndarray, h: np.ndarray, c: np.ndarray,
                  zh: int, rd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc_r = acc_r.copy()
        z_and_r = sat(multiply_by_quantized_multiplier(acc_r[:2], mr[0][:2], mr[1][:2]), 16)
        z = lut_sigmoid(sat(part_x[0] + z_and_r[0], 16))
        r = lut_sigmoid(sat(part_x[1] + z_and_r[1], 16))
        if not node.attrs["linear_before_reset"]:
            acc_r[2] = rd[2] @ rshift_round(r * (h - zh), UNIT_FRAC)
        acc_r[2] += bias[3]
        _check_acc(acc_r, node)
        part_n = sat(multiply_by_quantized_multiplier(acc_r[2], mr[0][2], mr[1][2]), 16)
        if node.attrs["linear_before_reset"]:
            n = lut_tanh(sat(part_x[2] + rshift_round(r * part_n, UNIT_FRAC), 16))
        else:
            n = lut_tanh(sat(part_x[2] + part_n, 16))
        kept = rshift_round(z * (h - zh), UNIT_FRAC)
        new = multiply_by_quantized_multiplier((2**UNIT_FRAC - z) * n, mh[0], mh[1])
        return sat(new.astype(np.int64) + kept + zh, 8), c
