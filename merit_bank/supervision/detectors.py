"""The flag computations: each reads one set of villages and one period with a few aggregate queries.

Every query filters by village and time first (indexes in migration 0013) and groups in the database;
Python only looks at the grouped rows (a few per person or household) and at the short lists of staff.
A detector returns Findings; services.py stores them as flags and writes their reasons.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, cast, func, or_, select

from ..auth.models import User
from ..claims.models import Claim, ClaimAction
from ..clock import local_zone
from ..database import is_sqlite
from ..extensions import db
from ..households.models import Household, Member
from ..ledger.models import Account, Entry, Transaction
from ..reports.periods import Period
from ..reports.services import month_bucket, period_transactions
from ..shop.models import Redemption, RedemptionVoid
from . import policy
from .thresholds import Thresholds

CODES = (
    "staff_share",
    "staff_colleague_approved",
    "reciprocal_approvals",
    "approval_fast",
    "approval_bulk",
    "approval_night",
    "approval_dominant",
    "late_entries",
    "adjustments",
    "voids_by_person",
    "voids_soon",
    "household_jump",
)


@dataclass
class Finding:
    code: str
    village_id: int
    period: str
    subject: str
    figures: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.code}|{self.village_id}|{self.period}|{self.subject}"


def evidence(kind: str, ids: Sequence[int | None], limit: int) -> list[dict[str, Any]]:
    """Evidence items of one kind, each id once, in order, at most `limit`."""
    seen = list(dict.fromkeys(i for i in ids if i is not None))
    return [{"kind": kind, "id": int(i)} for i in seen[:limit]]


def period_label(period: Period) -> str:
    return f"{period.first.isoformat()}..{period.last.isoformat()}"


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


# --- SQL expressions that differ between SQLite and PostgreSQL ---------------------------------------


def seconds_between(later: Any, earlier: Any) -> ColumnElement[float]:
    if is_sqlite():
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def local_hour(column: Any, at: datetime) -> ColumnElement[int]:
    """The local hour (0–23) of a timestamp column.

    PostgreSQL converts in the zone itself; SQLite has no zones, so the zone's offset at `at` (the period's
    start) is added: exact for zones without daylight saving, Asia/Shanghai among them.
    """
    zone = local_zone()
    if is_sqlite():
        offset = at.astimezone(zone).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        return cast(func.strftime("%H", column, f"{minutes:+d} minutes"), Integer)
    return cast(func.extract("hour", func.timezone(zone.key, column)), Integer)


def time_window(column: Any, minutes: int) -> ColumnElement[int]:
    """The number of the fixed window of `minutes` a timestamp falls in (counted from the epoch)."""
    width = max(1, minutes) * 60
    if is_sqlite():
        return cast(func.strftime("%s", column), Integer) // width
    return cast(func.floor(func.extract("epoch", column) / width), Integer)


# --- who works in the villages -------------------------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    user_id: int
    village_id: int
    household_id: int | None
    name: str
    user: User


def village_staff(village_ids: Sequence[int]) -> list[Staff]:
    """Admins, clerks and shopkeepers of the villages, with the household each is linked to (if any)."""
    rows = db.session.execute(
        select(User, Member.household_id)
        .outerjoin(Member, Member.id == User.member_id)
        .where(User.village_id.in_(list(village_ids)), policy.village_staff_roles())
        .order_by(User.id)
    ).all()
    return [
        Staff(user.id, user.village_id, household_id, user.display_name or user.username, user)
        for user, household_id in rows
        if policy.is_village_staff(user)
    ]


# --- staff households ----------------------------------------------------------------------------------


def _earned_by_household(village_ids: Sequence[int], period: Period) -> dict[tuple[int, int], int]:
    """(village, household) → points earned in the period (awards net of their reversals)."""
    tx = period_transactions(village_ids, period, ("award", "reversal"))
    he = Entry.__table__.alias("he")
    ha = Account.__table__.alias("ha")
    rows = db.session.execute(
        select(tx.c.village_id, ha.c.household_id, func.sum(he.c.amount))
        .select_from(tx)
        .join(he, he.c.transaction_id == tx.c.id)
        .join(ha, and_(ha.c.id == he.c.account_id, ha.c.kind == "household"))
        .where(tx.c.cls == "earn")
        .group_by(tx.c.village_id, ha.c.household_id)
    )
    return {(v, h): int(a or 0) for v, h, a in rows}


def _household_counts(village_ids: Sequence[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(Household.village_id, func.count())
        .where(Household.village_id.in_(list(village_ids)), Household.active.is_(True))
        .group_by(Household.village_id)
    )
    return {v: int(n) for v, n in rows}


def _awards_to(
    village_ids: Sequence[int], household_ids: Sequence[int], start: datetime, end: datetime
) -> list[tuple]:
    """(household, transaction id, points, time) of the period's awards to some households, oldest first."""
    if not household_ids:
        return []
    t = Transaction.__table__
    e = Entry.__table__
    a = Account.__table__
    return db.session.execute(
        select(a.c.household_id, t.c.id, e.c.amount, t.c.created_at)
        .select_from(t)
        .join(e, e.c.transaction_id == t.c.id)
        .join(a, a.c.id == e.c.account_id)
        .where(
            t.c.village_id.in_(list(village_ids)),
            t.c.created_at >= start,
            t.c.created_at < end,
            t.c.kind == "award",
            a.c.kind == "household",
            a.c.household_id.in_(list(household_ids)),
        )
        .order_by(t.c.created_at, t.c.id)
    ).all()


