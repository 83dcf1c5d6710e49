"""Attention (ONNX opsets 23-25): scaled dot-product attention with grouped-query heads,
a key/value cache, float or boolean masks, causal and sliding-window masks, per-batch valid
key lengths (nonpad_kv_seqlen), softcap and the optional qk_matmul_output.

Semantics follow the ONNX specification: per (batch, head, query) row, scores
s_j = q . k_j * scale, softcapped, plus a bias that is the mask (-inf where a boolean mask
is false or beyond its length), -inf past the causal frontier (key j is visible from query
i when j <= i + offset, offset being the cached keys or nonpad - q_len) or outside the
window, and -inf beyond the valid keys; a softmax over j; then the weighted sum of values.
A row whose bias is -inf everywhere gives zeros. The C kernel computes the same with an
online softmax (tinyc_attention.h): float32 needs no scratch memory, float16 accumulates
one query's output in v_head floats of the node's workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tinyc.backend.cliterals import c_scalar
from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.layout import broadcast_strides
from tinyc.ops.registry import Attr, OpDef, input_type, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


@dataclass(frozen=True)
class Geometry:
    batch: int
    q_heads: int
    kv_heads: int
    q_len: int
    kv_len: int
    past_len: int
    head: int
    v_head: int
    q_3d: bool
    kv_3d: bool

    @property
    def keys(self) -> int:
        return self.past_len + self.kv_len


def geometry(node: Node) -> Geometry:
    """Sizes of an Attention node, checking every operand's shape."""
    q, k, v = (input_type(node, i) for i in range(3))
    a = node.attrs
    where = f"Attention node '{node.name}'"
    if q.rank not in (3, 4) or k.rank not in (3, 4) or v.rank not in (3, 4):
        raise ModelError(f"{where}: Q, K, V must be 3-D or 4-D")
    if q.rank == 4:
        b, hq, sq, d = q.shape
    else:
        hq = a["q_num_heads"]
        if not hq or q.shape[2] % hq:
            raise ModelError(f"{where}: 3-D Q needs q_num_heads dividing {q.shape[2]}")
        b, sq, d = q.shape[0], q.shape[1], q.shape[2] // hq
    if k.rank == 4:
        hkv, skv, dk = k.shape[1:]
        dv = v.shape[3]
    else:
        hkv = a["kv_num_heads"]
        if not hkv or k.shape[2] % hkv or v.shape[2] % hkv:
            raise ModelError(f"{where}: 3-D K/V need kv_num_heads")
        skv, dk, dv = k.shape[1], k.shape[2] // hkv, v.shape[2] // hkv
    if dk != d or hq % hkv or k.shape[0] != b or v.shape[0] != b:
        raise ModelError(f"{where}: Q {list(q.shape)}, K {list(k.shape)}, V {list(v.shape)}")
    past = node.input(4)
    p = past.shape[2] if past is not None else 0
    if past is not None and (past.shape != (b, hkv, p, d) or node.input(5) is None):
        raise ModelError(f"{where}: past_key {list(past.shape)}")
    return Geometry(b, hq, hkv, sq, skv, p, d, dv, q.rank == 3, k.rank == 3)


