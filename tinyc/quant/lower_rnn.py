"""QDQ lowering of the recurrent layers: ``Q(LSTM(DQ(x), W, R, B, ...)) -> QLSTM(x, ...)``
and the same for GRU (`tinyc/ops/qrnn.py` defines the integer ops).

A node is lowered when X is a DQ of an int8 per-tensor activation; W, R and B are float
constants; the activations are the defaults (LSTM Sigmoid, Tanh, Tanh; GRU Sigmoid, Tanh);
there is no clip, no peephole (or an all-zero one) and no input_forget (a GRU may have
either linear_before_reset); the initial states are absent, constant, or int8 activations
behind a DequantizeLinear (a stateful, streaming model's inputs); Y (and Y_h when read) go
only to QuantizeLinears of one int8 per-tensor parameter set, the hidden state's, and a
read Y_c to QuantizeLinears of its own. An LSTM also needs the calibrated bound of its cell
state (`Lowering.hints`, from `tinyc.quant.calibration`), which fixes the int16 cell format.
Anything else keeps the float op between its DQ and Q, and is reported as a float op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from tinyc.ir import DType, Graph, Node, QuantParams, TensorType, Value
from tinyc.ops.qrnn import cell_frac_for
from tinyc.quant import semantics
from tinyc.quant.lower_tflite_lstm import lower_tflite_lstm
from tinyc.quant.params import (
    QMAX,
    QMIN,
    quantize_array,
    quantize_bias,
    quantize_weights,
    same_params,
)

if TYPE_CHECKING:
    from tinyc.quant.lower import Lowering

#: float op -> its integer form
RECURRENT_OPS = {"LSTM": "QLSTM", "GRU": "QGRU"}
_DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


def cell_state_key(node: Node) -> str:
    """The calibration key of an LSTM's cell-state bound (not a value name: '#')."""
    return f"{node.outputs[0].name}#cell"


def _read(graph: Graph, v: Value) -> bool:
    """Whether anything reads `v`, looking through the QuantizeLinear -> DequantizeLinear
    pairs the static quantizer puts on every activation."""
    if any(o is v for o in graph.outputs):
        return True
    for user in v.users():
        if user.op not in ("QuantizeLinear", "DequantizeLinear") or _read(graph, user.outputs[0]):
            return True
    return False


def _supported(graph: Graph, node: Node) -> bool:
    a = node.attrs
    dirs = 2 if a["direction"] == "bidirectional" else 1
    if list(a["activations"]) != _DEFAULT_ACTIVATIONS[node.op] * dirs or a["clip"]:
        return False
    if node.op == "LSTM":
        peep = node.input(7)
        if a.get("input_forget") or (peep is not None and (peep.const is None or peep.const.any())):
            return False
    return all(v is None or (v.const is not None and v.dtype.is_float)
               for v in (node.input(1), node.input(2), node.input(3)))


