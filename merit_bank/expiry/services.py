"""Points expiry: which points are unspent and old (first in, first out), the announcement, the run.

The rule (docs/ledger.md, "Expiry"): walk a household account's entries in chain order, leaving out every
transaction that was reversed and the reversal itself (the pair moved nothing). A credit is a lot of
points dated when it was posted; a debit (redemption, deduction, negative adjustment, an earlier expiry)
takes points from the oldest lots first; a debit larger than the lots leaves a debt that the next credits
pay first. On an expiry date the lots dated before the cutoff (the expiry date less the village's N
years, local days) expire: they are exactly the points earned more than N years before and not spent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..auth.models import User
from ..clock import local_midnight, local_today
from ..database import transaction, utcnow
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..ledger import services as ledger
from ..ledger.models import Account, Entry, Transaction
from ..villages.models import Village
from . import policy
from .models import ExpiryAnnouncement

NOTICE_DAYS = 30


# --- the FIFO rule ---------------------------------------------------------------------------------


def unspent_lots(movements: Iterable[tuple[datetime, int]]) -> tuple[list[tuple[datetime, int]], int]:
    """(lots still unspent, oldest first, as (earned at, points); debt still owed) after the movements.

    `movements` are (posted at, signed amount) of one household account in chain order, reversed
    pairs already left out.
    """
    lots: deque[list[Any]] = deque()
    owed = 0
    for at, amount in movements:
        if amount > 0:
            paid = min(owed, amount)
            owed -= paid
            if amount - paid:
                lots.append([at, amount - paid])
            continue
        need = -amount
        while need and lots:
            take = min(need, lots[0][1])
            lots[0][1] -= take
            need -= take
            if not lots[0][1]:
                lots.popleft()
        owed += need
    return [(at, points) for at, points in lots], owed


def _movements(village_id: int, household_id: int | None = None):
    """(household_id, posted at, amount) of the village's household accounts in chain order, reversed
    transactions and reversals left out."""
    reversed_ids = select(Transaction.reverses_id).where(
        Transaction.village_id == village_id, Transaction.reverses_id.is_not(None)
    )
    query = (
        select(Account.household_id, Transaction.created_at, Entry.amount)
        .join(Entry, Entry.account_id == Account.id)
        .join(Transaction, Transaction.id == Entry.transaction_id)
        .where(
            Account.village_id == village_id,
            Account.kind == "household",
            Transaction.kind != "reversal",
            Transaction.id.not_in(reversed_ids),
        )
        .order_by(Account.household_id, Transaction.seq)
    )
    if household_id is not None:
        query = query.where(Account.household_id == household_id)
    return db.session.execute(query)


def expiring_points(village_id: int, cutoff: date, household_id: int | None = None) -> dict[int, int]:
    """{household_id: points earned before the local day `cutoff` and still unspent}, positive only."""
    before = local_midnight(cutoff)
    by_household: dict[int, list[tuple[datetime, int]]] = {}
    for hid, at, amount in _movements(village_id, household_id):
        by_household.setdefault(hid, []).append((at, int(amount)))
    result = {}
    for hid, movements in by_household.items():
        lots, _owed = unspent_lots(movements)
        old = sum(points for at, points in lots if at < before)
        if old > 0:
            result[hid] = old
    return result


def cutoff_for(expires_on: date, years: int) -> date:
    try:
        return expires_on.replace(year=expires_on.year - years)
    except ValueError:  # 29 February, in a year without one
        return expires_on.replace(year=expires_on.year - years, day=28)


# --- announcements ---------------------------------------------------------------------------------


def _village(village_id: int) -> Village:
    village = db.session.get(Village, village_id)
    if village is None:
        raise NotFound("not-found", _l("No such village."))
    return village


def notice_deadline(expires_on: date) -> datetime:
    """The last moment an announcement for `expires_on` may be made: 30 days before the day begins."""
    return local_midnight(expires_on - timedelta(days=NOTICE_DAYS))


def default_date(village: Village, today: date) -> date:
    """The next occurrence of the village's expiry day that can still be announced in time."""
    month, day = (int(part) for part in village.expiry_day.split("-"))
    # Announced today, the 30 days must lie between now and the expiry day's midnight: today itself is
    # part gone, so the first day that can be announced is 31 days ahead.
    earliest = today + timedelta(days=NOTICE_DAYS + 1)
    candidate = date(earliest.year, month, day)
    return candidate if candidate >= earliest else date(earliest.year + 1, month, day)