def staff_share(
    village_ids: Sequence[int], period: Period, staff: list[Staff], th: Thresholds
) -> list[Finding]:
    """Staff households' share of the village's points against their share of the village's households."""
    staff_households: dict[int, dict[int, list[Staff]]] = defaultdict(lambda: defaultdict(list))
    for s in staff:
        if s.household_id is not None:
            staff_households[s.village_id][s.household_id].append(s)
    if not staff_households:
        return []
    earned = _earned_by_household(list(staff_households), period)
    counts = _household_counts(list(staff_households))
    findings = []
    for village_id, households in staff_households.items():
        total = sum(points for (v, _h), points in earned.items() if v == village_id)
        mine = sum(earned.get((village_id, h), 0) for h in households)
        n_all = counts.get(village_id, 0)
        share_points, share_households = _ratio(mine, total), _ratio(len(households), n_all)
        if mine < th.staff_share_min_points or share_points < th.staff_share_ratio * share_households:
            continue
        awards = _awards_to([village_id], list(households), period.start, period.end)
        users = [s.user_id for group in households.values() for s in group]
        findings.append(
            Finding(
                "staff_share",
                village_id,
                period_label(period),
                "village",
                {
                    "staff_households": len(households),
                    "households": n_all,
                    "staff_points": mine,
                    "points": total,
                    "share_points": share_points,
                    "share_households": share_households,
                },
                evidence("household", list(households), th.evidence_limit)
                + evidence("user", users, th.evidence_limit)
                + evidence("transaction", [tx for _h, tx, _p, _at in awards], th.evidence_limit),
            )
        )
    return findings


