"""How long a browser session lasts: months on a villager's own phone (sliding), a working day for staff.

A villager scans an event code perhaps once a month; typing the PIN each time is what keeps people away.
Their session therefore lasts VILLAGER_SESSION_DAYS and is renewed as they use it, while it still ends at
once on logout, a PIN change or "log out on every device" (token generations, see services). Staff sessions
keep WEB_SESSION_HOURS: their pages move points for others.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app

from .models import User
from .policy import is_villager


def lifetime(user: User) -> timedelta:
    if is_villager(user):
        return timedelta(days=current_app.config["VILLAGER_SESSION_DAYS"])
    return timedelta(hours=current_app.config["WEB_SESSION_HOURS"])


def is_sliding(user: User) -> bool:
    return is_villager(user)


def due_for_renewal(user: User, payload: dict[str, Any], now: datetime) -> bool:
    """A sliding session is renewed once a day of use, not on every page (each renewal signs a token)."""
    if not is_sliding(user):
        return False
    issued = datetime.fromtimestamp(payload.get("iat", 0), UTC)
    return now - issued >= timedelta(seconds=current_app.config["VILLAGER_SESSION_RENEW_SECONDS"])


def expires_at(payload: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(payload["exp"], UTC)
