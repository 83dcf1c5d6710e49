"""QDQ lowering of a .tflite import's int8 LSTM to `QLSTMTFLite` (`tinyc/ops/qlstm_tflite.py`),
in the `tflite` semantics only.

The TFLite frontend writes an int8 UNIDIRECTIONAL_SEQUENCE_LSTM as an ONNX LSTM whose
operands carry TFLite's integers: W and R DequantizeLinears of the int8 weights (one scale
per gate row block), B a DequantizeLinear of the int32 biases (the recurrent half zero),
initial_h a DequantizeLinear of the hidden state's zero point with its parameters, initial_c
one of int32 zeros at the int16 cell state's scale, and the cell clip (real units, 0 for
none) is the LSTM's `tflite_cell_clip` attribute. The rule reads them back: nothing is
requantized, so the integer op sees exactly the numbers TFLite Micro's kernel sees.
Anything else stays the float LSTM between its DQ and Q.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from tinyc.frontend.tflite.ops import TFLITE_CELL_CLIP
from tinyc.ir import DType, Node, QuantParams, Value
from tinyc.ops.quant import const_quant_params

if TYPE_CHECKING:
    from tinyc.quant.lower import Lowering


def _dq_const(v: Value | None, dtype: DType) -> tuple[np.ndarray, QuantParams] | None:
    """(integers, parameters) of a DequantizeLinear of a `dtype` constant."""
    if v is None or v.producer is None or v.producer.op != "DequantizeLinear":
        return None
    dq = v.producer
    c = dq.inputs[0]
    params = const_quant_params(dq, 1, dq.attrs.get("axis", 1))
    if c is None or c.const is None or c.dtype is not dtype or params is None:
        return None
    return np.asarray(c.const), params


def _gate_weights(lw: Lowering, v: Value | None, hidden: int) -> Value | None:
    """int8 [4, hidden, K] with one symmetric scale per gate, from DQ(int8 [1, 4 hidden, K])."""
    from tinyc.quant.lower import int8_const

    found = _dq_const(v, DType.I8)
    if found is None:
        return None
    data, params = found
    scales = np.broadcast_to(np.asarray(params.scale, np.float64), (4 * hidden,))
    per_gate = scales.reshape(4, hidden)
    if any(params.zero_point) or data.shape[:2] != (1, 4 * hidden) \
            or not (per_gate == per_gate[:, :1]).all():
        return None
    q = QuantParams(tuple(float(s) for s in per_gate[:, 0]), (0,) * 4, 0)
    return int8_const(lw.graph, f"{v.name}_gates", data.reshape(4, hidden, -1), q)


def lower_tflite_lstm(lw: Lowering, node: Node) -> bool:
    """``Q(LSTM(DQ(x), DQ(W8), DQ(R8), DQ(B32), , DQ(h0), DQ(c0))) -> QLSTMTFLite(x, ...)``."""
    a = node.attrs
    hidden = a["hidden_size"]
    if a["direction"] != "forward" or a["clip"] or len(node.outputs) > 1 and any(
            o.uses for o in node.outputs[1:]) or node.input(4) is not None:
        return False
    x = lw.dq_source(node.inputs[0])
    sink = lw.q_sink(node.outputs[0])
    w = _gate_weights(lw, node.input(1), hidden)
    r = _gate_weights(lw, node.input(2), hidden)
    bias, h0, c0 = (_dq_const(node.input(3), DType.I32), _dq_const(node.input(5), DType.I8),
                    _dq_const(node.input(6), DType.I32))
    if x is None or sink is None or w is None or r is None or bias is None or h0 is None \
            or c0 is None or x.dtype is not DType.I8:
        return False
    h_params, c_params = h0[1], c0[1]
    zh = h_params.zero_point[0]
    power = math.log2(c_params.scale[0])
    if (h0[0] != zh).any() or c0[0].any() or bias[0][:, 4 * hidden:].any() \
            or power != round(power) or not -30 <= power <= 0:
        return False
    clip = float(a.get(TFLITE_CELL_CLIP, 0.0))
    # CreateLstmCellStateInfo: clip / scale in double, clamped to int16, truncated
    quantized_clip = int(min(max(float(np.float32(clip)) / c_params.scale[0], -32768.0), 32767.0))
    if clip and quantized_clip <= 0:
        return False
    b = lw.graph.add_const(lw.graph.unique_name(f"{node.name or 'lstm'}_bias_gates"),
                           bias[0][0, : 4 * hidden].reshape(4, hidden).astype(np.int32))
    attrs: dict[str, object] = {"hidden_size": hidden, "layout": a["layout"],
                                "cell_power": int(power), "h_scale": float(h_params.scale[0]),
                                "h_zero_point": int(zh), "cell_clip": quantized_clip}
    new = Node("QLSTMTFLite", [x, w, r, b], [], attrs, name=node.name)
    out, qs = sink
    return lw.finish(node, new, out, qs, [])
