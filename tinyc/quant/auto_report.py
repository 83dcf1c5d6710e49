"""What `--quantize auto` chose and why: text tables and an SVG of the per-layer sensitivity.

The SVG is hand-written like the pruning report's (`tinyc.prune.report`): one row per
layer, a bar per lower precision for the accuracy lost with only that layer lowered, the
`--max-drop` budget as a dashed line, and the chosen precision on the right.
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
    """Per layer and lower precision: accuracy drop (pp) and objective gain alone."""
    lower = LAYER_PRECISIONS[1:]
    headers = ["layer", "op"]
    for p in lower:
        headers += [f"{p} drop pp", f"{p} gain"]
    rows = []
    for c in result.layers:
        row: list[object] = [c.name, c.op]
        for p in lower:
            row += [_pp(c.accuracy[p], result.float_accuracy), c.gain[p]]
        rows.append(row)
    unit = UNITS[result.objective]
    stream.write(f"per-layer sensitivity on {result.samples} samples (only that layer "
                 f"lowered; gain in {unit}):\n")
    stream.write(table(headers, rows))


def print_choice(result: AutoResult, stream: TextIO) -> None:
    """The precision chosen per layer, and accuracy and objective of the mix."""
    unit = UNITS[result.objective]
    stream.write(f"--quantize auto (objective {result.objective}, max drop "
                 f"{result.max_drop:g} pp, {result.samples} samples):\n")
    stream.write(table(["layer", "op", "precision"],
                       [[c.name, c.op, c.precision] for c in result.layers]))
    rows: list[list[object]] = [["float", f"{100 * result.float_accuracy:.2f}%",
                                 result.float_cost]]
    for p, (acc, cost) in result.uniform.items():
        rows.append([f"every layer {p}", f"{100 * acc:.2f}%", cost])
    shown = f"{100 * result.accuracy:.2f}%"
    if result.c_accuracy is not None:
        shown += f" (C: {100 * result.c_accuracy:.2f}%)"
    rows.append(["chosen mix" if result.quantized else "chosen: float", shown, result.cost])
    stream.write(table(["model", "accuracy", unit], rows))
    if not result.quantized:
        stream.write(f"no mix stays within {result.max_drop:g} pp of float: the model is "
                     "compiled in float\n")


def sensitivity_svg(result: AutoResult, path: str | Path, title: str = "") -> None:
    """Accuracy drop per layer with only that layer lowered, per precision (module doc)."""
    lower = LAYER_PRECISIONS[1:]
    bar, gap, left, right, top, bottom = 12, 10, 200, 140, 50, 50
    row_h = bar * len(lower) + gap
    w = 760
    pw = w - left - right
    h = top + bottom + row_h * len(result.layers)
    drops = [100 * (result.float_accuracy - c.accuracy[p]) for c in result.layers
             for p in lower]
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
            d = 100 * (result.float_accuracy - c.accuracy[p])
            x0, x1 = sorted((px(0), px(d)))
            out.append(f'<rect x="{x0:.1f}" y="{y + i * bar:.1f}" width="{max(x1 - x0, 1):.1f}" '
                       f'height="{bar - 2}" fill="{_COLORS[i % 5]}"/>')
        mark = "bold" if c.precision != FLOAT else "normal"
        out.append(f'<text x="{left + pw + 8}" y="{y + row_h / 2:.1f}" font-weight="{mark}">'
                   f'{escape(c.precision)}</text>')
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")
