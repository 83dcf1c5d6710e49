"""Human-readable and machine-readable pruning reports: text tables, JSON, an SVG plot.

The SVG is written by hand (a few dozen lines of XML) so the report needs no plotting
library; it is deterministic, like everything tinyc writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path

from tinyc.prune.sensitivity import ALL_LAYERS, Sensitivity
from tinyc.prune.sparse import LayerCost


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        rest = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        parts = [row[0].ljust(widths[0]), *rest]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out) + "\n"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def sparse_table(costs: Sequence[LayerCost]) -> str:
    """Per-layer dense/sparse flash and estimated instructions, and the choice."""
    rows = []
    for c in costs:
        rows.append([
            c.layer, c.op, "x".join(str(d) for d in c.shape), f"{c.density:.0%}",
            c.dense_flash, c.sparse_flash or "-", c.dense_cycles, c.sparse_cycles or "-",
            c.choice,
        ])
    total_dense = sum(c.dense_flash for c in costs)
    total = sum(c.sparse_flash if c.choice == "sparse" else c.dense_flash for c in costs)
    cyc_dense = sum(c.dense_cycles for c in costs)
    cyc = sum(c.sparse_cycles if c.choice == "sparse" else c.dense_cycles for c in costs)
    text = table(["layer", "op", "weight", "nonzero", "dense B", "sparse B", "dense instr",
                  "sparse instr", "kernel"], rows)
    if total_dense:
        text += (f"weights: {total} B of {total_dense} B dense ({total / total_dense:.2f}x), "
                 f"estimated instructions {cyc} of {cyc_dense} ({cyc / max(cyc_dense, 1):.2f}x)\n")
    return text


def sparse_json_text(costs: Sequence[LayerCost]) -> str:
    return json.dumps([c.as_dict() for c in costs], indent=2) + "\n"


def sensitivity_table(result: Sensitivity) -> str:
    unit = "%" if result.higher_is_better else ""

    def show(v: float) -> str:
        return f"{100 * v:.1f}" if result.higher_is_better else f"{v:.4g}"

    headers = ["layer"] + [f"{100 * s:g}%" for s in result.sparsities]
    rows = [[layer] + [show(v) for v in values] for layer, values in result.metric.items()]
    metric = result.metric_name + (f" in {unit}" if unit else "")
    head = f"{result.kind} pruning sensitivity, {metric} (unpruned: {show(result.baseline)})\n"
    return head + table(headers, rows)


_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def sensitivity_svg(result: Sensitivity, path: str | Path, title: str = "") -> None:
    """Metric vs sparsity, one line per layer (the all-layers line is black and thick)."""
    w, h, left, right, top, bottom = 720, 420, 60, 220, 40, 50
    pw, ph = w - left - right, h - top - bottom
    values = [v for vs in result.metric.values() for v in vs] + [result.baseline]
    if result.higher_is_better:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = 0.0, max(values) * 1.05 or 1.0
    xs = result.sparsities
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def px(s: float) -> float:
        return left + (s - x0) / (x1 - x0) * pw

    def py(v: float) -> float:
        return top + (1 - (v - lo) / (hi - lo)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    heading = title or f"{result.kind} pruning sensitivity"
    out.append(f'<text x="{left}" y="22" font-size="15">{escape(heading)}</text>')
    for i in range(6):  # horizontal grid and y labels
        v = lo + (hi - lo) * i / 5
        y = py(v)
        label = f"{100 * v:.0f}%" if result.higher_is_better else f"{v:.3g}"
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for s in xs:  # x ticks
        x = px(s)
        out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" '
                   'stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">'
                   f'{100 * s:g}%</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               'stroke="black"/>')
    out.append(f'<text x="{left + pw / 2}" y="{h - 10}" text-anchor="middle">sparsity</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {top + ph / 2})">{result.metric_name}</text>')
    color_i = 0
    for row, (layer, vals) in enumerate(result.metric.items()):
        if layer == ALL_LAYERS:
            color, width = "black", 3
        else:
            color, width = _COLORS[color_i % len(_COLORS)], 1.5
            color_i += 1
        points = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in zip(xs, vals, strict=False))
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                   f'stroke-width="{width}"/>')
        for s, v in zip(xs, vals, strict=False):
            out.append(f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="2.5" fill="{color}"/>')
        ly = top + 10 + 16 * row
        out.append(f'<line x1="{left + pw + 12}" y1="{ly}" x2="{left + pw + 32}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="{width}"/>')
        out.append(f'<text x="{left + pw + 38}" y="{ly + 4}">{escape(layer[-28:])}</text>')
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")
