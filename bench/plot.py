#!/usr/bin/env python3
"""A hand-written SVG grouped bar chart of req/s per scenario per system.

The y axis is logarithmic (the ceiling and a password-hashing endpoint differ
by four orders of magnitude); each bar is labelled with its p99 latency.

    plot.py RESULTS.json [OUT.svg]     re-draw a chart from a results file
"""
import json
import math
import sys
from html import escape

COLOURS = {
    "bare": "#7f7f7f",
    "doorman-sqlite": "#1f77b4",
    "doorman-postgres": "#17becf",
    "djoser-sqlite": "#d62728",
    "djoser-postgres": "#ff9896",
}


def _ms(v):
    if v is None:
        return "–"
    if v >= 1000:
        return f"{v / 1000:.1f}s"
    if v >= 10:
        return f"{v:.0f}ms"
    return f"{v:.1f}ms"


def svg(report):
    systems = [s["system"] for s in report["systems"]]
    scenarios = []
    for s in report["systems"]:
        for r in s["results"]:
            if r["scenario"] not in scenarios:
                scenarios.append(r["scenario"])
    value = {(s["system"], r["scenario"]): r for s in report["systems"] for r in s["results"]}
    rps = [r["rps"] for r in value.values() if r["rps"]]
    top = 10 ** math.ceil(math.log10(max(rps))) if rps else 10
    bottom = 10 ** math.floor(math.log10(min(rps))) if rps else 1
    bottom = min(bottom, 1.0)

    bar_w, gap = 22, 26
    group_w = {sc: sum(1 for sy in systems if (sy, sc) in value) * bar_w for sc in scenarios}
    left, right, top_pad, plot_h, bottom_pad = 70, 20, 60, 360, 110
    width = left + sum(group_w.values()) + gap * (len(scenarios) + 1) + right
    width = max(width, 640)
    height = top_pad + plot_h + bottom_pad

    def y(v):
        v = max(v, bottom)
        return top_pad + plot_h * (1 - (math.log10(v) - math.log10(bottom)) / (math.log10(top) - math.log10(bottom)))

    m = report.get("machine", {})
    st = report.get("settings", {})
    title = (f"req/s per scenario (log scale; bar labels: p99) — {report.get('date', '')}, "
             f"{m.get('nproc', '?')} × {m.get('cpu_model', '?')}, "
             f"{st.get('connections', '?')} conns, {st.get('duration_s', '?')} s each")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="13" font-weight="bold">{escape(title)}</text>']
    # grid and y axis labels at powers of ten
    p = int(round(math.log10(bottom)))
    while 10 ** p <= top * 1.0001:
        yy = y(10 ** p)
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - right}" y2="{yy:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{10 ** p:,}</text>')
        p += 1
    out.append(f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#333"/>')
    out.append(f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" y2="{top_pad + plot_h}" stroke="#333"/>')
    out.append(f'<text transform="translate(16,{top_pad + plot_h / 2}) rotate(-90)" text-anchor="middle">requests / second</text>')

    x = left + gap
    for sc in scenarios:
        gx = x
        for sy in systems:
            r = value.get((sy, sc))
            if r is None:
                continue
            v = r["rps"] or 0
            yy = y(v) if v > 0 else top_pad + plot_h
            h = top_pad + plot_h - yy
            errs = r["non_2xx"] + sum(r["socket_errors"].values())
            tip = f"{sy} {sc}: {v:,.1f} req/s, p50 {_ms(r['p50_ms'])}, p99 {_ms(r['p99_ms'])}, errors {errs}"
            out.append(f'<rect x="{x}" y="{yy:.1f}" width="{bar_w - 2}" height="{h:.1f}" '
                       f'fill="{COLOURS.get(sy, "#999")}"><title>{escape(tip)}</title></rect>')
            label = _ms(r["p99_ms"]) + ("*" if errs else "")
            lx, ly = x + (bar_w - 2) / 2 + 4, yy - 4
            out.append(f'<text transform="translate({lx:.1f},{ly:.1f}) rotate(-90)" font-size="9">{escape(label)}</text>')
            x += bar_w
        out.append(f'<text x="{(gx + x) / 2:.1f}" y="{top_pad + plot_h + 16}" text-anchor="middle">{escape(sc)}</text>')
        x += gap
    # legend
    lx, ly = left, top_pad + plot_h + 40
    for sy in systems:
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{COLOURS.get(sy, "#999")}"/>')
        out.append(f'<text x="{lx + 16}" y="{ly}">{escape(sy)}</text>')
        lx += 30 + 7 * len(sy)
    out.append(f'<text x="{left}" y="{ly + 24}" fill="#555">* = some requests failed (non-2xx or socket errors); '
               f'see the JSON. wrk ran on the same machine.</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        rep = json.load(f)
    dest = sys.argv[2] if len(sys.argv) > 2 else sys.argv[1].rsplit(".", 1)[0] + ".svg"
    with open(dest, "w") as f:
        f.write(svg(rep))
    print(dest)
