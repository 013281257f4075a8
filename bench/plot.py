#!/usr/bin/env python3
"""Turn bench/results.json into the SVG plots the README shows.

    python3 bench/plot.py            # reads bench/results.json, writes bench/*.svg

Standard library only (the SVG is written by hand), so it runs on any
machine with Python 3. The Linux 6.1 reference figures are the ones issue 5
quotes, measured under the same QEMU set-up; under TCG all of them are TCG
costs, not hardware's.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Linux 6.1, Debian 686 (non-PAE, HIGHMEM4G), same QEMU, -smp 1, ns per pair.
LINUX_PAIRS = {
    "kmap_local highmem one page": 1138,
    "kmap_local lowmem one page": 35,
    "kmap_atomic highmem one page": 1108,
    "kmap highmem one page": 257,
    "kmap highmem 2048 pages": 591,
    "kmap_local highmem 2048 pages": 1303,
}
# Mops/s with 1 and 2 CPUs.
LINUX_TPUT = {
    "kmap_local private page": (0.9, 1.7),
    "kmap private page": (2.7, 1.8),
    "kmap with pool wraps": (1.6, 0.8),
}

COLORS = {"kmap": "#d95f02", "kmap_atomic": "#7570b3", "kmap_local": "#1b9e77", "floor": "#666666"}


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def bar_chart(pairs, path):
    """Horizontal bars: ns per map+unmap pair, ours, with Linux's as a mark."""
    # Per-pair costs only: the wrap's TLB flush is one flush (tens of us),
    # not a pair, and would squash every bar.
    rows = [r for r in pairs if r["name"].startswith(("kmap", "floor")) and "TLB flush" not in r["name"]]
    width, left, bar_h, gap = 900, 300, 18, 8
    top = 50
    height = top + len(rows) * (bar_h + gap) + 60
    scale_max = max([r["max_ns"] for r in rows] + list(LINUX_PAIRS.values())) * 1.05
    x = lambda ns: left + (width - left - 40) * ns / scale_max
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width/2}" y="22" text-anchor="middle" font-size="15">ns per map+unmap pair under TCG (median of 7 rounds; bar = ours, black tick = Linux 6.1)</text>']
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        flavour = "floor" if r["name"].startswith("floor") else r["name"].split()[0]
        out.append(f'<text x="{left - 8}" y="{y + bar_h - 4}" text-anchor="end">{esc(r["name"])}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{x(r["ns"]) - left:.1f}" height="{bar_h}" fill="{COLORS[flavour]}"/>')
        out.append(f'<line x1="{x(r["min_ns"]):.1f}" x2="{x(r["max_ns"]):.1f}" y1="{y + bar_h/2}" y2="{y + bar_h/2}" stroke="black" stroke-width="1"/>')
        out.append(f'<text x="{x(r["ns"]) + 4:.1f}" y="{y + bar_h - 4}">{r["ns"]}</text>')
        linux = LINUX_PAIRS.get(r["name"])
        if linux:
            out.append(f'<rect x="{x(linux) - 1.5:.1f}" y="{y - 3}" width="3" height="{bar_h + 6}" fill="black"/>')
            out.append(f'<text x="{x(linux) + 5:.1f}" y="{y + 10}" font-size="10">Linux {linux}</text>')
    axis_y = top + len(rows) * (bar_h + gap) + 10
    out.append(f'<line x1="{left}" x2="{width - 40}" y1="{axis_y}" y2="{axis_y}" stroke="black"/>')
    for t in range(0, int(scale_max) + 1, 200):
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{axis_y}" y2="{axis_y + 5}" stroke="black"/>')
        out.append(f'<text x="{x(t):.1f}" y="{axis_y + 18}" text-anchor="middle">{t}</text>')
    out.append(f'<text x="{(left + width)/2}" y="{axis_y + 36}" text-anchor="middle">ns</text></svg>')
    with open(path, "w") as f:
        f.write("\n".join(out))


def throughput_chart(values, path):
    """Aggregate Mops/s against the number of CPUs, ours solid, Linux dashed."""
    series = {}
    for r in values:
        n = r["name"]
        if n.startswith("throughput "):
            label, cpus = n[len("throughput "):].rsplit(", ", 1)
            series.setdefault(label, {})[int(cpus.split()[0])] = r["value"] / 1000.0
    width, height, left, bottom, top = 700, 420, 70, 60, 50
    ymax = max([v for s in series.values() for v in s.values()] + [v for p in LINUX_TPUT.values() for v in p]) * 1.15
    xs = sorted({c for s in series.values() for c in s} | {1, 2})
    X = lambda c: left + (width - left - 200) * (xs.index(c)) / max(1, len(xs) - 1)
    Y = lambda v: height - bottom - (height - bottom - top) * v / ymax
    palette = ["#1b9e77", "#d95f02", "#7570b3"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width/2}" y="22" text-anchor="middle" font-size="15">Aggregate throughput, all CPUs mapping at once (Mops/s)</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - 200}" y2="{height - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>']
    for c in xs:
        out.append(f'<text x="{X(c):.1f}" y="{height - bottom + 18}" text-anchor="middle">{c} CPU{"s" if c > 1 else ""}</text>')
    step = 0.5
    v = 0.0
    while v <= ymax:
        out.append(f'<text x="{left - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
        out.append(f'<line x1="{left}" x2="{width - 200}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" stroke="#eee"/>')
        v += step
    for i, (label, pts) in enumerate(sorted(series.items())):
        col = palette[i % len(palette)]
        ours = " ".join(f"{X(c):.1f},{Y(pts[c]):.1f}" for c in sorted(pts))
        out.append(f'<polyline points="{ours}" fill="none" stroke="{col}" stroke-width="3"/>')
        for c in sorted(pts):
            out.append(f'<circle cx="{X(c):.1f}" cy="{Y(pts[c]):.1f}" r="4" fill="{col}"/>')
        if label in LINUX_TPUT:
            lp = LINUX_TPUT[label]
            out.append(f'<polyline points="{X(1):.1f},{Y(lp[0]):.1f} {X(2):.1f},{Y(lp[1]):.1f}" fill="none" stroke="{col}" stroke-width="2" stroke-dasharray="6,4"/>')
        ly = top + 20 + i * 36
        out.append(f'<line x1="{width - 190}" x2="{width - 160}" y1="{ly}" y2="{ly}" stroke="{col}" stroke-width="3"/>')
        out.append(f'<text x="{width - 155}" y="{ly + 4}">{esc(label)}</text>')
        out.append(f'<line x1="{width - 190}" x2="{width - 160}" y1="{ly + 14}" y2="{ly + 14}" stroke="{col}" stroke-width="2" stroke-dasharray="6,4"/>')
        out.append(f'<text x="{width - 155}" y="{ly + 18}" font-size="10">Linux 6.1</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results.json")
    with open(src) as f:
        data = json.load(f)
    pairs = [r for r in data["results"] if r["kind"] == "pair" and not r["name"].startswith("IPI")]
    values = [r for r in data["results"] if r["kind"] == "value"]
    bar_chart(pairs, os.path.join(HERE, "per-pair.svg"))
    throughput_chart(values, os.path.join(HERE, "throughput.svg"))
    print("wrote bench/per-pair.svg and bench/throughput.svg")


if __name__ == "__main__":
    main()
