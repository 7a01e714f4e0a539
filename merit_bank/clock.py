"""Local time of the deployment: its zone (Asia/Shanghai unless TIMEZONE says otherwise) and local days.

Days, months and notice periods are counted in the village's calendar while moments are stored in UTC;
every domain asks this module rather than building its own ZoneInfo.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from .database import utcnow

DEFAULT_ZONE = "Asia/Shanghai"


def local_zone() -> ZoneInfo:
    """The deployment's zone; outside an application (a script, a test helper) the default zone."""
    name = current_app.config.get("TIMEZONE", DEFAULT_ZONE) if has_app_context() else DEFAULT_ZONE
    return ZoneInfo(name)


def local_date(moment: datetime) -> date:
    """The calendar day of a moment in the local zone."""
    return moment.astimezone(local_zone()).date()


def local_today() -> date:
    return local_date(utcnow())


def local_now() -> datetime:
    return utcnow().astimezone(local_zone())


def local_midnight(day: date) -> datetime:
    """The UTC moment a local calendar day begins."""
    return datetime.combine(day, time(), local_zone()).astimezone(UTC)


def local_month(moment: datetime) -> str:
    """YYYY-MM of a moment in the local zone."""
    return moment.astimezone(local_zone()).strftime("%Y-%m")