def staff_colleague_approved(
    village_ids: Sequence[int], period: Period, staff: list[Staff], th: Thresholds
) -> list[Finding]:
    """Every posting to a staff household approved (or adjusted in) by a colleague of the same village."""
    by_household = {(s.village_id, s.household_id): s for s in staff if s.household_id is not None}
    if not by_household:
        return []
    colleagues = {(s.village_id, s.user_id) for s in staff}
    household_ids = [h for _v, h in by_household]
    approvals = db.session.execute(
        select(
            Claim.village_id,
            Claim.household_id,
            Claim.id,
            Claim.transaction_id,
            Claim.points,
            ClaimAction.actor_id,
        )
        .join(ClaimAction, and_(ClaimAction.claim_id == Claim.id, ClaimAction.action == "approve"))
        .where(
            Claim.household_id.in_(household_ids),
            Claim.village_id.in_(list(village_ids)),
            Claim.status == "posted",
            Claim.posted_at >= period.start,
            Claim.posted_at < period.end,
        )
        .order_by(Claim.posted_at, Claim.id)
    ).all()
    t = Transaction.__table__
    e = Entry.__table__
    a = Account.__table__
    adjustments = db.session.execute(
        select(t.c.village_id, a.c.household_id, t.c.id, e.c.amount, t.c.actor_id)
        .select_from(t)
        .join(e, e.c.transaction_id == t.c.id)
        .join(a, and_(a.c.id == e.c.account_id, a.c.kind == "household"))
        .where(
            t.c.village_id.in_(list(village_ids)),
            t.c.kind == "adjustment",
            t.c.created_at >= period.start,
            t.c.created_at < period.end,
            a.c.household_id.in_(household_ids),
            e.c.amount > 0,
        )
        .order_by(t.c.created_at, t.c.id)
    ).all()
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for village_id, household_id, claim_id, tx_id, points, approver in approvals:
        if (village_id, approver) not in colleagues or (village_id, household_id) not in by_household:
            continue
        row = found.setdefault(
            (village_id, household_id), {"claims": {}, "txs": [], "approvers": [], "adj": {}}
        )
        row["claims"][claim_id] = points
        row["txs"].append(tx_id)
        row["approvers"].append(approver)
    for village_id, household_id, tx_id, amount, actor in adjustments:
        if (village_id, actor) not in colleagues or (village_id, household_id) not in by_household:
            continue
        row = found.setdefault(
            (village_id, household_id), {"claims": {}, "txs": [], "approvers": [], "adj": {}}
        )
        row["adj"][tx_id] = int(amount)
        row["txs"].append(tx_id)
        row["approvers"].append(actor)
    findings = []
    for (village_id, household_id), row in found.items():
        postings = len(row["claims"]) + len(row["adj"])
        if postings < th.staff_colleague_min_postings:
            continue
        member = by_household[(village_id, household_id)]
        findings.append(
            Finding(
                "staff_colleague_approved",
                village_id,
                period_label(period),
                f"h{household_id}",
                {
                    "staff_user_id": member.user_id,
                    "household_id": household_id,
                    "postings": postings,
                    "points": sum(row["claims"].values()) + sum(row["adj"].values()),
                    "approver_ids": list(dict.fromkeys(row["approvers"])),
                },
                evidence("household", [household_id], 1)
                + evidence("user", [member.user_id, *row["approvers"]], th.evidence_limit)
                + evidence("transaction", row["txs"], th.evidence_limit)
                + evidence("claim", list(row["claims"]), th.evidence_limit),
            )
        )
    return findings


# --- approvals -----------------------------------------------------------------------------------------


def _approvals(village_ids: Sequence[int], period: Period) -> list[ColumnElement[bool]]:
    """The period's approve actions of the villages' claims (join ClaimAction to Claim first)."""
    return [
        ClaimAction.action == "approve",
        ClaimAction.created_at >= period.start,
        ClaimAction.created_at < period.end,
        Claim.village_id.in_(list(village_ids)),
    ]


def _approval_claims(
    period: Period,
    wanted: Sequence[tuple[Any, ...]],
    columns: Sequence[Any],
    extra: Sequence[ColumnElement[bool]],
    limit: int,
) -> dict[tuple[Any, ...], list[int]]:
    """Evidence for several findings at once: {(village, actor, *columns): approved claim ids, oldest first}.

    One query for all the findings of a detector, not one per finding: each would scan the period's approvals.
    """
    if not wanted:
        return {}
    keys = set(wanted)
    villages = sorted({k[0] for k in keys})
    actors = sorted({k[1] for k in keys})
    rows = db.session.execute(
        select(Claim.village_id, ClaimAction.actor_id, *columns, Claim.id)
        .select_from(ClaimAction)
        .join(Claim, Claim.id == ClaimAction.claim_id)
        .where(*_approvals(villages, period), ClaimAction.actor_id.in_(actors), *extra)
        .order_by(ClaimAction.created_at, Claim.id)
    )
    found: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for row in rows:
        key = tuple(row[:-1])
        if key in keys and len(found[key]) < limit:
            found[key].append(row[-1])
    return found