def _heads(x: np.ndarray, heads: int, is_3d: bool) -> np.ndarray:
    """[batch, heads, seq, size] view of a 3-D [batch, seq, heads * size] operand."""
    if not is_3d:
        return x
    b, s, hs = x.shape
    return x.reshape(b, s, heads, hs // heads).transpose(0, 2, 1, 3)


def attention_bias(node: Node, g: Geometry, mask: np.ndarray | None,
                   nonpad: np.ndarray | None) -> np.ndarray:
    """[batch, q_heads, q_len, keys] additive bias (0, mask values, -inf)."""
    a = node.attrs
    t = g.keys
    bias = np.zeros((g.batch, g.q_heads, g.q_len, t), np.float64)
    if mask is not None:
        m = mask
        if m.dtype == np.bool_:
            m = np.where(m, 0.0, -np.inf)
        m = m.astype(np.float64)
        pad = t - m.shape[-1]
        if pad > 0:
            m = np.pad(m, [(0, 0)] * (m.ndim - 1) + [(0, pad)], constant_values=-np.inf)
        bias = bias + m
    i = np.arange(g.q_len).reshape(-1, 1)
    j = np.arange(t).reshape(1, -1)
    if g.past_len:
        offset = np.full((g.batch, 1, 1, 1), g.past_len)
    elif nonpad is not None:
        offset = (nonpad.astype(np.int64) - g.q_len).reshape(-1, 1, 1, 1)
    else:
        offset = np.zeros((g.batch, 1, 1, 1), np.int64)
    diff = i + offset - j
    allowed = np.ones(diff.shape, bool)
    if a["is_causal"]:
        allowed &= diff >= 0
    if a["left_window_size"] >= 0:
        allowed &= diff <= a["left_window_size"]
    if a["right_window_size"] >= 0:
        allowed &= -diff <= a["right_window_size"]
    if nonpad is not None:
        allowed &= j < nonpad.reshape(-1, 1, 1, 1)
    return np.where(allowed, bias, -np.inf)


@register_op
class Attention(OpDef):
    """IR form: `scale` resolved (1/sqrt(head size) by default); outputs Y, present_key,
    present_value, qk_matmul_output (trailing ones when the model asks for them)."""

    name = "Attention"
    attrs = {
        "is_causal": Attr("int", 0),
        "kv_num_heads": Attr("int", 0),
        "q_num_heads": Attr("int", 0),
        "qk_matmul_output_mode": Attr("int", 0),
        "scale": Attr("float", 0.0),
        "softcap": Attr("float", 0.0),
        "softmax_precision": Attr("int", 0),
        "left_window_size": Attr("int", -1),
        "right_window_size": Attr("int", -1),
    }

    def normalize(self, node: Node, opset: int) -> None:
        a = node.attrs
        a.pop("softmax_precision", None)  # the softmax runs in float32 either way
        g = geometry(node)
        if not a["scale"]:
            a["scale"] = float(np.float32(1.0 / np.sqrt(g.head)))
        if a["qk_matmul_output_mode"] not in (0, 1, 2, 3):
            raise ModelError(f"Attention node '{node.name}': qk_matmul_output_mode")
        if node.input(6) is not None and node.input(4) is not None:
            raise ModelError(f"Attention node '{node.name}': nonpad_kv_seqlen with a past cache")

    def infer(self, node: Node) -> list[TensorType]:
        g = geometry(node)
        q = input_type(node, 0)
        mask, nonpad = node.input(3), node.input(6)
        if mask is not None and (mask.type.rank > 4 or mask.shape[-1] > g.keys):
            raise ModelError(f"Attention node '{node.name}': mask {list(mask.shape)}")
        if nonpad is not None and (nonpad.dtype is not DType.I64 or nonpad.shape != (g.batch,)):
            raise ModelError(f"Attention node '{node.name}': nonpad_kv_seqlen must be "
                             f"int64[{g.batch}]")
        if g.q_3d:
            y = (g.batch, g.q_len, g.q_heads * g.v_head)
        else:
            y = (g.batch, g.q_heads, g.q_len, g.v_head)
        dt = q.dtype
        return [TensorType(dt, y), TensorType(dt, (g.batch, g.kv_heads, g.keys, g.head)),
                TensorType(dt, (g.batch, g.kv_heads, g.keys, g.v_head)),
                TensorType(dt, (g.batch, g.q_heads, g.q_len, g.keys))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        a = node.attrs
        g = geometry(node)
        padded = list(inputs) + [None] * (7 - len(inputs))
        q, k, v, mask, past_k, past_v, nonpad = padded[:7]
        assert q is not None and k is not None and v is not None
        if nonpad is not None and ((nonpad < 0) | (nonpad > g.keys)).any():
            raise ModelError(f"Attention node '{node.name}': nonpad_kv_seqlen out of range")
        qh = _heads(q, g.q_heads, g.q_3d).astype(np.float64)
        kh = _heads(k, g.kv_heads, g.kv_3d)
        vh = _heads(v, g.kv_heads, g.kv_3d)
        if past_k is not None and past_v is not None:
            kh = np.concatenate([past_k, kh], axis=2)
            vh = np.concatenate([past_v, vh], axis=2)
        reps = g.q_heads // g.kv_heads
        kr = np.repeat(kh.astype(np.float64), reps, axis=1)
        vr = np.repeat(vh.astype(np.float64), reps, axis=1)
        scores = qh @ kr.transpose(0, 1, 3, 2) * a["scale"]
        if a["softcap"] > 0:
            scores = a["softcap"] * np.tanh(scores / a["softcap"])
        bias = attention_bias(node, g, mask, nonpad)
        masked = np.isneginf(bias)
        with np.errstate(invalid="ignore", over="ignore"):
            total = np.where(masked, -np.inf, scores + bias)
            top = total.max(axis=-1, keepdims=True)
            empty = masked.all(axis=-1, keepdims=True)
            e = np.where(masked, 0.0, np.exp(total - np.where(empty, 0.0, top)))
            s = e.sum(axis=-1, keepdims=True)
            prob = np.where(empty, 0.0, e / np.where(s == 0, 1.0, s))
        y = prob @ vr
        if g.q_3d:
            y = y.transpose(0, 2, 1, 3).reshape(g.batch, g.q_len, -1)
        mode = a["qk_matmul_output_mode"]
        qk = {0: scores, 1: scores, 2: scores + bias, 3: prob}[mode]
        dt = q.dtype
        return [y.astype(dt), kh.astype(dt), vh.astype(dt), qk.astype(dt)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        a = node.attrs
        g = geometry(node)
        q = node.inputs[0]
        assert q is not None
        if q.dtype not in (DType.F32, DType.F16):
            raise UnsupportedError(f"op Attention (node '{node.name}') on {q.dtype.value}")
        mask = node.input(3)
        kind, strides, mask_len = "TINYC_MASK_NONE", [0, 0, 0, 0], 0
        if mask is not None:
            if mask.dtype not in (q.dtype, DType.BOOL):
                raise UnsupportedError(f"Attention node '{node.name}': {mask.dtype.value} mask")
            kind = "TINYC_MASK_BOOL" if mask.dtype is DType.BOOL else "TINYC_MASK_FLOAT"
            mask_len = mask.shape[-1]
            full = (g.batch, g.q_heads, g.q_len, mask_len)
            strides = broadcast_strides(mask.shape, full)
        fields = [g.batch, g.q_heads, g.kv_heads, g.q_len, g.kv_len, g.past_len, g.head,
                  g.v_head, int(g.q_3d), int(g.kv_3d), c_scalar(a["scale"], DType.F32),
                  c_scalar(a["softcap"], DType.F32), a["is_causal"], a["left_window_size"],
                  a["right_window_size"], kind, mask_len,
                  "{" + ", ".join(str(s) for s in strides) + "}", a["qk_matmul_output_mode"]]
        params = ctx.params("tinyc_attention_params", "{" + ", ".join(map(str, fields)) + "}",
                            f"attention_{node.outputs[0].name}")
        ins = [ctx.ptr(v) if v is not None else "NULL" for v in (node.input(i) for i in range(7))]
        outs = [ctx.ptr(v) for v in node.outputs] + ["NULL"] * 3
        ctx.uses_math = True
        ctx.checked_call("attention", f"tinyc_attention_{q.dtype.value}", *ins, *outs[:4],
                         ctx.workspace(node, DType.F32), params)

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """float16: one query's output accumulated in float before it is rounded."""
        q = node.inputs[0]
        assert q is not None
        return 4 * geometry(node).v_head if q.dtype is DType.F16 else 0


@register_op
class RotaryEmbedding(OpDef):
    """Rotary position embedding (opset 23): each head vector's first `rotary_embedding_dim`
    elements rotate in pairs (halves, or neighbours when interleaved) by per-position
    angles given as cosine/sine caches, indexed by position_ids when present."""

    name = "RotaryEmbedding"
    min_opset = 23
    attrs = {"interleaved": Attr("int", 0), "num_heads": Attr("int", 0),
             "rotary_embedding_dim": Attr("int", 0)}

    def dims(self, node: Node) -> tuple[int, int, int, int, int]:
        """(batch, heads, seq, head size, rotated size)."""
        x = input_type(node, 0)
        a = node.attrs
        if x.rank == 4:
            b, h, s, d = x.shape
        elif x.rank == 3 and a["num_heads"] and x.shape[2] % a["num_heads"] == 0:
            b, s, h, d = x.shape[0], x.shape[1], a["num_heads"], x.shape[2] // a["num_heads"]
        else:
            raise ModelError(f"RotaryEmbedding node '{node.name}': input {list(x.shape)}")
        rot = a["rotary_embedding_dim"] or d
        cos = input_type(node, 1)
        if rot % 2 or rot > d or cos.shape[-1] != rot // 2 or input_type(node, 2) != cos:
            raise ModelError(f"RotaryEmbedding node '{node.name}': caches {list(cos.shape)} "
                             f"for rotary dim {rot}")
        pos = node.input(3)
        want = (b, s) if pos is not None else None
        if pos is not None and (pos.shape != want or pos.dtype is not DType.I64):
            raise ModelError(f"RotaryEmbedding node '{node.name}': position_ids")
        if pos is None and cos.shape != (b, s, rot // 2):
            raise ModelError(f"RotaryEmbedding node '{node.name}': caches {list(cos.shape)}")
        return b, h, s, d, rot

    def infer(self, node: Node) -> list[TensorType]:
        self.dims(node)
        return [input_type(node, 0)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        x, cos, sin = inputs[0], inputs[1], inputs[2]
        pos = inputs[3] if len(inputs) > 3 else None
        assert x is not None and cos is not None and sin is not None
        b, h, s, d, rot = self.dims(node)
        v = x.reshape(b, s, h, d) if x.ndim == 3 else x.transpose(0, 2, 1, 3)
        if pos is not None:
            if ((pos < 0) | (pos >= cos.shape[0])).any():
                raise ModelError(f"RotaryEmbedding node '{node.name}': position out of range")
            cos, sin = cos[pos], sin[pos]
        c, sn = cos[:, :, None, :], sin[:, :, None, :]
        y = v.astype(np.float64)
        part = y[..., :rot]
        x1, x2 = (part[..., 0::2], part[..., 1::2]) if node.attrs["interleaved"] else \
            (part[..., : rot // 2], part[..., rot // 2 :])
        real, imag = c * x1 - sn * x2, sn * x1 + c * x2
        out = y.copy()
        if node.attrs["interleaved"]:
            out[..., 0:rot:2], out[..., 1:rot:2] = real, imag
        else:
            out[..., : rot // 2], out[..., rot // 2 : rot] = real, imag
        out = out.reshape(x.shape) if x.ndim == 3 else out.transpose(0, 2, 1, 3)
        return [out.astype(x.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x, y = node.inputs[0], node.outputs[0]
        assert x is not None
        if x.dtype is not DType.F32:
            raise UnsupportedError(f"op RotaryEmbedding (node '{node.name}') on "
                                   f"{x.dtype.value}")
        b, h, s, d, rot = self.dims(node)
        cos = input_type(node, 1)
        fields = [b, h, s, d, rot, cos.shape[0], node.attrs["interleaved"], int(x.type.rank == 3)]
        if not y.type.numel:  # nothing to compute, and no unused parameter struct
            return
        params = ctx.params("tinyc_rotary_params", "{" + ", ".join(map(str, fields)) + "}",
                            f"rotary_{y.name}")
        cos_in, sin_in, pos = node.inputs[1], node.inputs[2], node.input(3)
        assert cos_in is not None and sin_in is not None
        ctx.checked_call("attention", "tinyc_rotary_embedding_f32", ctx.ptr(x),
                         ctx.ptr(cos_in), ctx.ptr(sin_in),
                         ctx.ptr(pos) if pos is not None else "NULL", ctx.ptr(y), params)


_RULES = {"linear": (0, 0), "gated": (1, 0), "delta": (0, 1), "gated_delta": (1, 1)}


@register_op
class LinearAttention(OpDef):
    """Linear attention in its recurrent form (opset 27): a per-head state matrix, decayed
    (gated rules), delta-corrected (delta rules) and updated with k v^T at every step, read
    by the queries. The kernel keeps the state in present_state, so that output is
    required."""

    name = "LinearAttention"
    min_opset = 27
    attrs = {"chunk_size": Attr("int", 0), "kv_num_heads": Attr("int", 0),
             "q_num_heads": Attr("int", 0), "scale": Attr("float", 0.0),
             "update_rule": Attr("string", "gated_delta")}

    def normalize(self, node: Node, opset: int) -> None:
        a = node.attrs
        a.pop("chunk_size", None)  # a tuning hint, no effect on the result
        if a["update_rule"] not in _RULES:
            raise ModelError(f"LinearAttention node '{node.name}': rule {a['update_rule']}")
        gating, delta = _RULES[a["update_rule"]]
        if gating != (node.input(4) is not None) or delta != (node.input(5) is not None):
            raise ModelError(f"LinearAttention node '{node.name}': decay/beta do not match "
                             f"rule {a['update_rule']}")
        if not a["scale"]:
            _, _, _, _, dk, _ = self.dims(node)
            a["scale"] = float(1.0 / np.sqrt(dk))

    def dims(self, node: Node) -> tuple[int, int, int, int, int, int]:
        """(batch, steps, q heads, kv heads, dk, dv)."""
        q, k, v = (input_type(node, i) for i in range(3))
        a = node.attrs
        hq, hkv = a["q_num_heads"], a["kv_num_heads"]
        if (q.rank != 3 or k.rank != 3 or v.rank != 3 or hq <= 0 or hkv <= 0 or hq % hkv
                or q.shape[2] % hq or v.shape[2] % hkv):
            raise ModelError(f"LinearAttention node '{node.name}': Q {list(q.shape)}, heads "
                             f"{hq}/{hkv}")
        b, t = q.shape[:2]
        dk, dv = q.shape[2] // hq, v.shape[2] // hkv
        if k.shape != (b, t, hkv * dk) or v.shape[:2] != (b, t):
            raise ModelError(f"LinearAttention node '{node.name}': K {list(k.shape)}")
        return b, t, hq, hkv, dk, dv

    def infer(self, node: Node) -> list[TensorType]:
        b, t, hq, hkv, dk, dv = self.dims(node)
        q = input_type(node, 0)
        for i, allowed in ((4, (hkv * dk, hkv)), (5, (hkv, 1))):
            v = node.input(i)
            if v is not None and (v.shape[:2] != (b, t) or v.shape[2] not in allowed):
                raise ModelError(f"LinearAttention node '{node.name}': input {i}")
        return [q.with_shape((b, t, hq * dv)), q.with_shape((b, hkv, dk, dv))]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        padded = list(inputs) + [None] * (6 - len(inputs))
        q, k, v, past, decay, beta = padded[:6]
        assert q is not None and k is not None and v is not None
        b, t, hq, hkv, dk, dv = self.dims(node)
        state = (np.zeros((b, hkv, dk, dv)) if past is None else past.astype(np.float64)).copy()
        q4 = q.reshape(b, t, hq, dk).astype(np.float64)
        k4 = k.reshape(b, t, hkv, dk).astype(np.float64)
        v4 = v.reshape(b, t, hkv, dv).astype(np.float64)
        out = np.zeros((b, t, hq, dv))
        group = hq // hkv
        for i in range(t):
            if decay is not None:
                g = decay[:, i].reshape(b, hkv, -1).astype(np.float64)
                state = state * np.exp(g)[..., None]
            vt = v4[:, i]
            if beta is not None:
                retrieved = np.einsum("bhdm,bhd->bhm", state, k4[:, i])
                vt = beta[:, i].reshape(b, -1, 1) * (vt - retrieved)
            state = state + k4[:, i][..., None] * vt[..., None, :]
            out[:, i] = node.attrs["scale"] * np.einsum(
                "bhd,bhdm->bhm", q4[:, i], np.repeat(state, group, axis=1))
        return [out.reshape(b, t, hq * dv).astype(q.dtype), state.astype(q.dtype)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        q = node.inputs[0]
        assert q is not None
        if q.dtype is not DType.F32:
            raise UnsupportedError(f"op LinearAttention (node '{node.name}') on {q.dtype.value}")
        if len(node.outputs) < 2:
            raise UnsupportedError(f"LinearAttention node '{node.name}': the kernel keeps its "
                                   "state in present_state, which the model does not output")
        b, t, hq, hkv, dk, dv = self.dims(node)
        gating, delta = _RULES[node.attrs["update_rule"]]
        decay, beta = node.input(4), node.input(5)
        fields = [b, t, hq, hkv, dk, dv, gating, delta,
                  int(decay is not None and decay.shape[2] == hkv * dk),
                  beta.shape[2] if beta is not None else 1,
                  c_scalar(node.attrs["scale"], DType.F32)]
        params = ctx.params("tinyc_linear_attention_params",
                            "{" + ", ".join(map(str, fields)) + "}",
                            f"linear_attention_{node.outputs[0].name}")
        ins = [ctx.ptr(v) if v is not None else "NULL" for v in (node.input(i) for i in range(6))]
        ctx.uses_math = True
        ctx.call("attention", "tinyc_linear_attention_f32", *ins, ctx.ptr(node.outputs[0]),
                 ctx.ptr(node.outputs[1]), params)
