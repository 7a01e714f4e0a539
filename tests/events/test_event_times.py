"""Event times in the reader's words: the date on both ends when an event crosses midnight."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from merit_bank.events.views import time_span

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("start", "end", "zh", "en"),
    [
        (
            (2026, 11, 30, 20),
            (2026, 12, 1, 1),
            "11月30日 20:00 – 12月1日 01:00",
            "Nov 30 20:00 – Dec 1 01:00",
        ),
        ((2026, 11, 30, 9), (2026, 11, 30, 11, 30), "11月30日 09:00 – 11:30", "Nov 30 09:00 – 11:30"),
        ((2025, 12, 31, 22), (2026, 1, 1, 0, 30), "2025年12月31日 22:00 – 1月1日 00:30", None),
    ],
)
def test_a_span_that_crosses_midnight_shows_both_dates(app, start, end, zh, en):
    first, last = datetime(*start, tzinfo=SHANGHAI), datetime(*end, tzinfo=SHANGHAI)
    with app.test_request_context("/"):
        assert time_span(first, last) == zh
    if en:
        with app.test_request_context("/?lang=en"):
            assert time_span(first, last) == en