def announce(actor: User, village_id: int, expires_on: date | None = None) -> ExpiryAnnouncement:
    """Announce an expiry (on the board and each affected villager's page) at least 30 days ahead."""
    policy.ensure_manages_expiry(actor, village_id)
    village = _village(village_id)
    if village.expiry_years is None:
        raise ValidationFailed(
            detail=_l("Points never expire in this village: set how many years they last first."),
            errors={"expiry_years": [_l("Points never expire in this village.")]},
        )
    if expires_on is None:
        expires_on = default_date(village, local_today())
    if utcnow() > notice_deadline(expires_on):
        raise ValidationFailed(
            detail=_l("An expiry must be announced at least %(n)d days before it.", n=NOTICE_DAYS),
            errors={"expires_on": [_l("At least %(n)d days from today.", n=NOTICE_DAYS)]},
        )
    with transaction():
        exists = db.session.scalar(
            select(ExpiryAnnouncement.id).where(
                ExpiryAnnouncement.village_id == village_id, ExpiryAnnouncement.expires_on == expires_on
            )
        )
        if exists is not None:
            raise DomainError("already-announced", _l("This expiry date is already announced."))
        announcement = ExpiryAnnouncement(
            village_id=village_id,
            expires_on=expires_on,
            years=village.expiry_years,
            cutoff=cutoff_for(expires_on, village.expiry_years),
            created_at=utcnow(),
            created_by_id=actor.id,
        )
        db.session.add(announcement)
        db.session.flush()
    return announcement


def announcements(village_id: int) -> list[ExpiryAnnouncement]:
    return list(
        db.session.scalars(
            select(ExpiryAnnouncement)
            .where(ExpiryAnnouncement.village_id == village_id)
            .order_by(ExpiryAnnouncement.expires_on.desc())
        )
    )


def pending(village_id: int) -> list[ExpiryAnnouncement]:
    """Announced and not yet run, soonest first (what the board and villagers' pages show); none while
    the village has turned expiry off (that cancels what was announced)."""
    village = db.session.get(Village, village_id)
    if village is None or village.expiry_years is None:
        return []
    return list(
        db.session.scalars(
            select(ExpiryAnnouncement)
            .where(ExpiryAnnouncement.village_id == village_id, ExpiryAnnouncement.run_at.is_(None))
            .order_by(ExpiryAnnouncement.expires_on)
        )
    )


def household_notices(village_id: int, household_id: int) -> list[dict[str, Any]]:
    """The pending expiries that would take points from this household if it spent nothing more."""
    notices = []
    for a in pending(village_id):
        points = expiring_points(village_id, a.cutoff, household_id).get(household_id, 0)
        if points:
            notices.append({"expires_on": a.expires_on, "cutoff": a.cutoff, "points": points})
    return notices


def overview(actor: User, village_id: int) -> dict[str, Any]:
    policy.ensure_sees_expiry(actor, village_id)
    village = _village(village_id)
    return {
        "village_id": village.id,
        "expiry_years": village.expiry_years,
        "expiry_day": village.expiry_day,
        "next_date": default_date(village, local_today()) if village.expiry_years else None,
        "announcements": announcements(village.id),
    }


def preview(actor: User, village_id: int, announcement_id: int) -> dict[str, Any]:
    """What the run would post now: per household, the points the FIFO rule says expire."""
    policy.ensure_sees_expiry(actor, village_id)
    a = get_announcement(village_id, announcement_id)
    points = expiring_points(village_id, a.cutoff)
    return {
        "announcement_id": a.id,
        "expires_on": a.expires_on,
        "cutoff": a.cutoff,
        "households": [{"household_id": h, "points": p} for h, p in sorted(points.items())],
        "points": sum(points.values()),
    }


