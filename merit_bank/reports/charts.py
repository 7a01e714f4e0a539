"""Server-rendered SVG charts: no JavaScript, no CDN, sharp on a phone and on paper.

Each chart scales to its container's width (a viewBox and width 100%); text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

# One colour per council, in the order of the ledger's COUNCILS; readable on white and in greyscale.
PALETTE = ("#b22222", "#2e7d32", "#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#795548", "#546e7a")


def _fmt(value: float, percent: bool = False) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


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
    width, label_w, row_h, top = 600, 190, 26, 8
    height = top + row_h * max(1, len(rows)) + 8
    peak = max((abs(v) for _l, v in rows), default=0) or 1
    if percent:
        peak = max(peak, 1)
    bar_w = width - label_w - 70
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        parts.append(f'<text x="8" y="26" font-size="15" fill="#666">{escape("—")}</text>')
    for index, (label, value) in enumerate(rows):
        y = top + index * row_h
        length = max(0.0, abs(value) / peak * bar_w)
        text = label if len(label) <= 12 else label[:11] + "…"
        parts.append(
            f'<g class="bar"><text x="{label_w - 6}" y="{y + 17}" font-size="14" text-anchor="end" '
            f'fill="#222">{escape(text)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}" rx="3" '
            f'fill="{color}"><title>{escape(label)}: {_fmt(value, percent)}</title></rect>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 17}" font-size="13" fill="#444">'
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
    width, left, bottom, top = 600, 44, 28, 10
    legend_rows = (len(series) + 1) // 2
    plot_h = 200
    height = top + plot_h + bottom + legend_rows * 20 + 6
    totals = [sum(values[i] for _name, values in series) for i in range(len(categories))]
    peak = max(totals, default=0) or 1
    n = max(1, len(categories))
    slot = (width - left - 8) / n
    col_w = max(4.0, min(40.0, slot * 0.7))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 4}" y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 10}" font-size="12" text-anchor="end" fill="#666">'
        f"{_fmt(peak)}</text>",
        f'<text x="{left - 6}" y="{top + plot_h}" font-size="12" text-anchor="end" fill="#666">0</text>',
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
        if n <= 12 or i % max(1, n // 12) == 0:
            parts.append(
                f'<text x="{x + col_w / 2:.1f}" y="{top + plot_h + 18}" font-size="12" '
                f'text-anchor="middle" fill="#444">{escape(category[-5:])}</text>'
            )
    for s, (name, _values) in enumerate(series):
        lx = 8 + (s % 2) * 300
        ly = top + plot_h + bottom + (s // 2) * 20 + 4
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{lx + 18}" y="{ly + 11}" font-size="13" fill="#222">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
