"""The shop's clock and months: a monthly limit and a settlement month are local calendar months.

Days and months are those of the configured zone (Asia/Shanghai by default): a monthly limit resets
at local midnight on the 1st, and "the same day" for a shopkeeper's void is the local calendar day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..clock import local_month
from ..database import utcnow
from ..errors import ValidationFailed
from ..i18n import request_gettext as _

# The clock of the shop; tests replace it to stand on either side of a month boundary.
clock: Callable[[], datetime] = utcnow


def parse_month(value: str) -> str:
    """A YYYY-MM string, checked; anything else is a 422."""
    try:
        parsed = datetime.strptime(value or "", "%Y-%m")
    except ValueError:
        parsed = None
    if parsed is None or len(value) != 7 or not 2000 <= parsed.year <= 2999:
        raise ValidationFailed(
            detail=_("The month must look like 2026-03."), errors={"month": [_("Use YYYY-MM.")]}
        )
    return value


def current_month() -> str:
    return local_month(clock())
