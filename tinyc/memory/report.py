"""The memory plan, shown: a JSON record, an ASCII timeline and a self-contained HTML page.

- `report_data` is the one source: per step (op, shapes, MACs, parameters, bytes live,
  whether it runs in place), per buffer (values, offset, size, lifetime), the totals.
- `render_ascii` prints the timeline for `tinyc plan --explain`, one row per step and one
  column per slice of the arena, in the spirit of TFLite Micro's `PrintMemoryPlan`.
- `render_html` draws the plan as an SVG (x = schedule step, y = arena offset, one box per
  buffer, the peak step shaded) above the per-layer table. Everything is inline: no
  network, no external file; a few lines of script only add hover highlighting and record
  the picture's position (used by the browser test).
"""

from __future__ import annotations

import colorsys
import html
import json
from typing import Any

from tinyc.ir import Graph
from tinyc.memory.plan import ArenaPlan, buffer_offsets
from tinyc.ops import get_op
from tinyc.ops.qbanded import band_summary

_SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _shape(v: Any) -> dict[str, Any]:
    return {"name": v.name, "dtype": v.dtype.value, "shape": list(v.shape), "bytes": v.type.nbytes}


def _kind(plan: ArenaPlan, node: int) -> str:
    beh = plan.overlaps.get(node)
    if beh is None:
        return ""
    return "streamed" if beh.scratch else "in place"


def report_data(graph: Graph, plan: ArenaPlan, name: str = "") -> dict[str, Any]:
    """Everything the report shows, as plain JSON-able data."""
    offs = buffer_offsets(plan)
    members: dict[str, list[str]] = {}
    for value, buf in sorted(plan.buffer_of.items()):
        members.setdefault(buf, []).append(value)
    buffers = []
    for r in sorted(plan.reqs, key=lambda r: (r.first, offs.get(r.name, 0), r.name)):
        kind = ("scratch" if r.name.startswith("scratch@")
                else "workspace" if r.name.startswith("work@") else "tensor")
        buffers.append({
            "name": r.name,
            "kind": kind,
            "values": members.get(r.name, []),
            "offset": offs.get(r.name, 0),
            "size": r.size,
            "first": r.first,
            "last": r.last,
        })
    steps = []
    for s, n in enumerate(plan.node_order(len(graph.nodes))):
        node = graph.nodes[n]
        live = [b for b in buffers if b["first"] <= s <= b["last"]]
        spans = sorted((b["offset"], b["offset"] + b["size"]) for b in live)
        used, end = 0, 0
        for lo, hi in spans:
            used += max(0, hi - max(lo, end))
            end = max(end, hi)
        consts = [v for v in node.inputs if v is not None and v.const is not None]
        steps.append({
            "step": s,
            "node": node.name,
            "op": node.op,
            "inputs": [_shape(v) for v in node.inputs if v is not None and v.const is None],
            "outputs": [_shape(v) for v in node.outputs],
            "macs": get_op(node.op).macs(node),
            "params": sum(v.type.numel for v in consts),
            "live_bytes": used,
            "top": end,
            "overlap": _kind(plan, n),
            "scratch": plan.overlaps[n].scratch if n in plan.overlaps else 0,
            "workspace": get_op(node.op).workspace(node) if n in plan.workspace else 0,
        })
    st = plan.stats
    bands = [band_summary(n) for n in graph.nodes if n.op == "QBanded"]
    return {
        "model": name or graph.name,
        "arena_bytes": plan.size,
        "align": plan.align,
        "algorithm": plan.algorithm,
        "variant": plan.variant,
        "activations_bytes": st.activations,
        "lower_bound_bytes": st.lower_bound,
        "lower_bound_exact": st.lower_bound_exact,
        "greedy_by_size_bytes": st.greedy_by_size,
        "peak_step": st.peak_step,
        "peak_buffers": list(st.peak_buffers),
        "tries": [{"variant": v, "strategy": a, "arena_bytes": b} for v, a, b in st.tries],
        "buffers": buffers,
        "steps": steps,
        "bands": bands,
    }


def band_lines(data: dict) -> list[str]:
    """One line per row-banded node (`band-rows`): its layers and extra work."""
    return [f"banded {b['node']}: {b['layers']} layers in {b['row_steps']} "
            + (f"steps of up to {b['band_rows']} rows" if b.get("band_rows", 1) > 1
               else "row steps")
            + f" (one kernel call each, {b['recomputed_rows']} rows recomputed), "
            + ("halos" if b.get("band_rows", 1) > 1 else "rings")
            + f" {b['ring_bytes']} B" for b in data.get("bands", [])]


def memory_columns(plan: ArenaPlan) -> dict[str, int]:
    """The benchmark's memory columns (bytes), named so they sort in reading order."""
    st = plan.stats
    return {
        "mem1 activations": st.activations,
        "mem2 lower bound": st.lower_bound,
        "mem3 greedy-by-size": st.greedy_by_size,
        "mem4 ours": plan.size,
    }


# -- ASCII ------------------------------------------------------------------------------