def reciprocal_approvals(
    village_ids: Sequence[int], period: Period, staff: list[Staff], th: Thresholds
) -> list[Finding]:
    """Two reviewers who mostly approve the claims filed by or for each other's households."""
    by_household: dict[int, list[Staff]] = defaultdict(list)
    by_user = {s.user_id: s for s in staff}
    for s in staff:
        if s.household_id is not None:
            by_household[s.household_id].append(s)
    if not staff:
        return []
    rows = db.session.execute(
        select(ClaimAction.actor_id, Claim.household_id, Claim.created_by_id, Claim.id)
        .select_from(ClaimAction)
        .join(Claim, Claim.id == ClaimAction.claim_id)
        .where(
            *_approvals(village_ids, period),
            or_(Claim.household_id.in_(list(by_household) or [0]), Claim.created_by_id.in_(list(by_user))),
        )
    ).all()
    # approvals[(approver, related staff)] = claim ids; related[staff] = every approved claim of theirs.
    approvals: dict[tuple[int, int], set[int]] = defaultdict(set)
    related: dict[int, set[int]] = defaultdict(set)
    for approver, household_id, created_by, claim_id in rows:
        people = {s.user_id for s in by_household.get(household_id, [])}
        if created_by in by_user:
            people.add(created_by)
        for person in people:
            related[person].add(claim_id)
            if approver != person:
                approvals[(approver, person)].add(claim_id)
    findings = []
    for (a, b), a_for_b in approvals.items():
        if a >= b or a not in by_user or by_user[a].village_id != by_user[b].village_id:
            continue
        b_for_a = approvals.get((b, a), set())
        share_ab, share_ba = _ratio(len(a_for_b), len(related[b])), _ratio(len(b_for_a), len(related[a]))
        if min(len(a_for_b), len(b_for_a)) < th.reciprocal_min_each:
            continue
        if min(share_ab, share_ba) < th.reciprocal_min_share:
            continue
        findings.append(
            Finding(
                "reciprocal_approvals",
                by_user[a].village_id,
                period_label(period),
                f"u{a}-u{b}",
                {
                    "user_a": a,
                    "user_b": b,
                    "a_for_b": len(a_for_b),
                    "b_claims": len(related[b]),
                    "b_for_a": len(b_for_a),
                    "a_claims": len(related[a]),
                },
                evidence("user", [a, b], 2) + evidence("claim", sorted(a_for_b | b_for_a), th.evidence_limit),
            )
        )
    return findings


def approval_fast(village_ids: Sequence[int], period: Period, th: Thresholds) -> list[Finding]:
    """Reviewers who approve claims seconds after they are filed."""
    quick = seconds_between(ClaimAction.created_at, Claim.created_at) < th.fast_seconds
    rows = db.session.execute(
        select(
            Claim.village_id,
            ClaimAction.actor_id,
            func.count(),
            func.sum(case((quick, 1), else_=0)),
        )
        .select_from(ClaimAction)
        .join(Claim, Claim.id == ClaimAction.claim_id)
        .where(*_approvals(village_ids, period), ClaimAction.actor_id.is_not(None))
        .group_by(Claim.village_id, ClaimAction.actor_id)
    ).all()
    fired = [(v, a, total, fast) for v, a, total, fast in rows if int(fast or 0) >= th.fast_min_count]
    claims_of = _approval_claims(period, [(v, a) for v, a, _t, _f in fired], [], [quick], th.evidence_limit)
    findings = []
    for village_id, actor_id, total, fast in fired:
        claims = claims_of.get((village_id, actor_id), [])
        findings.append(
            Finding(
                "approval_fast",
                village_id,
                period_label(period),
                f"u{actor_id}",
                {"user_id": actor_id, "fast": int(fast), "approvals": int(total), "seconds": th.fast_seconds},
                evidence("user", [actor_id], 1) + evidence("claim", claims, th.evidence_limit),
            )
        )
    return findings


