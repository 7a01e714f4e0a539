"""Server-rendered SVG charts: no JavaScript, no CDN, sharp on a phone and on paper.

Each chart scales to its container's width (a viewBox and width 100%), but never below MIN_WIDTH pixels
(reports.css: the card scrolls instead), so that no label is drawn smaller than MIN_LABEL_PX; text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

# One colour per council, in the order of the ledger's COUNCILS; readable on white and in greyscale.
PALETTE = ("#b22222", "#2e7d32", "#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#795548", "#546e7a")

# Drawn in a viewBox WIDTH units wide and shown at least MIN_WIDTH px wide (reports.css `svg.chart`), so
# a label of FONT units is at least FONT * MIN_WIDTH / WIDTH px: 14 → 13 px, 13 → 12.1 px.
WIDTH = 300
MIN_WIDTH = 280
MIN_LABEL_PX = 12
FONT = 14
SMALL_FONT = 13


def _fmt(value: float, percent: bool = False) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def _short(category: str) -> str:
    """2026-01 → 01; any other category as it is, cut to five characters."""
    if len(category) == 7 and category[4] == "-" and category[5:].isdigit():
        return category[5:]
    return category[-5:]


def hbar(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    color: str = PALETTE[0],
    percent: bool = False,
    limit: int = 30,
) -> Markup:
    """Horizontal bars, one per (label, value): long Chinese names stay readable on a narrow screen."""
    rows = list(items)[:limit]
    width, label_w, row_h, top = WIDTH, 116, 28, 6
    height = top + row_h * max(1, len(rows)) + 8
    peak = max((abs(v) for _l, v in rows), default=0) or 1
    if percent:
        peak = max(peak, 1)
    bar_w = width - label_w - 50
    parts = [
        f'<svg class="chart chart-small" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        parts.append(f'<text x="8" y="22" font-size="{FONT}" fill="#666">{escape("—")}</text>')
    for index, (label, value) in enumerate(rows):
        y = top + index * row_h
        length = max(0.0, abs(value) / peak * bar_w)
        # Eight Chinese characters fill the label column; the whole name is in the bar's tooltip.
        text = label if len(label) <= 8 else label[:7] + "…"
        parts.append(
            f'<g class="bar"><text x="{label_w - 6}" y="{y + 19}" font-size="{FONT}" text-anchor="end" '
            f'fill="#222">{escape(text)}</text>'
            f'<rect x="{label_w}" y="{y + 5}" width="{length:.1f}" height="{row_h - 10}" rx="3" '
            f'fill="{color}"><title>{escape(label)}: {_fmt(value, percent)}</title></rect>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 19}" font-size="{SMALL_FONT}" fill="#444">'
            f"{_fmt(value, percent)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_columns(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
) -> Markup:
    """Vertical columns per category (e.g. month), stacked by series (e.g. council), with a legend."""
    width, left, bottom, top = WIDTH, 48, 26, 10
    legend_rows = (len(series) + 1) // 2
    plot_h = 150
    height = top + plot_h + bottom + legend_rows * 22 + 6
    totals = [sum(values[i] for _name, values in series) for i in range(len(categories))]
    peak = max(totals, default=0) or 1
    n = max(1, len(categories))
    slot = (width - left - 8) / n
    col_w = max(3.0, min(30.0, slot * 0.7))
    parts = [
        f'<svg class="chart chart-wide" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 4}" y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 10}" font-size="{SMALL_FONT}" text-anchor="end" fill="#666">'
        f"{_fmt(peak)}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="{SMALL_FONT}" text-anchor="end" fill="#666">'
        "0</text>",
    ]
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - col_w) / 2
        y = top + plot_h
        for s, (name, values) in enumerate(series):
            value = values[i]
            if value <= 0:
                continue
            h = value / peak * plot_h
            y -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(category)} {escape(name)}: '
                f"{_fmt(value)}</title></rect>"
            )
        # A month (YYYY-MM) is labelled by its number alone: two digits fit a twelfth of the width.
        if n <= 12 or i % max(1, n // 12) == 0:
            parts.append(
                f'<text x="{x + col_w / 2:.1f}" y="{top + plot_h + 18}" font-size="{SMALL_FONT}" '
                f'text-anchor="middle" fill="#444">{escape(_short(category))}</text>'
            )
    for s, (name, _values) in enumerate(series):
        lx = 4 + (s % 2) * (width // 2)
        ly = top + plot_h + bottom + (s // 2) * 22 + 4
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{lx + 16}" y="{ly + 11}" font-size="{SMALL_FONT}" fill="#222">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
