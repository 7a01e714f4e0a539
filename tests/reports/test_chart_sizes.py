"""The dashboard's charts keep their labels readable: drawn so that, at the smallest width reports.css
lets a chart shrink to, no text is under 12 px."""

from __future__ import annotations

import re
from pathlib import Path

from merit_bank.reports import charts
from tests.reports.test_reports_pages import _login

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "reports.css"


def _min_width() -> float:
    rule = re.search(r"\.chart-card svg\.chart \{([^}]*)\}", CSS.read_text())
    assert rule, "reports.css sets how far a chart may shrink"
    return float(re.search(r"min-width:\s*(\d+)px", rule.group(1)).group(1))


def _smallest_label_px(svg: str) -> float:
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', svg)]
    assert sizes, "a chart with text"
    return min(sizes) * min(1.0, _min_width() / width)


def test_every_chart_kind_keeps_labels_at_12_px_or_more():
    assert _min_width() == charts.MIN_WIDTH
    long_names = [("禁毒禁赌会", 3), ("一个非常非常长的活动名称", 12345), ("二组", 0.5)]
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    series = [(f"理事会{i}", [float(i + m) for m in range(12)]) for i in range(6)]
    for svg in (
        charts.hbar(long_names, title="t"),
        charts.hbar(long_names, title="t", percent=True),
        charts.hbar([], title="empty"),
        charts.stacked_columns(months, series, title="t"),
    ):
        assert _smallest_label_px(str(svg)) >= 12, svg


def test_the_dashboard_charts_as_served_keep_labels_at_12_px_or_more(story, client):
    _login(client, story.app, story.clerk)
    html = client.get(f"/reports/?village_id={story.village}&month=2026-01").get_data(as_text=True)
    svgs = re.findall(r"<svg class=\"chart.*?</svg>", html, re.S)
    assert len(svgs) >= 6
    for svg in svgs:
        assert _smallest_label_px(svg) >= 12
        # The month axis is labelled by month number, not a cut-off "26-01".
        assert not any("26-0" in text for text in re.findall(r">([^<]*)</text>", svg))
