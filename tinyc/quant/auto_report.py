"""What `--quantize auto` chose and why: text tables and an SVG of the per-layer sensitivity.

The SVG is hand-written like the pruning report's (`tinyc.prune.report`): one row per
layer, a bar per lower precision for the accuracy lost with only that layer lowered (none
where the layer has no kernel for it), the `--max-drop` budget as a dashed line, and the
chosen precision on the right.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TextIO

from tinyc.prune.report import table
from tinyc.quant.auto import FLOAT, AutoResult
from tinyc.quant.driver import LAYER_PRECISIONS

UNITS = {"flash": "B flash", "ram": "B RAM", "latency": "instructions (est.)"}
_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"]


def _pp(accuracy: float, reference: float) -> str:
    return f"{100 * (reference - accuracy):+.2f}"


def print_sensitivity(result: AutoResult, stream: TextIO) -> None:
    """Per layer and lower precision: accuracy drop (pp) and objective gain alone (`-`: the
    layer has no kernel for that precision)."""
    lower = LAYER_PRECISIONS[1:]
    headers = ["layer", "op"]
    for p in lower:
        headers += [f"{p} drop pp", f"{p} gain"]
    rows = []
    for c in result.layers:
        row: list[object] = [c.name, c.op]
        for p in lower:
            row += ([_pp(c.accuracy[p], result.float_accuracy), c.gain[p]] if p in c.accuracy
                    else ["-", "-"])
        rows.append(row)
    unit = UNITS[result.objective]
    stream.write(f"per-layer sensitivity on {result.samples} samples (only that layer "
                 f"lowered; gain in {unit}):\n")
    stream.write(table(headers, rows))


def describe(mix: dict[str, str]) -> str:
    """A mix in a few words: the layers per precision, the most common one as "the rest"."""
    by: dict[str, list[str]] = {}
    for name, p in mix.items():
        by.setdefault(p, []).append(name)
    if len(by) == 1:
        return f"every layer {next(iter(by))}"
    counts = sorted((len(names) for names in by.values()), reverse=True)
    common = max(by, key=lambda p: len(by[p])) if counts[0] > max(1, counts[1]) else None
    parts = [f"{', '.join(names)} {p}" for p, names in by.items() if p != common]
    return "; ".join(parts) + (f"; the rest {common}" if common else "")


def _figures(result: AutoResult, acc: float | None, weights: int, cost: int) -> list[object]:
    """Accuracy (`-`: not evaluated, the mix cost more than the best one then), weights,
    code (flash) and the objective."""
    row: list[object] = ["-" if acc is None else f"{100 * acc:.2f}%", weights]
    if result.objective == "flash":
        row.append(cost - weights)
    return [*row, cost]


def _headers(result: AutoResult, first: list[str]) -> list[str]:
    code = ["code B"] if result.objective == "flash" else []
    return [*first, "accuracy", "weights B", *code, UNITS[result.objective]]


def verdict(result: AutoResult) -> str:
    """Why the choice beats the alternatives, or why nothing beats uniform int8."""
    unit = UNITS[result.objective]
    budget = f"within {result.max_drop:g} pp of float"
    within = [c for c in result.candidates if c.within]
    if not result.quantized:
        if not within:
            return f"no mix stays {budget}: the model is compiled in float"
        cheapest = min(within, key=lambda c: c.cost)
        return (f"no mix {budget} costs less than the float model ({describe(cheapest.mix)}: "
                f"{cheapest.cost:,} {unit} against {result.float_cost:,}): compiled in float")
    chosen, int8 = result.chosen, result.uniform.get("int8")
    if len(set(chosen.mix.values())) == 1:
        others = [c for c in within if c is not chosen]
        if not others:
            return f"{describe(chosen.mix)} is the only mix {budget}"
        nxt = min(others, key=lambda c: c.cost)
        change = (f"saves {chosen.weights - nxt.weights:,} B of weights but adds "
                  f"{(nxt.cost - nxt.weights) - (chosen.cost - chosen.weights):,} B of code"
                  if result.objective == "flash" and nxt.weights < chosen.weights else
                  f"costs {nxt.cost - chosen.cost:,} {unit} more")
        return (f"{describe(chosen.mix)} is the cheapest mix {budget}: the next, "
                f"{describe(nxt.mix)} ({100 * (nxt.accuracy or 0):.2f}%), {change} "
                f"({nxt.cost:,} against {chosen.cost:,} {unit})")
    if int8 is None:
        return f"the mix costs {chosen.cost:,} {unit}"
    text = (f"against every layer int8 ({100 * (int8.accuracy or 0):.2f}%, "
            f"{'within' if int8.within else 'outside'} the budget): "
            f"{chosen.cost - int8.cost:+,} {unit}")
    if result.objective == "flash":
        text += (f" (weights {chosen.weights - int8.weights:+,} B, code "
                 f"{(chosen.cost - chosen.weights) - (int8.cost - int8.weights):+,} B)")
    return text


def print_choice(result: AutoResult, stream: TextIO) -> None:
    """The precision chosen per layer, the figures of float, every uniform precision and
    the mix, and the verdict."""
    stream.write(f"--quantize auto (objective {result.objective}, max drop "
                 f"{result.max_drop:g} pp, {result.samples} samples)"
                 f"{f': --quantize {result.mode}' if result.quantized else ''}:\n")
    stream.write(table(["layer", "op", "precision"],
                       [[c.name, c.op, c.precision] for c in result.layers]))
    rows = [["float", *_figures(result, result.float_accuracy, result.float_weights,
                                 result.float_cost)]]
    for p, c in result.uniform.items():
        rows.append([f"every layer {p}", *_figures(result, c.accuracy, c.weights, c.cost)])
    chosen = result.chosen
    row = ["chosen mix" if result.quantized else "chosen: float",
           *_figures(result, chosen.accuracy, chosen.weights, chosen.cost)]
    if result.c_accuracy is not None:
        row[1] = f"{row[1]} (C: {100 * result.c_accuracy:.2f}%)"
    rows.append(row)
    stream.write(table(_headers(result, ["model"]), rows))
    stream.write(verdict(result) + "\n")


def print_candidates(result: AutoResult, stream: TextIO) -> None:
    """Every mix the search measured, in order, with its whole objective (flash: weights
    and code)."""
    stream.write(f"{len(result.candidates)} mixes measured (* within {result.max_drop:g} pp "
                 "of float):\n")
    rows = [[f"{'*' if c.within else ' '} {describe(c.mix)}", c.origin,
             *_figures(result, c.accuracy, c.weights, c.cost)] for c in result.candidates]
    stream.write(table(_headers(result, ["mix", "found as"]), rows))


def sensitivity_svg(result: AutoResult, path: str | Path, title: str = "") -> None:
    """Accuracy drop per layer with only that layer lowered, per precision (module doc)."""
    lower = LAYER_PRECISIONS[1:]
    bar, gap, left, right, top, bottom = 12, 10, 200, 140, 50, 50
    row_h = bar * len(lower) + gap
    w = 760
    pw = w - left - right
    h = top + bottom + row_h * len(result.layers)
    drops = [100 * (result.float_accuracy - c.accuracy[p]) for c in result.layers
             for p in lower if p in c.accuracy]
    hi = max([result.max_drop, *drops, 0.1]) * 1.1
    lo = min([0.0, *drops]) * 1.1

    def px(v: float) -> float:
        return left + (v - lo) / (hi - lo) * pw

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    heading = title or "per-layer quantization sensitivity"
    out.append(f'<text x="{left}" y="20" font-size="15">{escape(heading)}: accuracy drop '
               f'with only that layer lowered</text>')
    for i, p in enumerate(lower):  # legend
        x = left + 110 * i
        out.append(f'<rect x="{x}" y="30" width="10" height="10" fill="{_COLORS[i % 5]}"/>')
        out.append(f'<text x="{x + 14}" y="39">{escape(p)}</text>')
    base = top + row_h * len(result.layers)
    for i in range(6):
        v = lo + (hi - lo) * i / 5
        out.append(f'<line x1="{px(v):.1f}" y1="{top}" x2="{px(v):.1f}" y2="{base}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{px(v):.1f}" y="{base + 16}" text-anchor="middle">'
                   f'{v:.2f}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{h - 12}" text-anchor="middle">'
               'accuracy drop (percentage points)</text>')
    out.append(f'<line x1="{px(0):.1f}" y1="{top}" x2="{px(0):.1f}" y2="{base}" '
               'stroke="black"/>')
    x = px(result.max_drop)
    out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" stroke="black" '
               'stroke-dasharray="5,3"/>')
    out.append(f'<text x="{x:.1f}" y="{top - 2}" text-anchor="middle">max drop '
               f'{result.max_drop:g}</text>')
    for row, c in enumerate(result.layers):
        y = top + row * row_h + gap / 2
        out.append(f'<text x="{left - 6}" y="{y + row_h / 2:.1f}" text-anchor="end">'
                   f'{escape(c.name[-30:])}</text>')
        for i, p in enumerate(lower):
            if p not in c.accuracy:
                continue
            d = 100 * (result.float_accuracy - c.accuracy[p])
            x0, x1 = sorted((px(0), px(d)))
            out.append(f'<rect x="{x0:.1f}" y="{y + i * bar:.1f}" width="{max(x1 - x0, 1):.1f}" '
                       f'height="{bar - 2}" fill="{_COLORS[i % 5]}"/>')
        mark = "bold" if c.precision != FLOAT else "normal"
        out.append(f'<text x="{left + pw + 8}" y="{y + row_h / 2:.1f}" font-weight="{mark}">'
                   f'{escape(c.precision)}</text>')
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")
