"""`pinned_time` sets the one clock every service reads (database.utcnow), for a block, in one thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from merit_bank.clock import local_today
from merit_bank.database import pinned_time, utcnow
from merit_bank.events import tokens
from merit_bank.shop import months as shop_months


def test_pinned_time_is_every_clock_within_the_block_and_only_there():
    moment = datetime(2026, 1, 31, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    before = utcnow()
    seen_elsewhere: list[datetime] = []
    with pinned_time(moment):
        assert utcnow() == moment and utcnow().tzinfo == UTC
        assert local_today().isoformat() == "2026-01-31"
        # The clocks the domains keep (tests replace them) are this same function.
        assert tokens.now() == moment and shop_months.clock() == moment
        with pinned_time(moment + timedelta(days=1)):
            assert utcnow() == moment + timedelta(days=1)
        assert utcnow() == moment
        thread = threading.Thread(target=lambda: seen_elsewhere.append(utcnow()))
        thread.start()
        thread.join()
    assert seen_elsewhere[0] >= before  # another thread keeps the real clock
    assert utcnow() >= before


def test_pinned_time_refuses_a_naive_moment():
    with pytest.raises(ValueError, match="naive"), pinned_time(datetime(2026, 1, 1)):
        pass
