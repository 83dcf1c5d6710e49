"""Recurrent layers: RNN, GRU, LSTM (forward, reverse, bidirectional; both layouts;
sequence lengths; initial states; peepholes; clip; the ONNX activation functions).

Every input may be run-time data (the node tests feed the weights as graph inputs). The IR
always has output Y (the frontend names an unused one), because the kernel keeps the
hidden state in it; Y_h and Y_c are there when the model asks for them.

Gate order follows ONNX: GRU z, r, h; LSTM i, o, f, c; peepholes i, o, f.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.registry import Attr, OpDef, input_type, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

#: activation name -> (C kind, default alpha, default beta)
ACTIVATIONS = {
    "Sigmoid": (0, 0.0, 0.0), "Tanh": (1, 0.0, 0.0), "Relu": (2, 0.0, 0.0),
    "HardSigmoid": (3, 0.2, 0.5), "LeakyRelu": (4, 0.01, 0.0), "ThresholdedRelu": (5, 1.0, 0.0),
    "ScaledTanh": (6, 1.0, 1.0), "Affine": (7, 1.0, 0.0), "Elu": (8, 1.0, 0.0),
    "Softsign": (9, 0.0, 0.0), "Softplus": (10, 0.0, 0.0),
}
DIRECTIONS = {"forward": 0, "reverse": 1, "bidirectional": 2}


def activate(v: np.ndarray, name: str, alpha: float, beta: float) -> np.ndarray:
    """numpy semantics of the ONNX RNN activation functions."""
    with np.errstate(over="ignore"):
        if name == "Sigmoid":
            return 1.0 / (1.0 + np.exp(-v))
        if name == "Tanh":
            return np.tanh(v)
        if name == "Relu":
            return np.maximum(v, 0.0)
        if name == "HardSigmoid":
            return np.clip(alpha * v + beta, 0.0, 1.0)
        if name == "LeakyRelu":
            return np.where(v < 0, alpha * v, v)
        if name == "ThresholdedRelu":
            return np.where(v > alpha, v, 0.0)
        if name == "ScaledTanh":
            return alpha * np.tanh(beta * v)
        if name == "Affine":
            return alpha * v + beta
        if name == "Elu":
            return np.where(v < 0, alpha * (np.exp(v) - 1.0), v)
        if name == "Softsign":
            return v / (1.0 + np.abs(v))
        return np.log1p(np.exp(v))


class _Recurrent(OpDef):
    cell: ClassVar[int] = 0
    gates: ClassVar[int] = 1
    defaults: ClassVar[list[str]] = []
    attrs = {
        "activation_alpha": Attr("floats", []),
        "activation_beta": Attr("floats", []),
        "activations": Attr("strings", []),
        "clip": Attr("float", 0.0),
        "direction": Attr("string", "forward"),
        "hidden_size": Attr("int", 0),
        "layout": Attr("int", 0),
    }

    def normalize(self, node: Node, opset: int) -> None:
        a = node.attrs
        if a["direction"] not in DIRECTIONS:
            raise ModelError(f"{node.op} node '{node.name}': direction {a['direction']}")
        dirs = 2 if a["direction"] == "bidirectional" else 1
        names = list(a.get("activations") or self.defaults * dirs)
        if len(names) != len(self.defaults) * dirs:
            raise ModelError(f"{node.op} node '{node.name}': {len(names)} activations")
        alphas, betas = list(a.get("activation_alpha") or []), list(a.get("activation_beta") or [])
        acts = []
        for i, name in enumerate(names):
            if name not in ACTIVATIONS:
                raise UnsupportedError(f"{node.op} node '{node.name}': activation {name}")
            _, da, db = ACTIVATIONS[name]
            acts.append([name, alphas[i] if i < len(alphas) else da,
                         betas[i] if i < len(betas) else db])
        a["activations"] = [x[0] for x in acts]
        a["activation_alpha"] = [float(x[1]) for x in acts]
        a["activation_beta"] = [float(x[2]) for x in acts]
        if not a["hidden_size"]:
            a["hidden_size"] = input_type(node, 2).shape[-1]
        a["clip"] = float(a.get("clip") or 0.0)

    def dims(self, node: Node) -> tuple[int, int, int, int, int]:
        """(seq, batch, input, hidden, dirs), checking every operand's shape."""
        a = node.attrs
        x = input_type(node, 0)
        if x.rank != 3:
            raise ModelError(f"{node.op} node '{node.name}': X must be 3-D")
        seq, batch = (x.shape[1], x.shape[0]) if a["layout"] else x.shape[:2]
        size, hidden = x.shape[2], a["hidden_size"]
        dirs = 2 if a["direction"] == "bidirectional" else 1
        g = self.gates
        expect = {1: (dirs, g * hidden, size), 2: (dirs, g * hidden, hidden),
                  3: (dirs, 2 * g * hidden), 4: (batch,), 7: (dirs, 3 * hidden)}
        state = (batch, dirs, hidden) if a["layout"] else (dirs, batch, hidden)
        expect.update({5: state, 6: state})
        for i, shape in expect.items():
            v = node.input(i)
            if v is None or i >= self.n_inputs():
                continue
            if v.shape != shape:
                raise ModelError(f"{node.op} node '{node.name}': input {i} is {list(v.shape)}, "
                                 f"expected {list(shape)}")
            want = DType.I32 if i == 4 else x.dtype
            # W, R and B may be halves under a float32 X (--quantize float16)
            half = i in (1, 2, 3) and x.dtype is DType.F32 and v.dtype is DType.F16
            if v.dtype is not want and not half:
                raise ModelError(f"{node.op} node '{node.name}': input {i} must be "
                                 f"{want.value}")
        return seq, batch, size, hidden, dirs

    def n_inputs(self) -> int:
        return 6

    def infer(self, node: Node) -> list[TensorType]:
        seq, batch, _, hidden, dirs = self.dims(node)
        dtype = input_type(node, 0).dtype
        layout = node.attrs["layout"]
        y = (batch, seq, dirs, hidden) if layout else (seq, dirs, batch, hidden)
        state = (batch, dirs, hidden) if layout else (dirs, batch, hidden)
        n_state = 2 if self.cell == 2 else 1
        return [TensorType(dtype, y)] + [TensorType(dtype, state)] * n_state

    # -- numpy semantics ------------------------------------------------------------------
    def step(self, node: Node, d: int, x: np.ndarray, h: np.ndarray, c: np.ndarray,
             w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def act(self, node: Node, d: int, which: int, v: np.ndarray) -> np.ndarray:
        a = node.attrs
        k = d * len(self.defaults) + which
        return activate(v, a["activations"][k], a["activation_alpha"][k],
                        a["activation_beta"][k])

    def clip(self, node: Node, v: np.ndarray) -> np.ndarray:
        c = node.attrs["clip"]
        return np.clip(v, -c, c) if c else v

    def macs(self, node: Node) -> int:
        """The gate matrix products of every step (sequence lengths are run-time data, so
        all `seq` steps count)."""
        seq, batch, size, hidden, dirs = self.dims(node)
        return dirs * seq * batch * self.gates * hidden * (size + hidden)

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        return self.run(node, inputs, None)

    def run(self, node: Node, inputs: list[np.ndarray | None],
            seen: list[float] | None) -> list[np.ndarray]:
        """The float recurrence; with `seen`, appends each LSTM step's max |cell state|
        (what int8 quantization calibrates the int16 cell state from)."""
        a = node.attrs
        seq, batch, _, hidden, dirs = self.dims(node)
        padded = list(inputs) + [None] * (8 - len(inputs))
        x, wt, rt, bias, lens, h0, c0, peep = padded[:8]
        assert x is not None and wt is not None and rt is not None
        g = self.gates
        if a["layout"]:
            x = x.transpose(1, 0, 2)
            h0 = None if h0 is None else h0.transpose(1, 0, 2)
            c0 = None if c0 is None else c0.transpose(1, 0, 2)
        lens_v = np.full(batch, seq) if lens is None else lens.astype(np.int64)
        if ((lens_v < 0) | (lens_v > seq)).any():
            raise ModelError(f"{node.op} node '{node.name}': sequence length out of range")
        y = np.zeros((seq, dirs, batch, hidden))
        y_h = np.zeros((dirs, batch, hidden))
        y_c = np.zeros((dirs, batch, hidden))
        for d in range(dirs):
            b_all = np.zeros(2 * g * hidden) if bias is None else bias[d].astype(np.float64)
            w = {"W": wt[d].astype(np.float64), "R": rt[d].astype(np.float64),
                 "Wb": b_all[: g * hidden], "Rb": b_all[g * hidden :],
                 "P": np.zeros(3 * hidden) if peep is None else peep[d].astype(np.float64)}
            h = np.zeros((batch, hidden)) if h0 is None else h0[d].astype(np.float64)
            c = np.zeros((batch, hidden)) if c0 is None else c0[d].astype(np.float64)
            y_h[d], y_c[d] = h, c
            reverse = a["direction"] == "reverse" or d == 1
            for b in range(batch):
                n = int(lens_v[b])
                steps = range(n - 1, -1, -1) if reverse else range(n)
                hb, cb = h[b : b + 1], c[b : b + 1]
                for t in steps:
                    hb, cb = self.step(node, d, x[t, b : b + 1].astype(np.float64), hb, cb, w)
                    if seen is not None and self.cell == 2:
                        seen.append(float(np.abs(cb).max(initial=0.0)))
                    y[t, d, b] = hb[0]
                y_h[d, b], y_c[d, b] = hb[0], cb[0]
        dtype = x.dtype
        if a["layout"]:
            outs = [y.transpose(2, 0, 1, 3), y_h.transpose(1, 0, 2), y_c.transpose(1, 0, 2)]
        else:
            outs = [y, y_h, y_c]
        return [o.astype(dtype) for o in outs[: len(self.infer(node))]]

    # -- C ------------------------------------------------------------------------------
    def emit(self, node: Node, ctx: EmitContext) -> None:
        a = node.attrs
        seq, batch, size, hidden, dirs = self.dims(node)
        x = node.inputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op {node.op} (node '{node.name}') on {x.dtype.value}")
        kinds = [ACTIVATIONS[n][0] for n in a["activations"]] + [0] * 6
        alphas = list(a["activation_alpha"]) + [0.0] * 6
        betas = list(a["activation_beta"]) + [0.0] * 6

        def floats(v: list[float]) -> str:
            return "{" + ", ".join(c_scalar(f, DType.F32) for f in v[:6]) + "}"

        fields = [self.cell, seq, batch, size, hidden, DIRECTIONS[a["direction"]], a["layout"],
                  int(bool(a["clip"])), c_scalar(a["clip"], DType.F32),
                  int(a.get("input_forget", 0)), int(a.get("linear_before_reset", 0)),
                  "{" + ", ".join(str(k) for k in kinds[:6]) + "}", floats(alphas),
                  floats(betas)]
        params = ctx.params("tinyc_rnn_params", "{" + ", ".join(str(f) for f in fields) + "}",
                            f"rnn_{node.outputs[0].name}")
        ins = []
        for i in range(8):
            v = node.input(i) if i < self.n_inputs() else None
            ins.append(ctx.ptr(v) if v is not None else "NULL")
        outs = [ctx.ptr(v) for v in node.outputs] + ["NULL", "NULL"]
        if not node.outputs[0].type.numel and not any(o.type.numel for o in node.outputs[1:]):
            return
        w, r, b = node.inputs[1], node.inputs[2], node.input(3)
        assert w is not None and r is not None
        if w.dtype is not r.dtype or w.dtype not in (DType.F32, DType.F16) or (
                b is not None and b.dtype is not w.dtype):
            raise UnsupportedError(f"op {node.op} (node '{node.name}'): W {w.dtype.value}, "
                                   f"R {r.dtype.value}, B {b.dtype.value if b else 'none'}")
        fn = "tinyc_rnn_f32_f16w" if w.dtype is DType.F16 else "tinyc_rnn_f32"  # float16
        ctx.checked_call("rnn", fn, *ins, outs[0], outs[1], outs[2],
                         ctx.workspace(node, DType.F32), params)

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """GRU with linear_before_reset = 0 keeps r * h_prev, one float per hidden unit."""
        if self.cell != 1 or node.attrs.get("linear_before_reset"):
            return 0
        return 4 * self.dims(node)[3]


@register_op
class RNN(_Recurrent):
    name, cell, gates = "RNN", 0, 1
    min_opset = 7
    defaults = ["Tanh"]

    def step(self, node: Node, d: int, x: np.ndarray, h: np.ndarray, c: np.ndarray,
             w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        pre = x @ w["W"].T + h @ w["R"].T + w["Wb"] + w["Rb"]
        return self.act(node, d, 0, self.clip(node, pre)), c


@register_op
class GRU(_Recurrent):
    name, cell, gates = "GRU", 1, 3
    min_opset = 7
    defaults = ["Sigmoid", "Tanh"]
    attrs = {**_Recurrent.attrs, "linear_before_reset": Attr("int", 0)}

    def step(self, node: Node, d: int, x: np.ndarray, h: np.ndarray, c: np.ndarray,
             w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        n = node.attrs["hidden_size"]
        wz, wr, wh = np.split(w["W"], 3)
        rz, rr, rh = np.split(w["R"], 3)
        bz, br, bh = np.split(w["Wb"], 3)
        cz, cr, ch = np.split(w["Rb"], 3)
        z = self.act(node, d, 0, self.clip(node, x @ wz.T + h @ rz.T + bz + cz))
        r = self.act(node, d, 0, self.clip(node, x @ wr.T + h @ rr.T + br + cr))
        if node.attrs["linear_before_reset"]:
            pre = x @ wh.T + r * (h @ rh.T + ch) + bh
        else:
            pre = x @ wh.T + (r * h) @ rh.T + ch + bh
        hn = self.act(node, d, 1, self.clip(node, pre))
        assert hn.shape[-1] == n
        return (1.0 - z) * hn + z * h, c


@register_op
class LSTM(_Recurrent):
    name, cell, gates = "LSTM", 2, 4
    min_opset = 7
    defaults = ["Sigmoid", "Tanh", "Tanh"]
    attrs = {**_Recurrent.attrs, "input_forget": Attr("int", 0)}

    def n_inputs(self) -> int:
        return 8

    def step(self, node: Node, d: int, x: np.ndarray, h: np.ndarray, c: np.ndarray,
             w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        pre = x @ w["W"].T + h @ w["R"].T + w["Wb"] + w["Rb"]
        i, o, f, g = np.split(pre, 4, axis=-1)
        pi, po, pf = np.split(w["P"], 3)
        i = self.act(node, d, 0, self.clip(node, i + pi * c))
        if node.attrs["input_forget"]:
            f = 1.0 - i
        else:
            f = self.act(node, d, 0, self.clip(node, f + pf * c))
        g = self.act(node, d, 1, self.clip(node, g))
        cn = f * c + i * g
        o = self.act(node, d, 0, self.clip(node, o + po * cn))
        return o * self.act(node, d, 2, cn), cn