def approval_night(village_ids: Sequence[int], period: Period, th: Thresholds) -> list[Finding]:
    """Reviewers who approve at night, local time."""
    hour = local_hour(ClaimAction.created_at, period.start)
    if th.night_start_hour > th.night_end_hour:
        at_night = or_(hour >= th.night_start_hour, hour < th.night_end_hour)
    else:
        at_night = and_(hour >= th.night_start_hour, hour < th.night_end_hour)
    rows = db.session.execute(
        select(Claim.village_id, ClaimAction.actor_id, func.count(), func.sum(case((at_night, 1), else_=0)))
        .select_from(ClaimAction)
        .join(Claim, Claim.id == ClaimAction.claim_id)
        .where(*_approvals(village_ids, period), ClaimAction.actor_id.is_not(None))
        .group_by(Claim.village_id, ClaimAction.actor_id)
    ).all()
    fired = [(v, a, total, night) for v, a, total, night in rows if int(night or 0) >= th.night_min_count]
    claims_of = _approval_claims(
        period, [(v, a) for v, a, _t, _n in fired], [], [at_night], th.evidence_limit
    )
    findings = []
    for village_id, actor_id, total, night in fired:
        claims = claims_of.get((village_id, actor_id), [])
        findings.append(
            Finding(
                "approval_night",
                village_id,
                period_label(period),
                f"u{actor_id}",
                {
                    "user_id": actor_id,
                    "night": int(night),
                    "approvals": int(total),
                    "from_hour": th.night_start_hour,
                    "to_hour": th.night_end_hour,
                },
                evidence("user", [actor_id], 1) + evidence("claim", claims, th.evidence_limit),
            )
        )
    return findings


def approval_bulk(village_ids: Sequence[int], period: Period, th: Thresholds) -> list[Finding]:
    """Reviewers who approve many claims within a few minutes (a batch nobody can have read)."""
    window = time_window(ClaimAction.created_at, th.bulk_window_minutes).label("window")
    windows = (
        select(Claim.village_id, ClaimAction.actor_id, window)
        .select_from(ClaimAction)
        .join(Claim, Claim.id == ClaimAction.claim_id)
        .where(*_approvals(village_ids, period), ClaimAction.actor_id.is_not(None))
        .subquery()
    )
    rows = db.session.execute(
        select(windows.c.village_id, windows.c.actor_id, windows.c.window, func.count())
        .group_by(windows.c.village_id, windows.c.actor_id, windows.c.window)
        .having(func.count() >= th.bulk_min_count)
    ).all()
    grouped: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for village_id, actor_id, number, count in rows:
        grouped[(village_id, actor_id)].append((int(number), int(count)))
    in_windows = time_window(ClaimAction.created_at, th.bulk_window_minutes)
    claims_of = _approval_claims(
        period,
        [(v, a, int(n)) for v, a, n, _c in rows],
        [in_windows],
        [in_windows.in_(sorted({int(n) for _v, _a, n, _c in rows}) or [0])],
        th.evidence_limit,
    )
    findings = []
    for (village_id, actor_id), found in grouped.items():
        claims = [c for n, _c in found for c in claims_of.get((village_id, actor_id, n), [])]
        findings.append(
            Finding(
                "approval_bulk",
                village_id,
                period_label(period),
                f"u{actor_id}",
                {
                    "user_id": actor_id,
                    "windows": len(found),
                    "largest": max(c for _n, c in found),
                    "approvals": sum(c for _n, c in found),
                    "minutes": th.bulk_window_minutes,
                },
                evidence("user", [actor_id], 1) + evidence("claim", claims, th.evidence_limit),
            )
        )
    return findings


def approval_dominant(
    village_ids: Sequence[int], period: Period, staff: list[Staff], th: Thresholds
) -> list[Finding]:
    """One reviewer approving most of a council's claims in a village while other reviewers exist."""
    rows = db.session.execute(
        select(Claim.village_id, Claim.council, ClaimAction.actor_id, func.count(func.distinct(Claim.id)))
        .select_from(ClaimAction)
        .join(Claim, Claim.id == ClaimAction.claim_id)
        .where(*_approvals(village_ids, period), ClaimAction.actor_id.is_not(None))
        .group_by(Claim.village_id, Claim.council, ClaimAction.actor_id)
    ).all()
    totals = db.session.execute(
        select(Claim.village_id, Claim.council, func.count(func.distinct(Claim.id)))
        .select_from(ClaimAction)
        .join(Claim, Claim.id == ClaimAction.claim_id)
        .where(*_approvals(village_ids, period))
        .group_by(Claim.village_id, Claim.council)
    ).all()
    total = {(v, c): int(n) for v, c, n in totals}
    fired = []
    for village_id, council, actor_id, count in rows:
        claims_total = total.get((village_id, council), 0)
        share = _ratio(int(count), claims_total)
        if claims_total < th.dominant_min_claims or share < th.dominant_share:
            continue
        others = [
            s.user_id
            for s in staff
            if s.village_id == village_id
            and s.user_id != actor_id
            and s.user.active
            and policy.reviews_council(s.user, council)
        ]
        if others:
            fired.append((village_id, council, actor_id, int(count), claims_total, share, others))
    claims_of = _approval_claims(
        period, [(v, a, c) for v, c, a, *_rest in fired], [Claim.council], [], th.evidence_limit
    )
    findings = []
    for village_id, council, actor_id, count, claims_total, share, others in fired:
        claims = claims_of.get((village_id, actor_id, council), [])
        findings.append(
            Finding(
                "approval_dominant",
                village_id,
                period_label(period),
                f"{council}:u{actor_id}",
                {
                    "user_id": actor_id,
                    "council": council,
                    "approved": int(count),
                    "claims": claims_total,
                    "share": share,
                    "other_reviewers": len(others),
                },
                evidence("user", [actor_id, *others], th.evidence_limit)
                + evidence("claim", claims, th.evidence_limit),
            )
        )
    return findings


