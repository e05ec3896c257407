"""Inline SVG charts, made on the server from plain numbers. Pure; every label is HTML-escaped.

Only SVG presentation attributes are used (no inline style), so the page's Content-Security-Policy can forbid
inline styles and scripts altogether.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#6b7280")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 220, 40, 40, 10


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _frame(name: str, title: str, inner: str, legend: Sequence[str], peak: float) -> str:
    axis = (f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}" stroke="#9ca3af"/>'
            f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10">{_fmt(peak)}</text>'
            f'<text x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end" font-size="10">0</text>')
    keys = "".join(f'<li><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" '
                   f'fill="{PALETTE[i % len(PALETTE)]}"/></svg> {escape(label)}</li>' for i, label in enumerate(legend))
    return (f'<figure class="chart" data-chart="{escape(name)}"><figcaption>{escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">{axis}{inner}</svg>'
            f'<ul class="legend">{keys}</ul></figure>')


def stacked_bars(name: str, title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]]) -> str:
    """One bar per label, stacked by series ({series name: one value per label})."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    peak = max(totals, default=0) or 1
    slot = (WIDTH - LEFT) / max(len(labels), 1)
    bar = max(slot * 0.7, 1)
    parts = []
    for i, label in enumerate(labels):
        x = LEFT + i * slot + (slot - bar) / 2
        y: float = HEIGHT - BOTTOM
        for k, (serie, values) in enumerate(series.items()):
            value = values[i]
            if value <= 0:
                continue
            h = (HEIGHT - BOTTOM - TOP) * value / peak
            y -= h
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[k % len(PALETTE)]}" data-value="{_fmt(value)}">'
                         f'<title>{escape(label)} · {escape(serie)}: {_fmt(value)}</title></rect>')
        if len(labels) <= 16 or i % 2 == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
                         f'font-size="9">{escape(label[-5:])}</text>')
    return _frame(name, title, "".join(parts), list(series), peak)


def grouped_bars(name: str, title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]]) -> str:
    """Bars side by side per label, one per series."""
    peak = max((v for values in series.values() for v in values), default=0) or 1
    slot = (WIDTH - LEFT) / max(len(labels), 1)
    bar = max(slot * 0.8 / max(len(series), 1), 1)
    parts = []
    for i, label in enumerate(labels):
        x0 = LEFT + i * slot + slot * 0.1
        for k, (serie, values) in enumerate(series.items()):
            value = values[i]
            h = (HEIGHT - BOTTOM - TOP) * value / peak
            parts.append(f'<rect class="bar" x="{x0 + k * bar:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}" data-value="{_fmt(value)}">'
                         f'<title>{escape(label)} · {escape(serie)}: {_fmt(value)}</title></rect>')
        if len(labels) <= 16 or i % 2 == 0:
            parts.append(f'<text x="{x0 + slot * 0.4:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
                         f'font-size="9">{escape(label[-5:])}</text>')
    return _frame(name, title, "".join(parts), list(series), peak)


def horizontal_bars(name: str, title: str, rows: Sequence[tuple[str, float, str]], peak: float = 0) -> str:
    """One bar per row: (label, value, text shown after the bar)."""
    peak = peak or max((v for _, v, _ in rows), default=0) or 1
    line = 22
    height = max(len(rows) * line + 10, 40)
    parts = []
    for i, (label, value, shown) in enumerate(rows):
        y = 5 + i * line
        w = (WIDTH - 250 - 170) * value / peak
        parts.append(f'<text x="0" y="{y + 14}" font-size="11">{escape(label[:40])}</text>'
                     f'<rect class="bar" x="250" y="{y}" width="{max(w, 1):.1f}" height="16" fill="{PALETTE[0]}" '
                     f'data-value="{_fmt(value)}"><title>{escape(label)}: {escape(shown)}</title></rect>'
                     f'<text x="{255 + w:.1f}" y="{y + 13}" font-size="11">{escape(shown)}</text>')
    return (f'<figure class="chart" data-chart="{escape(name)}"><figcaption>{escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">{"".join(parts)}</svg>'
            f'</figure>')