def _block_weights(lw: Lowering, v: Value, blocks: int) -> Value:
    """[dirs, G*H, K] float -> int8 [dirs*G, H, K], one symmetric scale per block."""
    from tinyc.quant.lower import int8_const

    assert v.const is not None
    data = v.const.astype(np.float32)
    shape = (blocks, data.shape[1] * data.shape[0] // blocks, data.shape[2])
    q, params = quantize_weights(data.reshape(blocks, -1), 0)
    return int8_const(lw.graph, f"{v.name}_q", q.reshape(shape), params)


def lower_recurrent(lw: Lowering, node: Node) -> bool:
    """``Q(LSTM(DQ(x), W, R, B, lens, h0, c0)) -> QLSTM(x, Wq, Rq, Bq, lens, h0q, c0q)``
    (and GRU), see the module docstring"""
    from tinyc.quant.lower import _acc_fits, _adopt, _replace_value

    if lw.semantics == semantics.TFLITE:  # a .tflite import: TFLite Micro's integer LSTM
        return node.op == "LSTM" and lower_tflite_lstm(lw, node)
    graph = lw.graph
    x = lw.dq_source(node.inputs[0])
    if x is None or x.type.quant is None or not _supported(graph, node):
        return False
    bound = lw.hints.get(id(node)) if node.op == "LSTM" else 0.0
    if bound is None:
        return False
    y_sink = lw.q_sink(node.outputs[0])
    if y_sink is None:
        return False
    hq = y_sink[0].type.quant
    assert hq is not None
    sinks = [y_sink]
    read = [len(node.outputs) > i and _read(graph, node.outputs[i]) for i in (1, 2)]
    if read[0] or read[1]:  # Y_h (the hidden state's parameters), then Y_c (its own)
        h_sink = lw.q_sink(node.outputs[1]) if read[0] else (_spare(graph, node.outputs[1], hq), [])
        if h_sink is None or not same_params(h_sink[0].type.quant, hq):
            return False
        sinks.append(h_sink)
    if read[1]:
        c_sink = lw.q_sink(node.outputs[2])
        if c_sink is None:
            return False
        sinks.append(c_sink)
    h_ok, h0 = _run_time_state(lw, node.input(5), hq)
    c_ok, c0 = _run_time_state(lw, node.input(6), None) if node.op == "LSTM" else (True, None)
    if not (h_ok and c_ok):
        return False
    a = node.attrs
    dirs = 2 if a["direction"] == "bidirectional" else 1
    gates, hidden = (4 if node.op == "LSTM" else 3), a["hidden_size"]
    w_in, r_in = node.inputs[1], node.inputs[2]
    assert w_in is not None and r_in is not None
    w = _block_weights(lw, w_in, dirs * gates)
    r = _block_weights(lw, r_in, dirs * gates)
    assert w.type.quant is not None and r.type.quant is not None
    sx, sh, zh = x.type.quant.scale[0], hq.scale[0], hq.zero_point[0]
    sw = np.asarray(w.type.quant.scale, np.float64).reshape(dirs, gates, 1)
    sr = np.asarray(r.type.quant.scale, np.float64).reshape(dirs, gates, 1)
    b_in = node.input(3)
    real = (np.zeros((dirs, 2, gates, hidden)) if b_in is None or b_in.const is None
            else b_in.const.astype(np.float64).reshape(dirs, 2, gates, hidden))
    if node.op == "LSTM":
        scales = np.broadcast_to(sx * sw, (dirs, gates, hidden))
        bias = quantize_bias(real[:, 0] + real[:, 1], scales.reshape(-1)).reshape(dirs, 4, hidden)
    else:  # z and r: both biases; h: the input bias, then the recurrent one with R h
        first = real[:, 0].copy()
        first[:, :2] += real[:, 1, :2]
        scales = np.concatenate([np.broadcast_to(sx * sw, (dirs, 3, hidden)),
                                 np.broadcast_to(sh * sr[:, 2:], (dirs, 1, hidden))], axis=1)
        values = np.concatenate([first, real[:, 1, 2:]], axis=1)
        bias = quantize_bias(values.reshape(-1), scales.reshape(-1)).reshape(dirs, 4, hidden)
    assert w.const is not None and r.const is not None
    rows = dirs * gates * hidden
    b_rec = np.zeros((dirs, gates, hidden), np.int32)
    if node.op == "GRU":
        b_rec[:, 2] = bias[:, 3]
    if not (_acc_fits(w.const.reshape(rows, -1), _flat(bias[:, :gates]))
            and _acc_fits(r.const.reshape(rows, -1), _flat(b_rec))):
        return False
    b = graph.add_const(graph.unique_name(f"{node.name or node.op}_bias_q"), bias.astype(np.int32))
    if h0 is None:
        h0 = _state(lw, node.input(5), lambda d: quantize_array(d, sh, zh, QMIN, QMAX),
                    DType.I8, hq)
    ins: list[Value | None] = [x, w, r, b, node.input(4), h0]
    attrs: dict[str, object] = {"direction": a["direction"], "hidden_size": hidden,
                                "layout": a["layout"]}
    if node.op == "GRU":
        attrs["linear_before_reset"] = int(a["linear_before_reset"])
    if node.op == "LSTM":
        cf = cell_frac_for(float(bound))
        attrs["cell_frac"] = cf
        if c0 is None:
            c0 = _state(lw, node.input(6),
                        lambda d: np.clip(np.rint(d * 2.0**cf), -32768, 32767), DType.I16, None)
        ins.append(c0)
    new = Node(RECURRENT_OPS[node.op], ins, [], attrs, name=node.name)
    _adopt(new, [s[0] for s in sinks])
    graph.insert_before(node, new)
    for out, qs in sinks:
        for q in qs:
            if q.outputs[0] is not out:
                _replace_value(graph, q.outputs[0], out)
            lw._drop(q)
    lw._drop(node)
    return True


def _spare(graph: Graph, v: Value, params: QuantParams) -> Value:
    """An int8 value for an output nothing reads (Y_h when only Y_c is read)."""
    return Value(graph.unique_name(f"{v.name}_q"), TensorType(DType.I8, v.shape, params))


def _run_time_state(lw: Lowering, v: Value | None,
                    params: QuantParams | None) -> tuple[bool, Value | None]:
    """(ok, int8 value) for a state input computed at run time: the activation behind its
    DequantizeLinear, requantized to `params` when given and different (the initial hidden
    state must have the hidden state's parameters). (True, None) for a constant or absent
    state (quantized by the caller), (False, None) when there is no int8 form."""
    from tinyc.ops.qinteger import no_clamp
    from tinyc.quant.lower import _adopt, int8_value

    if v is None or v.const is not None:
        return True, None
    src = lw.dq_source(v)
    if src is None or src.type.quant is None:
        return False, None
    if params is None or same_params(src.type.quant, params):
        return True, src
    out = int8_value(lw.graph, f"{src.name}_requantized", src.shape, params)
    requantize = Node("QRequantize", [src], [], no_clamp(DType.I8), name=f"{out.name}")
    _adopt(requantize, [out])
    lw.graph.insert_before(v.users()[0], requantize)
    return True, out


def _flat(bias: np.ndarray) -> Value:
    """A throwaway constant view of a bias, for the accumulator bound check."""
    return Value("bias_check", TensorType(DType.I32, (bias.size,)), const=bias.reshape(-1))


def _state(lw: Lowering, v: Value | None, quantize: Callable[[np.ndarray], np.ndarray],
           dtype: DType, params: QuantParams | None) -> Value | None:
    """An initial state constant, quantized (None stays None)."""
    if v is None:
        return None
    assert v.const is not None
    c = lw.graph.add_const(lw.graph.unique_name(f"{v.name}_q"),
                           np.asarray(quantize(v.const.astype(np.float32))).astype(dtype.np))
    c.type = TensorType(dtype, c.shape, params)
    return c