# --- late entries, adjustments, voids ---------------------------------------------------------------------


def late_entries(village_ids: Sequence[int], period: Period, th: Thresholds) -> list[Finding]:
    """Late entries (补录) by the person who entered them, per month."""
    months = period.months()
    bucketed = (
        select(Claim.village_id, month_bucket(Claim.created_at, months).label("month"), Claim.entered_by_id)
        .where(
            Claim.village_id.in_(list(village_ids)),
            Claim.created_at >= period.start,
            Claim.created_at < period.end,
            Claim.late_entry.is_(True),
        )
        .subquery()
    )
    rows = db.session.execute(
        select(bucketed.c.village_id, bucketed.c.month, bucketed.c.entered_by_id, func.count())
        .group_by(bucketed.c.village_id, bucketed.c.month, bucketed.c.entered_by_id)
        .having(func.count() >= th.late_min_count)
    ).all()
    bounds = {key: (start, end) for key, start, end in months}
    findings = []
    for village_id, month, person, count in rows:
        start, end = bounds[month]
        claims = db.session.scalars(
            select(Claim.id)
            .where(
                Claim.village_id == village_id,
                Claim.created_at >= start,
                Claim.created_at < end,
                Claim.late_entry.is_(True),
                Claim.entered_by_id.is_(None) if person is None else Claim.entered_by_id == person,
            )
            .order_by(Claim.created_at, Claim.id)
            .limit(th.evidence_limit)
        ).all()
        findings.append(
            Finding(
                "late_entries",
                village_id,
                month,
                f"u{person}",
                {"user_id": person, "month": month, "count": int(count)},
                evidence("user", [person], 1) + evidence("claim", claims, th.evidence_limit),
            )
        )
    return findings


def adjustments(village_ids: Sequence[int], period: Period, th: Thresholds) -> list[Finding]:
    """Adjustments (manual corrections through the suspense account) by person, per month."""
    months = period.months()
    t = Transaction.__table__
    e = Entry.__table__
    a = Account.__table__
    bucketed = (
        select(
            t.c.village_id,
            month_bucket(t.c.created_at, months).label("month"),
            t.c.actor_id,
            func.abs(e.c.amount).label("points"),
        )
        .select_from(t)
        .join(e, e.c.transaction_id == t.c.id)
        .join(a, and_(a.c.id == e.c.account_id, a.c.kind == "suspense"))
        .where(
            t.c.village_id.in_(list(village_ids)),
            t.c.kind == "adjustment",
            t.c.created_at >= period.start,
            t.c.created_at < period.end,
        )
        .subquery()
    )
    rows = db.session.execute(
        select(
            bucketed.c.village_id,
            bucketed.c.month,
            bucketed.c.actor_id,
            func.count(),
            func.sum(bucketed.c.points),
        ).group_by(bucketed.c.village_id, bucketed.c.month, bucketed.c.actor_id)
    ).all()
    bounds = {key: (start, end) for key, start, end in months}
    findings = []
    for village_id, month, actor_id, count, points in rows:
        if int(count) < th.adjust_min_count and int(points or 0) < th.adjust_min_points:
            continue
        start, end = bounds[month]
        txs = db.session.scalars(
            select(t.c.id)
            .where(
                t.c.village_id == village_id,
                t.c.kind == "adjustment",
                t.c.created_at >= start,
                t.c.created_at < end,
                t.c.actor_id.is_(None) if actor_id is None else t.c.actor_id == actor_id,
            )
            .order_by(t.c.created_at, t.c.id)
            .limit(th.evidence_limit)
        ).all()
        findings.append(
            Finding(
                "adjustments",
                village_id,
                month,
                f"u{actor_id}",
                {"user_id": actor_id, "month": month, "count": int(count), "points": int(points or 0)},
                evidence("user", [actor_id], 1) + evidence("transaction", txs, th.evidence_limit),
            )
        )
    return findings


