"""Small inline-SVG charts for the report: no plotting library, no network, a few KB each.

Every chart is an `<svg class="plot">` so the browser test can check that each one rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

WIDTH = 640
COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948")
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _open(height: int, title: str) -> list[str]:
    return [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
        f'<text x="4" y="14" font-size="13" font-weight="600">{escape(title)}</text>',
    ]


def human(value: float) -> str:
    """1234 → 1.2k, 5600000 → 5.6M."""
    value = float(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if value != int(value) else str(int(value))


def hbars(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str) -> str:
    """Horizontal bars, one group per label, one bar per series (e.g. docs in and out)."""
    row = 10 * len(series) + 8
    height = 40 + row * len(labels)
    left, right = 150, 60
    peak = max([max(values, default=0) for _, values in series] + [1])
    scale = (WIDTH - left - right) / peak
    parts = _open(height, title)
    for s, (name, _) in enumerate(series):
        x = left + s * 130
        parts.append(f'<rect x="{x}" y="22" width="10" height="10" fill="{COLORS[s]}"/>')
        parts.append(f'<text x="{x + 14}" y="31">{escape(name)}</text>')
    for i, label in enumerate(labels):
        top = 38 + i * row
        parts.append(
            f'<text x="{left - 6}" y="{top + row / 2 + 2}" text-anchor="end">{escape(label)}</text>'
        )
        for s, (_, values) in enumerate(series):
            width = max(values[i] * scale, 0.5 if values[i] else 0)
            y = top + s * 10
            parts.append(
                f'<rect x="{left}" y="{y}" width="{width:.1f}" height="9" fill="{COLORS[s]}"/>'
            )
            parts.append(f'<text x="{left + width + 4:.1f}" y="{y + 8}">{human(values[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    edges: Sequence[float],
    series: Sequence[tuple[str, Sequence[int]]],
    title: str,
    x_label: str,
    log_x: bool,
    threshold: float | None = None,
    density: bool = False,
) -> str:
    """Overlaid histograms over shared bins; log-spaced bins are drawn equally wide."""
    edges = np.asarray(edges, dtype=float)
    counts = [np.asarray(c, dtype=float) for _, c in series]
    if density:
        counts = [c / c.sum() if c.sum() else c for c in counts]
    used = np.flatnonzero(np.sum(counts, axis=0) > 0) if counts else np.array([], int)
    first, last = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, len(edges) - 1)
    if threshold is not None and not log_x:
        first, last = 0, len(edges) - 1  # score axes stay 0..1 so the cut is in view
    height, left, bottom, top = 220, 50, 34, 40
    plot_w, plot_h = WIDTH - left - 16, height - top - bottom
    bins = last - first
    bar_w = plot_w / max(bins, 1)
    peak = max([c[first:last].max(initial=0) for c in counts] + [1e-12])
    parts = _open(height, title)
    for s, (name, _) in enumerate(series):
        x = left + s * 150
        parts.append(f'<rect x="{x}" y="22" width="10" height="10" fill="{COLORS[s]}"/>')
        parts.append(f'<text x="{x + 14}" y="31">{escape(name)}</text>')
    for k in range(4):  # y grid
        y = top + plot_h - plot_h * k / 3
        value = peak * k / 3
        label = f"{value:.0%}" if density else human(round(value))
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - 16}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">{label}</text>')
    for s, c in enumerate(counts):
        for b in range(first, last):
            if c[b] <= 0:
                continue
            h = plot_h * c[b] / peak
            x = left + (b - first) * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{COLORS[s]}" fill-opacity="0.6"/>'
            )
    for b in range(first, last + 1):  # x ticks
        edge = edges[b]
        if log_x and not (edge == 0 or np.isclose(np.log10(edge), round(np.log10(edge)))):
            continue
        if not log_x and not np.isclose((edge * 4) % 1, 0):
            continue
        x = left + (b - first) * bar_w
        parts.append(
            f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle">'
            f"{human(edge)}</text>"
        )
    if threshold is not None and first <= np.searchsorted(edges, threshold) <= last:
        position = np.interp(threshold, edges, np.arange(len(edges)))
        x = left + (position - first) * bar_w
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{top + plot_h}" '
            f'stroke="#c00" stroke-dasharray="4 3"/>'
            f'<text x="{x + 4:.1f}" y="{top + 6}" fill="#c00">threshold {threshold:g}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">'
        f"{escape(x_label)}</text></svg>"
    )
    return "".join(parts)


def line(points: Sequence[Sequence[float]], title: str, x_label: str, y_label: str) -> str:
    """One line through (x, y) points from the origin, e.g. vocabulary growth."""
    height, left, bottom, top = 220, 56, 34, 30
    plot_w, plot_h = WIDTH - left - 16, height - top - bottom
    xs = np.array([0.0] + [p[0] for p in points])
    ys = np.array([0.0] + [p[1] for p in points])
    x_max, y_max = max(xs.max(), 1.0), max(ys.max(), 1.0)
    parts = _open(height, title)
    path = " ".join(
        f"{left + plot_w * x / x_max:.1f},{top + plot_h - plot_h * y / y_max:.1f}"
        for x, y in zip(xs, ys, strict=True)
    )
    for k in range(4):
        y = top + plot_h - plot_h * k / 3
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - 16}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">{human(y_max * k / 3)}</text>'
        )
        x = left + plot_w * k / 3
        parts.append(
            f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle">'
            f"{human(x_max * k / 3)}</text>"
        )
    parts.append(f'<polyline points="{path}" fill="none" stroke="{COLORS[0]}" stroke-width="2"/>')
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">'
        f'{escape(x_label)}</text><text x="12" y="{top + plot_h / 2}" '
        f'transform="rotate(-90 12 {top + plot_h / 2})" text-anchor="middle">'
        f"{escape(y_label)}</text></svg>"
    )
    return "".join(parts)
