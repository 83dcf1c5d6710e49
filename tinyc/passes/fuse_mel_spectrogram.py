"""fuse-mel-spectrogram: STFT -> power spectrum -> MatMul by a constant becomes one
`MelSpectrogram` (tinyc/ops/melspec.py), whose kernel streams frame by frame."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from tinyc.ir import Graph, Node, Value
from tinyc.ops.melspec import bands, fft_serves
from tinyc.passes.base import register_pass
from tinyc.passes.rewrite import (
    OK,
    Const,
    Match,
    MatchResult,
    Op,
    RewritePass,
    Rewriter,
    Rule,
    RuleSet,
    Var,
    all_of,
    is_float32,
    no_activation,
    single_use,
)


@dataclass
class _Chain:
    """What a MatMul's left operand was traced back to."""

    stft: Node
    #: the nodes between the STFT and the MatMul, consumer first (erased if left dead)
    between: list[Node]
    #: True: the operand holds (re^2, im^2) pairs, [.., 2 * bins]; False: re^2 + im^2
    pairs: bool
    signal: Value
    #: a constant Pad of the time axis folded in: (begin, end, value), or None
    pads: tuple[int, int, float] | None
    pad: Node | None


def _const_scalar(value: Value | None) -> float | None:
    if value is None or value.const is None or value.const.size != 1:
        return None
    return float(value.const.reshape(-1)[0])


def _is_square(node: Node, spectrum: Value) -> bool:
    """Mul(S, S) or Pow(S, 2) of the spectrum."""
    if node.op == "Mul":
        return node.input(0) is spectrum and node.input(1) is spectrum
    return node.op == "Pow" and node.input(0) is spectrum and _const_scalar(node.input(1)) == 2.0


def _reduces_last_axis(node: Node) -> bool:
    """A ReduceSum / ReduceSumSquare over the spectrum's (re, im) axis, axes constant."""
    rank = len(node.inputs[0].shape) if node.inputs[0] is not None else 0
    return "shape" not in node.attrs and list(node.attrs.get("axes") or []) == [rank - 1]


def _trace(graph: Graph, operand: Value) -> _Chain | MatchResult:
    """Walk from the MatMul's operand up to the STFT, through Reshapes, the square and
    the pair sum; every value on the way must have no other use."""
    between: list[Node] = []
    value = operand
    while value.producer is not None and value.producer.op == "Reshape":
        if value.producer.input(1) is not None:
            return MatchResult.fail(f"Reshape '{value.producer.name}' has a run-time shape")
        between.append(value.producer)
        value = value.producer.inputs[0]  # type: ignore[assignment]
    node = value.producer
    if node is None:
        return MatchResult.fail("the operand is not computed from an STFT")
    between.append(node)
    if node.op in ("Mul", "Pow"):
        pairs, square = True, node
    elif node.op == "ReduceSumSquare" and _reduces_last_axis(node):
        pairs, square = False, None
    elif node.op == "ReduceSum" and _reduces_last_axis(node) and node.inputs[0] is not None \
            and node.inputs[0].producer is not None:
        pairs, square = False, node.inputs[0].producer
        between.append(square)
    else:
        return MatchResult.fail(f"{node.op} '{node.name}' is not a power spectrum's square "
                                f"or pair sum")
    stft_value = (square if square is not None else node).inputs[0]
    if stft_value is None or stft_value.producer is None or stft_value.producer.op != "STFT":
        return MatchResult.fail("the squared tensor is not an STFT's result")
    if square is not None and not _is_square(square, stft_value):
        return MatchResult.fail(f"{square.op} '{square.name}' is not the spectrum squared")
    for n in between:
        used = all_of(single_use(graph, n.outputs[0]), no_activation(n))
        if not used:
            return used
    used = single_use(graph, stft_value) if square is None or square.op == "Pow" else (
        OK if len(stft_value.uses) == 2 and not any(v is stft_value for v in graph.outputs)
        else MatchResult.fail(f"%{stft_value.name} has other uses"))
    if not used:
        return used
    stft = stft_value.producer
    signal = stft.inputs[0]
    assert signal is not None
    folded, pad = None, signal.producer
    if pad is not None and _time_pad(pad) and single_use(graph, signal):
        pads = pad.attrs["pads"]
        folded, signal = (pads[1], pads[4], float(pad.attrs["value"])), pad.inputs[0]  # type: ignore[assignment]
    else:
        pad = None
    return _Chain(stft, between, pairs, signal, folded, pad)


def _time_pad(node: Node) -> bool:
    """A constant Pad (compile-time pads and value) that only grows the time axis (1 of
    [batch, time, 1]); other modes stay a Pad in front of the fused op."""
    pads = node.attrs.get("pads") or []
    return node.op == "Pad" and node.attrs["mode"] == "constant" and len(node.inputs) == 1 \
        and len(pads) == 6 and not any(pads[i] for i in (0, 2, 3, 5)) \
        and pads[1] >= 0 and pads[4] >= 0


def _stft_check(stft: Node) -> MatchResult:
    x, step, window = stft.inputs[0], stft.input(1), stft.input(2)
    assert x is not None
    length = stft.input(3)
    if x.shape[2] != 1 or not stft.attrs["onesided"]:
        return MatchResult.fail(f"STFT '{stft.name}' is complex or two-sided")
    if step is None or step.const is None or window is None or window.const is None:
        return MatchResult.fail(f"STFT '{stft.name}' has a run-time step or window")
    n = window.shape[0] if window.type.rank == 1 else 0
    if length is not None and (length.const is None or int(length.const.reshape(-1)[0]) != n):
        return MatchResult.fail(f"STFT '{stft.name}' has a frame length other than its window's")
    if not fft_serves(n) or stft.attrs["bins"] != n // 2 + 1:
        return MatchResult.fail(f"STFT '{stft.name}': the FFT does not serve length {n}")
    return is_float32(x)