def voids(village_ids: Sequence[int], period: Period, th: Thresholds) -> list[Finding]:
    """Voids by the person who voided, per month: how many against their redemptions, and how many soon."""
    months = period.months()
    soon = seconds_between(RedemptionVoid.created_at, Redemption.created_at) < th.void_soon_minutes * 60
    voided = (
        select(
            Redemption.village_id,
            month_bucket(RedemptionVoid.created_at, months).label("month"),
            RedemptionVoid.actor_id,
            case((soon, 1), else_=0).label("soon"),
        )
        .join(Redemption, Redemption.id == RedemptionVoid.redemption_id)
        .where(
            Redemption.village_id.in_(list(village_ids)),
            RedemptionVoid.created_at >= period.start,
            RedemptionVoid.created_at < period.end,
        )
        .subquery()
    )
    rows = db.session.execute(
        select(
            voided.c.village_id, voided.c.month, voided.c.actor_id, func.count(), func.sum(voided.c.soon)
        ).group_by(voided.c.village_id, voided.c.month, voided.c.actor_id)
    ).all()
    if not rows:
        return []
    sold = (
        select(
            Redemption.village_id,
            month_bucket(Redemption.created_at, months).label("month"),
            Redemption.actor_id,
        )
        .where(
            Redemption.village_id.in_(list(village_ids)),
            Redemption.created_at >= period.start,
            Redemption.created_at < period.end,
        )
        .subquery()
    )
    redemptions = {
        (v, m, a): int(n)
        for v, m, a, n in db.session.execute(
            select(sold.c.village_id, sold.c.month, sold.c.actor_id, func.count()).group_by(
                sold.c.village_id, sold.c.month, sold.c.actor_id
            )
        )
    }
    bounds = {key: (start, end) for key, start, end in months}
    findings = []
    for village_id, month, actor_id, count, soon_count in rows:
        count, soon_count = int(count), int(soon_count or 0)
        made = redemptions.get((village_id, month, actor_id), 0)
        rate = _ratio(count, made) if made else 1.0
        many = count >= th.void_min_count and rate >= th.void_min_rate
        quick = soon_count >= th.void_soon_min_count
        if not (many or quick):
            continue
        start, end = bounds[month]
        ids = db.session.execute(
            select(RedemptionVoid.redemption_id, case((soon, 1), else_=0))
            .join(Redemption, Redemption.id == RedemptionVoid.redemption_id)
            .where(
                Redemption.village_id == village_id,
                RedemptionVoid.created_at >= start,
                RedemptionVoid.created_at < end,
                RedemptionVoid.actor_id.is_(None)
                if actor_id is None
                else RedemptionVoid.actor_id == actor_id,
            )
            .order_by(RedemptionVoid.created_at, RedemptionVoid.id)
        ).all()
        figures = {"user_id": actor_id, "month": month, "voids": count, "redemptions": made, "rate": rate}
        if many:
            findings.append(
                Finding(
                    "voids_by_person",
                    village_id,
                    month,
                    f"u{actor_id}",
                    figures,
                    evidence("user", [actor_id], 1)
                    + evidence("redemption", [r for r, _s in ids], th.evidence_limit),
                )
            )
        if quick:
            findings.append(
                Finding(
                    "voids_soon",
                    village_id,
                    month,
                    f"u{actor_id}",
                    {**figures, "soon": soon_count, "minutes": th.void_soon_minutes},
                    evidence("user", [actor_id], 1)
                    + evidence("redemption", [r for r, s in ids if s], th.evidence_limit),
                )
            )
    return findings