def get_announcement(village_id: int, announcement_id: int) -> ExpiryAnnouncement:
    a = db.session.get(ExpiryAnnouncement, announcement_id)
    if a is None or a.village_id != village_id:
        raise NotFound("not-found", _l("No such expiry announcement."))
    return a


# --- the run ---------------------------------------------------------------------------------------


def idempotency_key(village_id: int, expires_on: date, household_id: int) -> str:
    return f"expiry:{village_id}:{expires_on.isoformat()}:{household_id}"


def run(announcement: ExpiryAnnouncement, actor_id: int | None) -> dict[str, Any]:
    """Post the expiry of one announcement; a second run posts nothing and returns the first's totals.

    Refused before the date, and when the announcement was made less than 30 days before it.
    """
    if _village(announcement.village_id).expiry_years is None:
        # Turning expiry off cancels every announced date: points never expire now.
        raise DomainError("expiry-off", _l("Points never expire in this village now."))
    if announcement.created_at > notice_deadline(announcement.expires_on):
        raise DomainError(
            "notice-too-short",
            _l("This expiry was not announced %(n)d days ahead, so it cannot run.", n=NOTICE_DAYS),
        )
    if local_today() < announcement.expires_on:
        raise DomainError(
            "not-yet", _l("This expiry falls on %(day)s.", day=announcement.expires_on.isoformat())
        )
    village_id = announcement.village_id
    with transaction():
        ledger.lock_village(village_id)
        db.session.refresh(announcement, with_for_update=True)
        if announcement.run_at is not None:
            return _summary(announcement, [])
        posted = []
        for household_id, points in sorted(expiring_points(village_id, announcement.cutoff).items()):
            key = idempotency_key(village_id, announcement.expires_on, household_id)
            if ledger.transaction_by_key(key) is not None:
                continue  # posted (and perhaps reversed) before: never twice
            tx = ledger.post(
                village_id=village_id,
                kind="expiry",
                # Expired points go back to the village's suspense account, the account the village
                # itself holds (docs/ledger.md): no council issued them back, so no issuing account.
                lines=[
                    (ledger.household_key(household_id), -points),
                    (ledger.suspense_key(village_id), points),
                ],
                idempotency_key=key,
                actor_id=actor_id,
            )
            posted.append((household_id, points, tx.id))
        announcement.run_at = utcnow()
        announcement.run_by_id = actor_id
        announcement.households = len(posted)
        announcement.points = sum(p for _h, p, _t in posted)
    return _summary(announcement, posted)


def _summary(a: ExpiryAnnouncement, posted: list[tuple[int, int, int]]) -> dict[str, Any]:
    return {
        "announcement_id": a.id,
        "village_id": a.village_id,
        "expires_on": a.expires_on,
        "cutoff": a.cutoff,
        "run_at": a.run_at,
        "households": a.households,
        "points": a.points,
        "transactions": [{"household_id": h, "points": p, "transaction_id": t} for h, p, t in posted],
    }


def run_announced(actor: User, village_id: int, announcement_id: int) -> dict[str, Any]:
    """An admin runs an announced expiry by hand (the cron command does the same for every due one)."""
    policy.ensure_manages_expiry(actor, village_id)
    return run(get_announcement(village_id, announcement_id), actor.id)


def due(village_id: int | None = None) -> list[ExpiryAnnouncement]:
    """Announcements whose day has come and that have not run, in villages that still let points expire."""
    query = (
        select(ExpiryAnnouncement)
        .join(Village, Village.id == ExpiryAnnouncement.village_id)
        .where(
            ExpiryAnnouncement.run_at.is_(None),
            ExpiryAnnouncement.expires_on <= local_today(),
            Village.expiry_years.is_not(None),
        )
    )
    if village_id is not None:
        query = query.where(ExpiryAnnouncement.village_id == village_id)
    return list(db.session.scalars(query.order_by(ExpiryAnnouncement.expires_on, ExpiryAnnouncement.id)))