def render_ascii(data: dict[str, Any], width: int = 64) -> str:
    """One row per step: op, bytes live, and the arena map (a letter per buffer, `&` where
    an in-place kernel's input and output share bytes, `.` free)."""
    arena = max(data["arena_bytes"], 1)
    cell = -(-arena // width)
    buffers = data["buffers"]
    sym = {b["name"]: _SYMBOLS[i % len(_SYMBOLS)] for i, b in enumerate(buffers)}
    lines = [
        f"arena {data['arena_bytes']} B (align {data['align']}, {data['variant']}/"
        f"{data['algorithm']}); lower bound without in-place {data['lower_bound_bytes']} B; "
        f"greedy-by-size {data['greedy_by_size_bytes']} B; no reuse {data['activations_bytes']} B",
        f"one column = {cell} B",
        "",
        f"{'step':>4}  {'op':<22} {'live B':>8}  |{'arena':<{width}}|",
    ]
    for st in data["steps"]:
        row = ["."] * width
        live = [b for b in buffers if b["first"] <= st["step"] <= b["last"] and b["size"]]
        for b in live:
            lo, hi = b["offset"] // cell, (b["offset"] + b["size"] - 1) // cell
            for c in range(lo, min(hi, width - 1) + 1):
                row[c] = sym[b["name"]]
        for i, a in enumerate(live):  # bytes shared by an in-place kernel's input and output
            for b in live[i + 1 :]:
                lo = max(a["offset"], b["offset"])
                hi = min(a["offset"] + a["size"], b["offset"] + b["size"])
                for c in range(lo // cell, min((hi - 1) // cell, width - 1) + 1 if hi > lo else 0):
                    row[c] = "&"
        op = st["op"] + (f" ({st['overlap']})" if st["overlap"] else "")
        op += f" +{st['workspace']}B work" if st["workspace"] else ""
        mark = "  <- peak" if st["step"] == data["peak_step"] else ""
        lines.append(
            f"{st['step']:>4}  {op[:22]:<22} {st['live_bytes']:>8}  |{''.join(row)}|{mark}"
        )
    lines.append("")
    lines += [f"  {line}" for line in band_lines(data)]
    for b in buffers:
        what = ", ".join(f"%{v}" for v in b["values"]) or (
            f"{b['name']} (workspace of step {b['first']})" if b["kind"] == "workspace"
            else b["name"])
        lines.append(f"  {sym[b['name']]} = {what}: {b['size']} B at {b['offset']}, "
                     f"steps {b['first']}-{b['last']}")
    return "\n".join(lines) + "\n"


# -- HTML -------------------------------------------------------------------------------

PLOT_W, PLOT_H, MARGIN_L, MARGIN_B, MARGIN_T = 960, 420, 70, 40, 10


def buffer_color(index: int, kind: str) -> str:
    """Fill colour of buffer `index`: well-separated hues, fixed lightness (hex RGB)."""
    if kind in ("scratch", "workspace"):
        return "#7f7f7f"
    hue = (index * 0.381966) % 1.0
    r, g, b = colorsys.hls_to_rgb(hue, 0.55, 0.65)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _svg(data: dict[str, Any]) -> str:
    steps = max(len(data["steps"]), 1)
    arena = max(data["arena_bytes"], 1)
    sw = PLOT_W / steps
    scale = PLOT_H / arena
    out = [
        f'<svg id="plan" xmlns="http://www.w3.org/2000/svg" width="{MARGIN_L + PLOT_W + 10}" '
        f'height="{MARGIN_T + PLOT_H + MARGIN_B}" data-steps="{steps}" data-arena="{arena}">',
        f'<rect x="{MARGIN_L}" y="{MARGIN_T}" width="{PLOT_W}" height="{PLOT_H}" '
        'fill="#ffffff" stroke="#333333"/>',
    ]
    peak = data["peak_step"]
    if peak >= 0:
        out.append(f'<rect class="peak" x="{MARGIN_L + peak * sw:.2f}" y="{MARGIN_T}" '
                   f'width="{sw:.2f}" height="{PLOT_H}" fill="#fff2a8"><title>peak step {peak}'
                   "</title></rect>")
    for i, b in enumerate(data["buffers"]):
        # a tensor is written in the middle of its first step and read until the middle of
        # its last: an in-place input and output meet at the step they share
        lo, hi = (b["first"] + 0.5, b["last"] + 0.5) if b["last"] > b["first"] else (
            b["first"] + 0.2, b["first"] + 0.8)
        x = MARGIN_L + lo * sw
        w = (hi - lo) * sw
        h = max(b["size"] * scale, 1.0)
        y = MARGIN_T + PLOT_H - (b["offset"] + b["size"]) * scale
        label = ", ".join("%" + v for v in b["values"]) or b["name"]
        out.append(
            f'<rect class="buffer" x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" '
            f'fill="{buffer_color(i, b["kind"])}" stroke="#222222" '
            f'stroke-width="0.5" data-name="{html.escape(b["name"])}" data-kind="{b["kind"]}" '
            f'data-offset="{b["offset"]}" data-size="{b["size"]}" data-first="{b["first"]}" '
            f'data-last="{b["last"]}"><title>{html.escape(label)}: {b["size"]} B at '
            f'{b["offset"]}, steps {b["first"]}-{b["last"]}</title></rect>'
        )
    for k in range(5):
        val = arena * k // 4
        y = MARGIN_T + PLOT_H - val * scale
        out.append(f'<text x="{MARGIN_L - 6}" y="{y + 4:.1f}" text-anchor="end">{val}</text>')
    tick = max(1, steps // 16)
    for s in range(0, steps, tick):
        x = MARGIN_L + (s + 0.5) * sw
        out.append(f'<text x="{x:.1f}" y="{MARGIN_T + PLOT_H + 16}" text-anchor="middle">{s}'
                   "</text>")
    out.append(f'<text x="{MARGIN_L + PLOT_W / 2}" y="{MARGIN_T + PLOT_H + 34}" '
               'text-anchor="middle">schedule step</text>')
    out.append(f'<text x="14" y="{MARGIN_T + PLOT_H / 2}" transform="rotate(-90 14 '
               f'{MARGIN_T + PLOT_H / 2})" text-anchor="middle">arena offset (bytes)</text>')
    out.append("</svg>")
    return "\n".join(out)


_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px; }
table { border-collapse: collapse; margin-top: 12px; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td.l, th.l { text-align: left; }
tr.peak td { background: #fff2a8; }
svg text { font: 11px sans-serif; fill: #333; }
rect.buffer.hot { stroke: #000; stroke-width: 2; }
.figures span { margin-right: 18px; }
"""

_SCRIPT = """
(function () {
  var svg = document.getElementById('plan');
  var box = svg.getBoundingClientRect();
  document.body.setAttribute('data-plan-left', String(box.left + window.scrollX));
  document.body.setAttribute('data-plan-top', String(box.top + window.scrollY));
  var rects = svg.querySelectorAll('rect.buffer');
  for (var i = 0; i < rects.length; i++) {
    rects[i].addEventListener('mouseenter', function (e) { e.target.classList.add('hot'); });
    rects[i].addEventListener('mouseleave', function (e) { e.target.classList.remove('hot'); });
  }
  document.body.setAttribute('data-plan-ready', String(rects.length));
})();
"""


def _shapes(items: list[dict[str, Any]]) -> str:
    return "; ".join(f"{i['dtype']}[{','.join(map(str, i['shape']))}]" for i in items)


def render_html(data: dict[str, Any]) -> str:
    """The self-contained report page."""
    e = html.escape
    bound = max(data["lower_bound_bytes"], 1)
    rows = []
    for st in data["steps"]:
        cls = ' class="peak"' if st["step"] == data["peak_step"] else ""
        rows.append(
            f"<tr{cls}><td>{st['step']}</td><td class=\"l\">{e(st['op'])}</td>"
            f"<td class=\"l\">{e(st['node'])}</td><td class=\"l\">{e(_shapes(st['inputs']))}</td>"
            f"<td class=\"l\">{e(_shapes(st['outputs']))}</td><td>{st['macs']}</td>"
            f"<td>{st['params']}</td><td>{st['live_bytes']}</td>"
            f"<td class=\"l\">{e(st['overlap'])}</td>"
            f"<td>{st['scratch'] + st['workspace'] or ''}</td></tr>"
        )
    payload = json.dumps(data, sort_keys=True).replace("</", "<\\/")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>tinyc memory plan: {e(data['model'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Memory plan of {e(data['model'])}</h1>",
        '<p class="figures">'
        f"<span>arena <b id=\"arena\">{data['arena_bytes']}</b> B</span>"
        f"<span>no reuse {data['activations_bytes']} B</span>"
        f"<span>lower bound without in-place {data['lower_bound_bytes']} B</span>"
        f"<span>greedy-by-size {data['greedy_by_size_bytes']} B</span>"
        f"<span>ours / bound {data['arena_bytes'] / bound:.3f}</span>"
        f"<span>peak at step {data['peak_step']}: {e(', '.join(data['peak_buffers']))}</span>"
        "</p>",
        f"<p>plan: {e(data['variant'])} / {e(data['algorithm'])}, alignment {data['align']} B. "
        "Boxes are buffers (x: the schedule steps they are live, y: their bytes in the "
        "arena); grey boxes are kernel scratch and workspaces; the shaded column is the peak "
        "step.</p>",
        *[f"<p>{e(line)}</p>" for line in band_lines(data)],
        _svg(data),
        "<table><thead><tr><th>step</th><th class=\"l\">op</th><th class=\"l\">node</th>"
        "<th class=\"l\">inputs</th><th class=\"l\">outputs</th><th>MACs</th><th>params</th>"
        "<th>bytes live</th><th class=\"l\">in place</th><th>scratch B</th></tr></thead>",
        "<tbody>", *rows, "</tbody></table>",
        f'<script type="application/json" id="plan-data">{payload}</script>',
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]) + "\n"


def report_files(graph: Graph, plan: ArenaPlan, name: str = "") -> dict[str, str]:
    """`report.json` and `report.html` for an output directory."""
    data = report_data(graph, plan, name)
    return {
        "report.json": json.dumps(data, indent=1, sort_keys=True) + "\n",
        "report.html": render_html(data),
    }
