"""Report periods: local calendar days and months (Asia/Shanghai by default) turned into UTC bounds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l

from ..clock import local_midnight, local_today
from ..errors import ValidationFailed

# A report over more than ten years is a mistake, and bounding it keeps month buckets few.
MAX_DAYS = 3700
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Local calendar days `first`..`last`, both included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The first moment of the period, in UTC."""
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:
        """The first moment after the period, in UTC (the bound is exclusive)."""
        return local_midnight(self.last + timedelta(days=1))

    @property
    def label(self) -> str:
        if self.first.day == 1 and self.last == _next_month(self.first) - timedelta(days=1):
            return self.first.strftime("%Y-%m")
        if (self.first.month, self.first.day, self.last.month, self.last.day) == (1, 1, 12, 31) and (
            self.first.year == self.last.year
        ):
            return str(self.first.year)
        return f"{self.first.isoformat()} – {self.last.isoformat()}"

    def months(self) -> list[tuple[str, datetime, datetime]]:
        """(YYYY-MM, start, end) of every local month the period touches, clipped to the period."""
        result = []
        cursor = self.first
        while cursor <= self.last:
            following = _next_month(cursor.replace(day=1))
            stop = min(following, self.last + timedelta(days=1))
            result.append((cursor.strftime("%Y-%m"), local_midnight(cursor), local_midnight(stop)))
            cursor = following
        return result

    def month_keys(self) -> list[str]:
        return [m[0] for m in self.months()]

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "label": self.label}


def month_period(month: str) -> Period:
    """The period of one YYYY-MM month."""
    first = _parse_month(month, "month")
    return Period(first, _next_month(first) - timedelta(days=1))


def year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31))


def current_month() -> Period:
    return month_period(local_today().strftime("%Y-%m"))


def last_months(count: int, ending: date | None = None) -> Period:
    """The `count` whole local months ending with the month of `ending` (today by default)."""
    end_day = ending or local_today()
    first = end_day.replace(day=1)
    for _ in range(count - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return Period(first, _next_month(end_day.replace(day=1)) - timedelta(days=1))


def _parse_month(value: str, field: str) -> date:
    try:
        if not _MONTH.match(value or ""):
            raise ValueError(value)
        parsed = date(int(value[:4]), int(value[5:7]), 1)
    except ValueError:
        raise ValidationFailed(errors={field: [_l("Use YYYY-MM, e.g. 2026-03.")]}) from None
    if not 2000 <= parsed.year <= 2999:
        raise ValidationFailed(errors={field: [_l("The year must be between 2000 and 2999.")]})
    return parsed


def _parse_day(value: str, field: str) -> date:
    """A YYYY-MM-DD day; a YYYY-MM month is taken as its first day (or last, for `to`)."""
    if _MONTH.match(value or ""):
        first = _parse_month(value, field)
        return first if field == "from" else _next_month(first) - timedelta(days=1)
    try:
        if not _DAY.match(value or ""):
            raise ValueError(value)
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(errors={field: [_l("Use YYYY-MM-DD, e.g. 2026-03-31.")]}) from None
    if not 2000 <= parsed.year <= 2999:
        raise ValidationFailed(errors={field: [_l("The year must be between 2000 and 2999.")]})
    return parsed


def parse_period(
    start: str | None = None,
    end: str | None = None,
    month: str | None = None,
    year: int | str | None = None,
    default: Period | None = None,
) -> Period:
    """A period from query arguments: `from`/`to` days (or months), a `month`, or a `year`.

    With none of them, `default` (the current month unless given). Errors name the argument.
    """
    if month:
        return month_period(month)
    if year not in (None, ""):
        try:
            number = int(year)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = 0
        if not 2000 <= number <= 2999:
            raise ValidationFailed(errors={"year": [_l("The year must be between 2000 and 2999.")]})
        return year_period(number)
    if not start and not end:
        return default or current_month()
    first = _parse_day(start, "from") if start else None
    last = _parse_day(end, "to") if end else None
    if first is None:
        first = (last or local_today()).replace(day=1)
    if last is None:
        last = max(first, local_today())
    if last < first:
        raise ValidationFailed(errors={"to": [_l("The end is before the start.")]})
    if (last - first).days > MAX_DAYS:
        raise ValidationFailed(errors={"to": [_l("A report covers at most ten years.")]})
    return Period(first, last)
