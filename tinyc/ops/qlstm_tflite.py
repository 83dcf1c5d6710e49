"""QLSTMTFLite: an int8 UNIDIRECTIONAL_SEQUENCE_LSTM computed as TFLite Micro's integer
LSTM kernel computes it (lstm_eval.h, the 8x8->16 path; `tinyc.quant.lower_tflite_lstm`
makes it from a .tflite import). The interpreter (`reference`) and the C kernel
(`codegen/kernels/tinyc_qlstm_tflite.h`) are bit-exact with it:

- X and the hidden state int8 per tensor; weights int8 symmetric, one scale per gate; biases
  int32 at s_x * s_w[gate]; cell state int16 at 2^cell_power. Both start at zero (TFLite's
  variable tensors, reset: the hidden state at its zero point).
- Each gate: the input and recurrent fully connected layers (acc = sum w (v - zp_v), the
  bias with the input one only) each through MultiplyByQuantizedMultiplier to int16 Q3.12
  (real multiplier s_v s_w[gate] 2^12, clamped), added with int16 saturation, then the
  int16 logistic (i, f, o) or tanh (g) of TFLite's reference_integer_ops on its 256-entry
  sigmoid table, giving Q0.15.
- c = sat16(mul(f, c) + mul(i, g)) with mul = MultiplyByQuantizedMultiplier of the int32
  product (2^-15 and 2^-30 / s_c), clamped to int16; then the cell clip (when non-zero).
- The output gate is computed after the cell update (from the same h_{t-1});
  h = clamp(zp_h + mbqm(tanh(c) o, 2^-30 / s_h), int8), tanh reading c at 2^cell_power.
- Y[t] holds h's codes (TFLite copies the hidden state into the output tensor).

Gates in ONNX order (i, o, f, c) in W, R and B. Y has the ONNX LSTM's shape, one direction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, TensorType, Value
from tinyc.ops.qinteger import _check_acc, quant_of, scale_zp
from tinyc.ops.registry import Attr, OpDef, input_type, register_op
from tinyc.quant import tflite_fixedpoint as tfl
from tinyc.quant.fixedpoint import quantize_multiplier

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

#: the gate pre-activations' scale (Q3.12) and the gate outputs' (Q0.15), as TFLite Micro
#: writes them (float32 constants)
GATE_SCALE = np.float32(2.0**-12)
UNIT_SCALE = np.float32(2.0**-15)
_GATES = 4
_I, _O, _F, _C = range(4)


def _f64(v: float) -> float:
    """A scale as TFLite holds it (float32), widened to double."""
    return float(np.float32(v))


def _sat(v: np.ndarray, bits: int) -> np.ndarray:
    lim = 1 << (bits - 1)
    return np.clip(v, -lim, lim - 1)


@register_op
class QLSTMTFLite(OpDef):
    """int8 LSTM with TFLite Micro's integer arithmetic (see the module docstring). Inputs
    X [batch, seq, input] (layout 1) or [seq, batch, input], W [4, hidden, input] and
    R [4, hidden, hidden] int8 (one scale per gate), B int32 [4, hidden]; output Y int8
    [batch, seq, 1, hidden] (layout 1) or [seq, 1, batch, hidden] at the output's parameters;
    hidden state parameters, cell scale power and quantized cell clip as attributes."""

    name = "QLSTMTFLite"
    attrs = {
        "hidden_size": Attr("int"),
        "layout": Attr("int", 0, min=0, max=1),
        "cell_power": Attr("int", -11, min=-30, max=0),
        "cell_clip": Attr("int", 0, min=0, max=32767),
        "h_scale": Attr("float"),
        "h_zero_point": Attr("int", 0, min=-128, max=127),
    }

    def dims(self, node: Node) -> tuple[int, int, int, int]:
        """(seq, batch, input, hidden), checking the operands."""
        x = input_type(node, 0)
        if x.rank != 3 or x.dtype is not DType.I8:
            raise ModelError(f"QLSTMTFLite node '{node.name}': X must be 3-D int8")
        seq, batch = (x.shape[1], x.shape[0]) if node.attrs["layout"] else x.shape[:2]
        size, hidden = x.shape[2], node.attrs["hidden_size"]
        expect = {1: ((_GATES, hidden, size), DType.I8), 2: ((_GATES, hidden, hidden), DType.I8),
                  3: ((_GATES, hidden), DType.I32)}
        for i, (shape, dtype) in expect.items():
            v = node.input(i)
            if v is None or v.shape != shape or v.dtype is not dtype:
                got = "missing" if v is None else f"{v.dtype.value}{list(v.shape)}"
                raise ModelError(f"QLSTMTFLite node '{node.name}': input {i} is {got}, "
                                 f"expected {dtype.value}{list(shape)}")
        return seq, batch, size, hidden

    def infer(self, node: Node) -> list[TensorType]:
        seq, batch, _, hidden = self.dims(node)
        y = (batch, seq, 1, hidden) if node.attrs["layout"] else (seq, 1, batch, hidden)
        return [TensorType(DType.I8, y)]

    def macs(self, node: Node) -> int:
        seq, batch, size, hidden = self.dims(node)
        return seq * batch * _GATES * hidden * (size + hidden)

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """int16: one batch row's cell state, hidden state codes and four gate outputs, then
        the step's widened (x - zp_x) and (h - zp_h), each padded to a multiple of 4 (the
        Cortex-M4 kernel's SMLAD pairs)."""
        _, _, size, hidden = self.dims(node)
        return 2 * (6 * hidden + -(-size // 4) * 4 + -(-hidden // 4) * 4)

    # -- fixed-point parameters -----------------------------------------------------------
    def multipliers(self, node: Node) -> dict[str, np.ndarray]:
        """TFLite Micro's (q, shift) pairs, its shift convention (positive = left): `x` and
        `r` [2, 4] per gate to Q3.12; `forget`, `input` (to the cell) and `hidden`."""
        x, w, r = node.inputs[0], node.inputs[1], node.inputs[2]
        assert x is not None and w is not None and r is not None
        sx = _f64(scale_zp(x, node)[0])
        sh, sc = _f64(node.attrs["h_scale"]), 2.0 ** node.attrs["cell_power"]
        unit, gate = float(UNIT_SCALE), float(GATE_SCALE)

        def per_gate(scale_in: float, weights: np.ndarray) -> np.ndarray:
            return np.array([quantize_multiplier(scale_in * _f64(s) / gate) for s in weights],
                            np.int64).T

        return {"x": per_gate(sx, _gate_scales(node, w)), "r": per_gate(sh, _gate_scales(node, r)),
                "forget": np.array(quantize_multiplier(unit * sc / sc)),
                "input": np.array(quantize_multiplier(unit * unit / sc)),
                "hidden": np.array(quantize_multiplier(unit * unit / sh))}

    # -- integer semantics ----------------------------------------------------------------
    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a = node.attrs
        seq, batch, _, hidden = self.dims(node)
        x, w, r, b = (np.asarray(v, np.int64) for v in inputs[:4])  # type: ignore[arg-type]
        xv = node.inputs[0]
        assert xv is not None
        zx, zh = scale_zp(xv, node)[1], int(a["h_zero_point"])
        m = self.multipliers(node)
        tanh_args = tfl.lstm_tanh_args(int(a["cell_power"]))
        clip = int(a.get("cell_clip", 0))
        if a["layout"]:
            x = x.transpose(1, 0, 2)
        y = np.zeros((seq, 1, batch, hidden), np.int64)
        for n in range(batch):
            h = np.full(hidden, zh, np.int64)
            c = np.zeros(hidden, np.int64)
            for t in range(seq):
                acc_x = w @ (x[t, n] - zx) + b
                acc_r = r @ (h - zh)
                _check_acc(acc_x, node)
                _check_acc(acc_r, node)
                part_x = _sat(tfl.mbqm(acc_x, m["x"][0][:, None], m["x"][1][:, None]), 16)
                part_r = _sat(tfl.mbqm(acc_r, m["r"][0][:, None], m["r"][1][:, None]), 16)
                pre = _sat(part_x + part_r, 16)
                f, i = tfl.logistic_int16(pre[_F]), tfl.logistic_int16(pre[_I])
                g = tfl.tanh_int16(pre[_C], 0, 0)
                c = _sat(_sat(tfl.mbqm(f * c, *m["forget"]), 16)
                         + _sat(tfl.mbqm(i * g, *m["input"]), 16), 16)
                if clip:
                    c = np.clip(c, -clip, clip)
                o = tfl.logistic_int16(pre[_O])
                h = _sat(zh + tfl.mbqm(tfl.tanh_int16(c, *tanh_args) * o, *m["hidden"]), 8)
                y[t, 0, n] = h
        if a["layout"]:
            y = y.transpose(2, 0, 1, 3)
        return [y.astype(np.int8)]

    # -- C --------------------------------------------------------------------------------
    def emit(self, node: Node, ctx: EmitContext) -> None:
        a = node.attrs
        seq, batch, size, hidden = self.dims(node)
        xv, yv = node.inputs[0], node.outputs[0]
        assert xv is not None
        m = self.multipliers(node)
        hint = yv.name
        tanh_mult, tanh_shift = tfl.lstm_tanh_args(int(a["cell_power"]))
        fields = [seq, batch, size, hidden, a["layout"], scale_zp(xv, node)[1],
                  int(a["h_zero_point"]), int(a.get("cell_clip", 0)), tanh_mult, tanh_shift,
                  ctx.table(DType.I32, m["x"][0], f"qlstm_xmult_{hint}"),
                  ctx.table(DType.I32, m["x"][1], f"qlstm_xshift_{hint}"),
                  ctx.table(DType.I32, m["r"][0], f"qlstm_rmult_{hint}"),
                  ctx.table(DType.I32, m["r"][1], f"qlstm_rshift_{hint}"),
                  *(int(v) for k in ("forget", "input", "hidden") for v in m[k]),
                  ctx.table(DType.U16, tfl.SIGMOID_TABLE_U16, "tflite_sigmoid_u16")]
        params = ctx.params("tinyc_qlstm_tflite_params",
                            "{" + ", ".join(str(f) for f in fields) + "}", f"qlstm_{hint}")
        ins = [ctx.ptr(v) for v in node.inputs[:4] if v is not None]
        ctx.call("qlstm_tflite", "tinyc_qlstm_tflite_s8", *ins, ctx.ptr(yv),
                 ctx.workspace(node, DType.I16), params)


def _gate_scales(node: Node, w: Value) -> np.ndarray:
    q = quant_of(w, node)
    if any(z != 0 for z in q.zero_point) or (len(q.scale) > 1 and q.axis != 0):
        raise ModelError(f"QLSTMTFLite node '{node.name}': weights must be symmetric per gate")
    return np.broadcast_to(np.asarray(q.scale, np.float64), (_GATES,))