class FuseMelSpectrogram(Rule):
    """``MatMul(power(STFT(Pad?(x), step, window)), W) -> MelSpectrogram(x, window, W's
    bands)``, power one of ``Reshape(Mul(S, S))`` with W's rows equal in pairs,
    ``ReduceSumSquare(S)``, ``ReduceSum(Mul(S, S))`` or ``ReduceSum(Pow(S, 2))`` over the
    last axis (each maybe reshaped)."""

    pattern = Op("MatMul", Var("p"), Const("w"), name="mm")

    def check(self, graph: Graph, m: Match) -> MatchResult:
        fused = no_activation(m.root)
        if not fused:
            return fused
        chain = _trace(graph, m.value("p"))
        if isinstance(chain, MatchResult):
            return chain
        checked = _stft_check(chain.stft)
        if not checked:
            return checked
        return self._shapes(m, chain)

    def _shapes(self, m: Match, chain: _Chain) -> MatchResult:
        spectrum = chain.stft.outputs[0].shape  # [batch, frames, bins, 2]
        operand, w = m.value("p").shape, m.value("w")
        rows = spectrum[2] * (2 if chain.pairs else 1)
        if len(operand) < 2 or w.type.rank != 2 or operand[-1] != rows or w.shape[0] != rows or \
                prod(operand[:-1]) != spectrum[0] * spectrum[1]:
            return MatchResult.fail(f"the product is not [frames, {rows}] by [{rows}, mels]")
        if chain.pairs and not np.array_equal(w.const[0::2], w.const[1::2]):  # type: ignore[index]
            return MatchResult.fail("the matrix weighs re^2 and im^2 differently")
        return is_float32(w)

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        chain = _trace(graph, m.value("p"))
        assert isinstance(chain, _Chain)
        w = m.value("w").const
        assert w is not None
        if chain.pairs:
            w = w[0::2]
        starts, lengths, values = bands(np.asarray(w))
        window = chain.stft.inputs[2]
        step = chain.stft.inputs[1]
        assert window is not None and step is not None and step.const is not None
        attrs = {"step": int(step.const.reshape(-1)[0]), "fft_length": window.shape[0],
                 "pad_begin": chain.pads[0] if chain.pads else 0,
                 "pad_end": chain.pads[1] if chain.pads else 0,
                 "pad_value": chain.pads[2] if chain.pads else 0.0,
                 "band_starts": starts, "band_lengths": lengths,
                 "shape": list(m.root.outputs[0].shape)}
        y = rw.add("MelSpectrogram",
                   [chain.signal, window, rw.const(m.value("w").name + "_bands", values)],
                   attrs, before=m.root, name=chain.stft.name,
                   hint=m.root.outputs[0].name + "_spectrogram")
        rw.replace(m.root.outputs[0], y)
        rw.erase(m.root)
        for node in [*chain.between, chain.stft, *([chain.pad] if chain.pad else [])]:
            rw.erase_if_dead(node)


class AddIntoMelBias(Rule):
    """``Add(MelSpectrogram(x, window, values), c) -> MelSpectrogram(.., bias=c)`` for a
    constant c that broadcasts to one value per mel."""

    pattern = Op("Add", Op("MelSpectrogram", Var("x"), Var("window"), Var("values"),
                           name="mel"), Const("c"), commute=True)

    def check(self, graph: Graph, m: Match) -> MatchResult:
        y, c = m.value("mel"), m.value("c")
        mels = y.shape[-1]
        if c.type.numel not in (1, mels) or (c.type.rank and c.shape[-1] not in (1, mels)):
            return MatchResult.fail("the added constant is not one value per mel")
        if c.type.rank > y.type.rank or m.root.outputs[0].shape != y.shape:
            return MatchResult.fail("the Add broadcasts the result to a bigger shape")
        return all_of(single_use(graph, y), no_activation(m.root), is_float32(c))

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        mel = m.node("mel")
        mels = mel.outputs[0].shape[-1]
        c = m.value("c")
        bias = np.broadcast_to(np.asarray(c.const).reshape(-1), (mels,)).astype(np.float32)
        rw.set_input(mel, 3, rw.const(c.name + "_mel_bias", bias))
        rw.replace(m.root.outputs[0], mel.outputs[0])


RULES = RuleSet([FuseMelSpectrogram(), AddIntoMelBias()])


@register_pass
@dataclass(frozen=True)
class FuseMelSpectrogramPass(RewritePass):
    """Turn an STFT whose power spectrum is multiplied by a constant matrix (a mel filter
    bank) into one MelSpectrogram, which never holds more than one frame's spectrum: the
    arena loses the [frames, bins, 2] spectrum, and a constant Pad of the signal's time axis
    is read by index instead of copied. Then an Add of a constant per mel becomes its bias.
    Equal within float32 rounding: the power re^2 + im^2 is summed before the weighting
    (the pair spelling weighted each square), and bands skip the matrix's zeros.

    Preconditions: constant step, window and frame length (= window length), a real
    signal, onesided, an FFT length the C FFT serves (even, 2^a times 1, 3 or 5). Refuses
    when any value between the STFT and the MatMul has another use or is a graph output,
    when one of them or the MatMul carries a fused activation, when the pair spelling's
    matrix weighs re^2 and im^2 differently, when the Reshapes do not keep frames as rows,
    and for non-float32 tensors. A reflect, edge or wrap Pad stays a Pad in front of it
    (its index rule lives in the data kernels, tinyc_data.c).
    """

    name = "fuse-mel-spectrogram"
    summary = "STFT -> power -> MatMul(constant) -> MelSpectrogram, frame by frame"

    def rules(self) -> RuleSet:
        return RULES
