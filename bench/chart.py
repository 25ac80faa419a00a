"""The chart of docs/benchmarks.md: median wall time of bridge-n against N, drawn as plain SVG by hand."""

from __future__ import annotations

import math

COLOURS = ("#d62728", "#1f77b4")


def tick_step(top: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts 0..top into about five parts."""
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def scaling_svg(series: dict[str, list[tuple[int, float]]]) -> str:
    """One line with dots per series of (N, seconds), with axes, a grid and a legend."""
    width, height, left, right, top, bottom = 640, 400, 64, 24, 44, 52
    base, points = height - bottom, [p for line in series.values() for p in line]
    x_max = max(n for n, _ in points)
    step = tick_step(max(t for _, t in points))
    y_max = step * math.ceil(max(t for _, t in points) / step)

    def x(n: float) -> str:
        return f"{left + n / x_max * (width - left - right):.1f}"

    def y(t: float) -> str:
        return f"{base - t / y_max * (base - top):.1f}"

    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">')
    out = [svg]
    out.append(f'<rect width="{width}" height="{height}" fill="white"/>')
    out.append(f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">'
               "bridge-n: wall time against N (median)</text>")
    for index in range(round(y_max / step) + 1):
        t = index * step
        out.append(f'<line x1="{left}" y1="{y(t)}" x2="{width - right}" y2="{y(t)}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{float(y(t)) + 4:.1f}" text-anchor="end">{t:g}</text>')
    sizes = {n for n, _ in points}
    for n in sorted(sizes | ({0} if min(sizes) > x_max / 10 else set())):  # a 0 would crowd a small first N
        out.append(f'<line x1="{x(n)}" y1="{base}" x2="{x(n)}" y2="{base + 5}" stroke="black"/>')
        out.append(f'<text x="{x(n)}" y="{base + 19}" text-anchor="middle">{n}</text>')
    out.append(f'<polyline points="{left},{top} {left},{base} {width - right},{base}" fill="none" '
               'stroke="black"/>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">'
               "N (namespaces on the bridge)</text>")
    out.append(f'<text transform="translate(18 {(top + base) / 2}) rotate(-90)" text-anchor="middle">'
               "seconds (wall)</text>")
    for index, ((name, line), colour) in enumerate(zip(series.items(), COLOURS, strict=False)):
        coords = " ".join(f"{x(n)},{y(t)}" for n, t in sorted(line))
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{x(n)}" cy="{y(t)}" r="3.5" fill="{colour}"/>' for n, t in line]
        legend = top + 12 + 20 * index
        out.append(f'<line x1="{left + 16}" y1="{legend}" x2="{left + 40}" y2="{legend}" stroke="{colour}" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{left + 48}" y="{legend + 4}">{name}</text>')
    return "\n".join(out + ["</svg>"]) + "\n"
