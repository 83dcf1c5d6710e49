"""onnxruntime's dynamic quantization, recognised and mapped to tinyc's hybrid kernels.

`onnxruntime.quantization.quantize_dynamic` writes, for each Conv / MatMul:

    xq, xs, xz = DynamicQuantizeLinear(x)
    s  = Mul(xs, w_scale)                      (possibly reshaped per channel)
    y  = Add(Mul(Cast(ConvInteger(xq, Wq, xz, wz)), s), bias)     (MatMulInteger alike)

which is exactly `QDynConv(xq, xs, xz, Wq, bias)` (`QDynGemm` for MatMulInteger): an integer
accumulation and a float epilogue acc * (xs * w_scale[c]) + bias[c]. A following Relu/Clip
with no other user is folded into the kernel's activation.
"""

from __future__ import annotations

import numpy as np

from tinyc.ir import DType, Graph, Node, QuantParams, Value
from tinyc.quant.lower import _adopt, int8_const


def _single_user(v: Value, graph: Graph, op: str) -> Node | None:
    users = v.users()
    if len(users) != 1 or users[0].op != op or any(o is v for o in graph.outputs):
        return None
    return users[0]


def _weight_scales(s: Value, xs: Value) -> np.ndarray | None:
    """w_scale from s = Mul(xs, w_scale) (through Reshapes); None when s is anything else."""
    v = s
    while v.producer is not None and v.producer.op == "Reshape":
        v = v.producer.inputs[0]  # type: ignore[assignment]
    mul = v.producer
    if mul is None or mul.op != "Mul" or xs not in mul.inputs:
        return None
    other = mul.inputs[1] if mul.inputs[0] is xs else mul.inputs[0]
    if other is None or other.const is None:
        return None
    return other.const.astype(np.float32).reshape(-1)


def fuse_dynamic(graph: Graph, node: Node) -> bool:
    """Rewrite one ConvInteger / MatMulInteger of the dynamic pattern; False if it differs."""
    conv = node.op == "ConvInteger"
    xq, w = node.inputs[0], node.inputs[1]
    d = xq.producer if xq is not None else None
    if d is None or d.op != "DynamicQuantizeLinear" or xq is not d.outputs[0]:
        return False
    xs, xz = d.outputs[1], d.outputs[2]
    if node.input(2) is not xz or w is None or w.const is None:
        return False
    if w.dtype not in (DType.I8, DType.U8):
        return False
    wz = node.input(3)
    if wz is not None and wz.const is None:
        return False
    cast = _single_user(node.outputs[0], graph, "Cast")
    if cast is None or cast.attrs.get("to") != DType.F32.value:
        return False
    mul = _single_user(cast.outputs[0], graph, "Mul")
    if mul is None:
        return False
    s = mul.inputs[1] if mul.inputs[0] is cast.outputs[0] else mul.inputs[0]
    n = w.shape[0] if conv else w.shape[1]
    ws = _weight_scales(s, xs) if s is not None else None
    if ws is None or ws.size not in (1, n):
        return False
    dropped = [node, cast, mul]
    y = mul.outputs[0]
    bias = None
    add = _single_user(y, graph, "Add")
    if add is not None:
        b = add.inputs[1] if add.inputs[0] is y else add.inputs[0]
        if b is not None and b.const is not None and b.type.numel in (1, n):
            data = np.broadcast_to(b.const.astype(np.float32).reshape(-1), (n,))
            bias = graph.add_const(graph.unique_name(f"{b.name}_f32"), np.ascontiguousarray(data))
            dropped.append(add)
            y = add.outputs[0]
    activation, params = "", []
    act = _single_user(y, graph, "Relu") or _single_user(y, graph, "Clip")
    if act is not None:
        activation = act.op
        if act.op == "Clip":
            params = [float(act.attrs["min"]), float(act.attrs["max"])]
        dropped.append(act)
        y = act.outputs[0]
    # int8 symmetric weights in kernel layout (output channel first)
    ints = w.const.astype(np.int64)
    if wz is not None:
        zps = wz.const.astype(np.int64).reshape(-1)
        shape = (-1,) + (1,) * (ints.ndim - 1) if conv else (1, -1)
        ints = ints - (zps.reshape(shape) if zps.size > 1 else zps[0])
    ints = ints if conv else ints.T
    if ints.min(initial=0) < -128 or ints.max(initial=0) > 127:
        return False
    scales = tuple(float(x) for x in np.broadcast_to(ws, (n,)))
    wc = int8_const(graph, f"{w.name}_w", ints, QuantParams(scales, (0,) * n, 0))
    if conv:
        keys = ("dilations", "group", "kernel_shape", "pads", "strides")
        attrs: dict[str, object] = {k: node.attrs[k] for k in keys}
        op = "QDynConv"
    else:
        attrs, op = {}, "QDynGemm"
    attrs.update(activation=activation, activation_params=params)
    new = Node(op, [xq, xs, xz, wc, bias], [], attrs, name=node.name)
    _adopt(new, [y])
    graph.insert_before(node, new)
    for dead in dropped:
        dead.drop_inputs()
    ids = {id(n) for n in dropped}
    graph.nodes = [n for n in graph.nodes if id(n) not in ids]
    return True