# --- households far above their village --------------------------------------------------------------------


def household_jumps(village_ids: Sequence[int], period: Period, th: Thresholds) -> list[Finding]:
    """Households whose month's points lie far above the village's distribution for that month.

    Robust statistics (median and MAD) over the households that earned that month: one favoured household
    cannot drag the bar up with it, as it would a mean and standard deviation.
    """
    months = period.months()
    tx = period_transactions(village_ids, period, ("award", "reversal"))
    he = Entry.__table__.alias("he")
    ha = Account.__table__.alias("ha")
    bucketed = (
        select(
            tx.c.village_id,
            month_bucket(tx.c.created_at, months).label("month"),
            ha.c.household_id,
            he.c.amount,
        )
        .select_from(tx)
        .join(he, he.c.transaction_id == tx.c.id)
        .join(ha, and_(ha.c.id == he.c.account_id, ha.c.kind == "household"))
        .where(tx.c.cls == "earn")
        .subquery()
    )
    rows = db.session.execute(
        select(
            bucketed.c.village_id, bucketed.c.month, bucketed.c.household_id, func.sum(bucketed.c.amount)
        ).group_by(bucketed.c.village_id, bucketed.c.month, bucketed.c.household_id)
    ).all()
    cells: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
    for village_id, month, household_id, points in rows:
        if int(points or 0) > 0:
            cells[(village_id, month)][household_id] = int(points)
    fired = []
    for (village_id, month), households in cells.items():
        if len(households) < th.jump_min_households:
            continue
        values = list(households.values())
        median = statistics.median(values)
        mad = statistics.median(abs(v - median) for v in values) * 1.4826
        bar = max(median + th.jump_mad_k * mad, th.jump_min_ratio * median, th.jump_min_points)
        fired += [
            (village_id, month, household_id, points, median, bar, len(households))
            for household_id, points in households.items()
            if points > bar
        ]
    awards = _monthly_awards(
        sorted({f[0] for f in fired}), sorted({f[2] for f in fired}), period, th.evidence_limit
    )
    findings = []
    for village_id, month, household_id, points, median, bar, n in fired:
        findings.append(
            Finding(
                "household_jump",
                village_id,
                month,
                f"h{household_id}",
                {
                    "household_id": household_id,
                    "month": month,
                    "points": points,
                    "median": round(float(median), 1),
                    "bar": round(float(bar), 1),
                    "households": n,
                },
                evidence("household", [household_id], 1)
                + evidence("transaction", awards.get((household_id, month), []), th.evidence_limit),
            )
        )
    return findings


def _monthly_awards(
    village_ids: Sequence[int], household_ids: Sequence[int], period: Period, limit: int
) -> dict[tuple[int, str], list[int]]:
    """{(household, month): award transaction ids, oldest first} for a few households, in one query."""
    if not household_ids:
        return {}
    found: dict[tuple[int, str], list[int]] = defaultdict(list)
    months = period.months()
    for household_id, tx_id, _points, at in _awards_to(village_ids, household_ids, period.start, period.end):
        month = next((key for key, _start, end in months if at < end), "")
        if len(found[(household_id, month)]) < limit:
            found[(household_id, month)].append(tx_id)
    return found


def run_all(village_ids: Sequence[int], period: Period, th: Thresholds) -> list[Finding]:
    if not village_ids:
        return []
    staff = village_staff(village_ids)
    findings: list[Finding] = []
    findings += staff_share(village_ids, period, staff, th)
    findings += staff_colleague_approved(village_ids, period, staff, th)
    findings += reciprocal_approvals(village_ids, period, staff, th)
    findings += approval_fast(village_ids, period, th)
    findings += approval_bulk(village_ids, period, th)
    findings += approval_night(village_ids, period, th)
    findings += approval_dominant(village_ids, period, staff, th)
    findings += late_entries(village_ids, period, th)
    findings += adjustments(village_ids, period, th)
    findings += voids(village_ids, period, th)
    findings += household_jumps(village_ids, period, th)
    return findings
