"""Reports computed from the ledger: rankings, the 红黑榜, village statistics and the county comparison.

Every point figure is read from ledger entries, classified by the kind of their transaction (a reversal
counts with the kind it reverses, at the time it was posted), so over all time a household's "earned"
equals the ledger's cached `earned_total`. Non-point figures (check-ins, goods, claims) come from the
events, shop and claims tables. Nothing here writes.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, case, func, literal, select, text
from sqlalchemy.sql import Select

from ..auth.models import User
from ..auth.scope import ensure_village, visible_village_ids
from ..clock import local_zone
from ..database import is_sqlite
from ..errors import NotFound
from ..extensions import db
from ..households.models import Household
from ..ledger.models import COUNCILS, Account, Entry, Transaction
from ..villages.models import Village, VillageGroup
from ..villages.ordering import ranks, row_key
from ..villages.services import groups_in_order
from . import policy
from .periods import Period

DEFAULT_TOP = 10

# --- scope ------------------------------------------------------------------------------------------


def analytic_reads(*, whole_result: bool = False) -> None:
    """Prepare the read transaction for report queries on PostgreSQL.

    No JIT: report queries are estimated as costly (they aggregate months of entries), so PostgreSQL
    would compile them, which alone takes ~0.5 s; they run in well under that without it. With
    `whole_result`, a cursor is planned for its total time rather than its first rows: right for an
    export that aggregates the whole ledger before its first row (balances), wrong for one that can
    start streaming at once (the ledger). SET LOCAL ends with the transaction.
    """
    if not is_sqlite():
        db.session.execute(text("SET LOCAL jit = off"))
        if whole_result:
            db.session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))


def report_village(actor: User, village_id: int | None) -> Village:
    """The village a report is about: given, or the actor's own; out of scope is 404."""
    policy.ensure_reads_reports(actor)
    if village_id is None:
        village_id = actor.village_id
    if village_id is None:
        raise NotFound("not-found", _l("Choose a village."))
    ensure_village(actor, village_id)
    village = db.session.get(Village, village_id)
    if village is None:
        raise NotFound("not-found", _l("No such village."))
    return village


def report_villages(actor: User, village_id: int | None) -> list[int] | None:
    """Village ids a county-wide report or export may cover (None = all), narrowed to one if asked."""
    policy.ensure_reads_reports(actor)
    if village_id is not None:
        return [report_village(actor, village_id).id]
    return visible_village_ids(actor)


def report_group(village: Village, group_id: int | None) -> VillageGroup | None:
    if group_id is None:
        return None
    group = db.session.get(VillageGroup, group_id)
    if group is None or group.village_id != village.id:
        raise NotFound("not-found", _l("No such group in this village."))
    return group


# --- classifying ledger entries ---------------------------------------------------------------------

_t = Transaction.__table__.alias("t")
_orig = Transaction.__table__.alias("orig")


def point_class(t=_t, orig=_orig) -> ColumnElement[str]:
    """'earn', 'deduct', 'spend', 'expire' or 'other' for a transaction; a reversal takes its original's.

    The original's kind is a scalar subquery evaluated for reversals only (CASE is lazy), so a report
    never joins the whole transaction table to find the few transactions that were reversed.
    """
    reversed_kind = select(orig.c.kind).where(orig.c.id == t.c.reverses_id).scalar_subquery()
    kind = case((t.c.kind == "reversal", reversed_kind), else_=t.c.kind)
    return case(
        (kind == "award", literal("earn")),
        (kind == "deduction", literal("deduct")),
        (kind == "redemption", literal("spend")),
        (kind == "expiry", literal("expire")),
        else_=literal("other"),
    )


def _in_period(t, period: Period | None) -> list[ColumnElement[bool]]:
    if period is None:
        return []
    return [t.c.created_at >= period.start, t.c.created_at < period.end]


def _village_filter(t, village_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    if village_ids is None:
        return []
    if len(village_ids) == 1:
        return [t.c.village_id == village_ids[0]]
    return [t.c.village_id.in_(list(village_ids))]


def period_transactions(village_ids: Sequence[int] | None, period: Period | None, kinds: Sequence[str]):
    """The period's transactions of some kinds, with their class, as a CTE computed first.

    On PostgreSQL the CTE is MATERIALIZED: the planner must start from the (village, time) filtered
    transactions and reach their entries by index, never from the accounts' whole history.
    """
    query = (
        select(_t.c.id, _t.c.village_id, _t.c.created_at, point_class().label("cls"))
        .select_from(_t)
        .where(_t.c.kind.in_(list(kinds)), *_village_filter(_t, village_ids), *_in_period(_t, period))
    )
    return query.cte("period_tx").prefix_with("MATERIALIZED", dialect="postgresql")


def scored_entries(village_ids: Sequence[int] | None, period: Period | None) -> Select:
    """Household legs of awards, deductions and their reversals, with the council that issued them.

    Columns: village_id, created_at, household_id, council, cls ('earn'|'deduct'), amount (signed, on
    the household). Every such transaction has exactly one household leg and one issuing leg.
    """
    tx = period_transactions(village_ids, period, ("award", "deduction", "reversal"))
    he = Entry.__table__.alias("he")
    ie = Entry.__table__.alias("ie")
    ha = Account.__table__.alias("ha")
    ia = Account.__table__.alias("ia")
    return (
        select(tx.c.village_id, tx.c.created_at, ha.c.household_id, ia.c.council, tx.c.cls, he.c.amount)
        .select_from(tx)
        .join(he, he.c.transaction_id == tx.c.id)
        .join(ha, and_(ha.c.id == he.c.account_id, ha.c.kind == "household"))
        .join(ie, ie.c.transaction_id == tx.c.id)
        .join(ia, and_(ia.c.id == ie.c.account_id, ia.c.kind == "issuing"))
        .where(tx.c.cls.in_(("earn", "deduct")))
    )


def _household_points(village_id: int, period: Period | None) -> dict[int, dict[str, int]]:
    """Per household: earned, deducted (a positive number) and the covenant's share of deducted."""
    scored = scored_entries([village_id], period).subquery()
    rows = db.session.execute(
        select(scored.c.household_id, scored.c.cls, scored.c.council, func.sum(scored.c.amount)).group_by(
            scored.c.household_id, scored.c.cls, scored.c.council
        )
    )
    points: dict[int, dict[str, int]] = defaultdict(lambda: {"earned": 0, "deducted": 0, "covenant": 0})
    for household_id, cls, council, amount in rows:
        row = points[household_id]
        amount = int(amount or 0)
        if cls == "earn":
            row["earned"] += amount
        elif cls == "deduct":
            row["deducted"] -= amount
            if council == "covenant":
                row["covenant"] -= amount
    return points


# --- rankings ---------------------------------------------------------------------------------------


def _ranked(rows: list[dict[str, Any]], group_order: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Competition ranking on points earned: equal points share a rank, the next rank skips (1, 2, 2, 4).

    Within equal points rows follow the village's order of groups (`group_order`, see villages/ordering.py).
    """
    order = group_order or {}
    rows.sort(
        key=lambda r: (-r["earned"], r["deducted"], row_key(order, r["group"]), r["head_name"], r["code"])
    )
    rank = 0
    previous: int | None = None
    for position, row in enumerate(rows, start=1):
        if row["earned"] != previous:
            rank, previous = position, row["earned"]
        row["rank"] = rank
    by_rank: dict[int, int] = defaultdict(int)
    for row in rows:
        by_rank[row["rank"]] += 1
    for row in rows:
        row["tied"] = by_rank[row["rank"]] > 1
    return rows


def rankings(
    actor: User, village_id: int | None, period: Period, group_id: int | None = None
) -> dict[str, Any]:
    """Every household of a village (or one 村民小组) ranked by points earned in the period.

    Deductions are shown apart (`deducted`, a positive number) and never netted into the rank.
    """
    village = report_village(actor, village_id)
    group = report_group(village, group_id)
    analytic_reads()
    return _rankings(village, period, group)


def _rankings(village: Village, period: Period, group: VillageGroup | None) -> dict[str, Any]:
    points = _household_points(village.id, period)
    query = (
        select(Household.id, Household.code, Household.head_name, VillageGroup.name, Household.active)
        .outerjoin(VillageGroup, VillageGroup.id == Household.group_id)
        .where(Household.village_id == village.id)
    )
    if group is not None:
        query = query.where(Household.group_id == group.id)
    rows = []
    for household_id, code, head_name, group_name, active in db.session.execute(query):
        figures = points.get(household_id, {"earned": 0, "deducted": 0, "covenant": 0})
        if not active and not any(figures.values()):
            continue
        rows.append(
            {
                "household_id": household_id,
                "code": code,
                "head_name": head_name,
                "group": group_name,
                "earned": figures["earned"],
                "deducted": figures["deducted"],
                "covenant_deducted": figures["covenant"],
                "net": figures["earned"] - figures["deducted"],
            }
        )
    rows = _ranked(rows, ranks(village.groups))
    return {
        "village_id": village.id,
        "village_name": village.name,
        "group_id": group.id if group else None,
        "group_name": group.name if group else None,
        "period": period.as_dict(),
        "households": len(rows),
        "earned": sum(r["earned"] for r in rows),
        "deducted": sum(r["deducted"] for r in rows),
        "items": rows,
    }


def honor_board(
    actor: User | None,
    village_id: int,
    period: Period,
    group_id: int | None = None,
    top: int = DEFAULT_TOP,
) -> dict[str, Any]:
    """The 红黑榜: the top earners (ties at the cut included) and households with covenant deductions.

    `actor` None is the public board, which exists only where the village publishes its rankings.
    """
    if actor is None:
        village = db.session.get(Village, village_id)
        if village is None or not village.publish_rankings:
            raise NotFound("not-found", _l("This village does not publish its rankings."))
        group = report_group(village, group_id)
        analytic_reads()
        ranking = _rankings(village, period, group)
    else:
        ranking = rankings(actor, village_id, period, group_id)
    red = [r for r in ranking["items"] if r["earned"] > 0 and r["rank"] <= top]
    black = sorted(
        (r for r in ranking["items"] if r["covenant_deducted"] > 0),
        key=lambda r: (-r["covenant_deducted"], r["head_name"], r["code"]),
    )
    return {**{k: v for k, v in ranking.items() if k != "items"}, "top": top, "red": red, "black": black}


def public_board(village_code: str, period: Period, top: int = DEFAULT_TOP) -> dict[str, Any]:
    """The public 红黑榜 of a village found by its code; 404 unless the village publishes it."""
    village = db.session.scalar(select(Village).where(Village.code == village_code.strip().upper()[:32]))
    if village is None or not village.publish_rankings:
        raise NotFound("not-found", _l("This village does not publish its rankings."))
    board = honor_board(None, village.id, period, top=top)
    # Household codes are typed at the shop counter: never on a public page.
    for row in board["red"] + board["black"]:
        row.pop("code", None)
        row.pop("household_id", None)
    return board


# --- statistics -------------------------------------------------------------------------------------


def month_bucket(column, months: Sequence[tuple[str, datetime, datetime]]) -> ColumnElement[str]:
    """The local month (YYYY-MM) of a timestamp column, as a CASE over the months' UTC bounds.

    Portable (SQLite and PostgreSQL alike) and exact in any zone, daylight saving included.
    """
    if not months:
        return literal("")
    return case(*((column < end, literal(key)) for key, _start, end in months), else_=literal(""))


def issued_by_month(village_ids: Sequence[int] | None, period: Period) -> list[dict[str, Any]]:
    """Points issued (earned) and deducted per council per local month of the period.

    Read from the issuing accounts' legs alone (each mirrors its household leg), one join per entry.
    """
    months = period.months()
    tx = period_transactions(village_ids, period, ("award", "deduction", "reversal"))
    ie = Entry.__table__.alias("ie")
    ia = Account.__table__.alias("ia")
    # Bucketed in an inner query, grouped in the outer one: PostgreSQL must see one plain column.
    bucketed = (
        select(
            month_bucket(tx.c.created_at, months).label("month"),
            ia.c.council,
            tx.c.cls,
            (-ie.c.amount).label("amount"),
        )
        .select_from(tx)
        .join(ie, ie.c.transaction_id == tx.c.id)
        .join(ia, and_(ia.c.id == ie.c.account_id, ia.c.kind == "issuing"))
        .where(tx.c.cls.in_(("earn", "deduct")))
        .subquery()
    )
    rows = db.session.execute(
        select(bucketed.c.month, bucketed.c.council, bucketed.c.cls, func.sum(bucketed.c.amount)).group_by(
            bucketed.c.month, bucketed.c.council, bucketed.c.cls
        )
    )
    table: dict[tuple[str, str], dict[str, int]] = {}
    for month, council, cls, amount in rows:
        cell = table.setdefault((month, council), {"issued": 0, "deducted": 0})
        if cls == "earn":
            cell["issued"] += int(amount or 0)
        elif cls == "deduct":
            cell["deducted"] -= int(amount or 0)
    result = []
    for month, _start, _end in months:
        for council in COUNCILS:
            cell = table.get((month, council))
            if cell and (cell["issued"] or cell["deducted"]):
                result.append({"month": month, "council": council, **cell})
    return result


def household_totals(village_ids: Sequence[int] | None, period: Period) -> list[tuple[int, int, str, int]]:
    """(village_id, household_id, 'earn'|'deduct', signed sum) from the household legs alone."""
    tx = period_transactions(village_ids, period, ("award", "deduction", "reversal"))
    he = Entry.__table__.alias("he")
    ha = Account.__table__.alias("ha")
    return [
        (v, h, c, int(a or 0))
        for v, h, c, a in db.session.execute(
            select(tx.c.village_id, ha.c.household_id, tx.c.cls, func.sum(he.c.amount))
            .select_from(tx)
            .join(he, he.c.transaction_id == tx.c.id)
            .join(ha, and_(ha.c.id == he.c.account_id, ha.c.kind == "household"))
            .where(tx.c.cls.in_(("earn", "deduct")))
            .group_by(tx.c.village_id, ha.c.household_id, tx.c.cls)
        )
    ]


def _spent(village_ids: Sequence[int] | None, period: Period, cls: str = "spend") -> dict[int, int]:
    """Points spent at shops per village in the period (redemptions net of their voids), from the ledger;
    with cls="expire", the points that expired (net of reversed expiries)."""
    kind = "redemption" if cls == "spend" else "expiry"
    tx = period_transactions(village_ids, period, (kind, "reversal"))
    e = Entry.__table__.alias("e")
    a = Account.__table__.alias("a")
    rows = db.session.execute(
        select(tx.c.village_id, func.sum(e.c.amount))
        .select_from(tx)
        .join(e, e.c.transaction_id == tx.c.id)
        .join(a, and_(a.c.id == e.c.account_id, a.c.kind == "household"))
        .where(tx.c.cls == cls)
        .group_by(tx.c.village_id)
    )
    return {village_id: -int(amount or 0) for village_id, amount in rows}


def _participation(village_id: int, period: Period) -> dict[str, Any]:
    points = _household_points(village_id, period)
    groups = db.session.execute(
        select(Household.id, VillageGroup.name)
        .outerjoin(VillageGroup, VillageGroup.id == Household.group_id)
        .where(Household.village_id == village_id, Household.active.is_(True))
    ).all()
    by_group: dict[str, dict[str, int]] = {}
    order = ranks(groups_in_order(village_id))
    earning = 0
    for household_id, group_name in groups:
        cell = by_group.setdefault(group_name or "", {"households": 0, "earning": 0})
        cell["households"] += 1
        if points.get(household_id, {}).get("earned", 0) > 0:
            cell["earning"] += 1
            earning += 1
    return {
        "households": len(groups),
        "earning": earning,
        "rate": _rate(earning, len(groups)),
        "by_group": [
            {"group": name or None, **cell, "rate": _rate(cell["earning"], cell["households"])}
            for name, cell in sorted(by_group.items(), key=lambda item: row_key(order, item[0]))
        ],
        "points": points,
    }


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _checkins(village_ids: Sequence[int] | None, period: Period) -> list[dict[str, Any]]:
    from ..events.models import Checkin, Event

    query = (
        select(Event.id, Event.village_id, Event.title, Event.starts_at, func.count(Checkin.id))
        .join(Checkin, Checkin.event_id == Event.id)
        .where(Checkin.checked_in_at >= period.start, Checkin.checked_in_at < period.end)
        .group_by(Event.id, Event.village_id, Event.title, Event.starts_at)
        .order_by(Event.starts_at, Event.id)
    )
    if village_ids is not None:
        query = query.where(Event.village_id.in_(list(village_ids)))
    return [
        {
            "event_id": i,
            "village_id": v,
            "title": title,
            "starts_at": starts.astimezone(local_zone()).isoformat(),
            "checkins": int(n),
        }
        for i, v, title, starts, n in db.session.execute(query)
    ]


def _redemptions(village_ids: Sequence[int] | None, period: Period) -> dict[str, Any]:
    """Redemptions made in the period (void ones apart) and the goods they handed out."""
    from ..shop.models import Redemption, RedemptionLine, RedemptionVoid

    voided = Redemption.id.in_(select(RedemptionVoid.redemption_id))
    base = [Redemption.created_at >= period.start, Redemption.created_at < period.end]
    if village_ids is not None:
        base.append(Redemption.village_id.in_(list(village_ids)))
    counts = db.session.execute(
        select(
            func.count().label("total"),
            func.coalesce(func.sum(case((voided, 1), else_=0)), 0).label("voided"),
            func.coalesce(func.sum(case((voided, 0), else_=Redemption.total_points)), 0).label("points"),
        ).where(*base)
    ).one()
    items = db.session.execute(
        select(RedemptionLine.name, RedemptionLine.unit, func.sum(RedemptionLine.quantity))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .where(*base, ~voided)
        .group_by(RedemptionLine.name, RedemptionLine.unit)
        .order_by(func.sum(RedemptionLine.quantity).desc(), RedemptionLine.name)
    )
    return {
        "count": int(counts.total) - int(counts.voided),
        "voided": int(counts.voided),
        "points": int(counts.points),
        "items": [{"name": n, "unit": u, "quantity": int(q)} for n, u, q in items],
    }


def _claims(village_ids: Sequence[int] | None, period: Period) -> dict[str, Any]:
    """Claims filed in the period by status, and how long the first review decision took."""
    from ..claims.models import STATUSES, Claim, ClaimAction

    base = [Claim.created_at >= period.start, Claim.created_at < period.end]
    if village_ids is not None:
        base.append(Claim.village_id.in_(list(village_ids)))
    by_status = dict.fromkeys(STATUSES, 0)
    for status, count in db.session.execute(
        select(Claim.status, func.count()).where(*base).group_by(Claim.status)
    ):
        by_status[status] = int(count)
    first_decision = (
        select(ClaimAction.claim_id, func.min(ClaimAction.created_at).label("decided_at"))
        .where(ClaimAction.action.in_(("approve", "reject")))
        .group_by(ClaimAction.claim_id)
        .subquery()
    )
    hours = [
        (decided - created).total_seconds() / 3600
        for created, decided in db.session.execute(
            select(Claim.created_at, first_decision.c.decided_at)
            .join(first_decision, first_decision.c.claim_id == Claim.id)
            .where(*base)
        )
    ]
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "reviewed": len(hours),
        "review_hours_avg": round(statistics.fmean(hours), 2) if hours else None,
        "review_hours_median": round(statistics.median(hours), 2) if hours else None,
    }


def village_stats(actor: User, village_id: int | None, period: Period) -> dict[str, Any]:
    """A village's figures for a period: points by council and month, participation, check-ins,
    redemptions and goods, claims and review times."""
    village = report_village(actor, village_id)
    analytic_reads()
    ids = [village.id]
    participation = _participation(village.id, period)
    points = participation.pop("points")
    by_month = issued_by_month(ids, period)
    by_council: dict[str, dict[str, int]] = {}
    for row in by_month:
        cell = by_council.setdefault(row["council"], {"issued": 0, "deducted": 0})
        cell["issued"] += row["issued"]
        cell["deducted"] += row["deducted"]
    checkins = _checkins(ids, period)
    return {
        "village_id": village.id,
        "village_name": village.name,
        "period": period.as_dict(),
        "points": {
            "issued": sum(p["earned"] for p in points.values()),
            "deducted": sum(p["deducted"] for p in points.values()),
            "redeemed": _spent(ids, period).get(village.id, 0),
            "expired": _spent(ids, period, "expire").get(village.id, 0),
        },
        "by_council": [{"council": c, **by_council[c]} for c in COUNCILS if c in by_council],
        "by_month": by_month,
        "participation": participation,
        "checkins": {"total": sum(c["checkins"] for c in checkins), "events": checkins},
        "redemptions": _redemptions(ids, period),
        "claims": _claims(ids, period),
    }


def villages_overview(actor: User, period: Period) -> dict[str, Any]:
    """Every village in scope side by side for a period (the township / county dashboard)."""
    policy.ensure_compares_villages(actor)
    ids = visible_village_ids(actor)
    from_summary = _from_summary(period)
    if from_summary:
        from . import summary

        # Before the reads: the refresh commits, which would end analytic_reads()'s settings.
        summary.refresh(ids)
    analytic_reads()
    villages_query = select(Village.id, Village.name, Village.code).order_by(Village.name, Village.id)
    if ids is not None:
        villages_query = villages_query.where(Village.id.in_(ids))
    villages = db.session.execute(villages_query).all()
    households = dict(
        db.session.execute(
            select(Household.village_id, func.count())
            .where(Household.active.is_(True))
            .group_by(Household.village_id)
        ).all()
    )
    figures, spent, by_month = _summary_points(ids, period) if from_summary else _ledger_points(ids, period)
    checkins: dict[int, int] = defaultdict(int)
    for row in _checkins(ids, period):
        checkins[row["village_id"]] += row["checkins"]
    claims = _claims_by_village(ids, period)
    rows = []
    for village_id, name, code in villages:
        total = int(households.get(village_id, 0))
        points = figures.get(village_id, {"earned": 0, "deducted": 0, "earning": 0})
        active = points["earning"]
        rows.append(
            {
                "village_id": village_id,
                "name": name,
                "code": code,
                "households": total,
                "earning": active,
                "rate": _rate(active, total),
                "issued": points["earned"],
                "deducted": points["deducted"],
                "redeemed": spent.get(village_id, 0),
                "checkins": checkins.get(village_id, 0),
                "claims": claims.get(village_id, {"total": 0, "pending": 0}),
            }
        )
    return {
        "period": period.as_dict(),
        "villages": rows,
        "totals": {
            "households": sum(r["households"] for r in rows),
            "earning": sum(r["earning"] for r in rows),
            "rate": _rate(sum(r["earning"] for r in rows), sum(r["households"] for r in rows)),
            "issued": sum(r["issued"] for r in rows),
            "deducted": sum(r["deducted"] for r in rows),
            "redeemed": sum(r["redeemed"] for r in rows),
            "checkins": sum(r["checkins"] for r in rows),
        },
        "by_month": by_month,
    }


def _from_summary(period: Period) -> bool:
    """Whether the county comparison reads the summary: for whole months, unless switched off."""
    from . import summary

    return bool(current_app.config.get("REPORTS_FROM_SUMMARY", True)) and summary.covers(period)


_Points = tuple[dict[int, dict[str, int]], dict[int, int], list[dict[str, Any]]]


def _ledger_points(ids: Sequence[int] | None, period: Period) -> _Points:
    """Per village {earned, deducted, earning}, spent per village and points by month, from the entries."""
    figures: dict[int, dict[str, int]] = defaultdict(lambda: {"earned": 0, "deducted": 0, "earning": 0})
    for village_id, _household_id, cls, amount in household_totals(ids, period):
        if cls == "earn":
            figures[village_id]["earned"] += amount
            figures[village_id]["earning"] += amount > 0
        else:
            figures[village_id]["deducted"] -= amount
    return dict(figures), _spent(ids, period), issued_by_month(ids, period)


def _summary_points(ids: Sequence[int] | None, period: Period) -> _Points:
    """The same figures as _ledger_points, from the summary (whole months only)."""
    from . import summary

    return (
        summary.household_figures(ids, period),
        summary.redeemed(ids, period),
        summary.issued_by_month(ids, period),
    )


def _claims_by_village(ids: Iterable[int] | None, period: Period) -> dict[int, dict[str, int]]:
    from ..claims.models import Claim

    query = (
        select(
            Claim.village_id,
            func.count(),
            func.sum(case((Claim.status.in_(("pending", "approved", "disputed")), 1), else_=0)),
        )
        .where(Claim.created_at >= period.start, Claim.created_at < period.end)
        .group_by(Claim.village_id)
    )
    if ids is not None:
        query = query.where(Claim.village_id.in_(list(ids)))
    return {v: {"total": int(n), "pending": int(p or 0)} for v, n, p in db.session.execute(query)}


def groups_of(village_id: int) -> list[VillageGroup]:
    return groups_in_order(village_id)


def villages_in_scope(actor: User) -> list[Village]:
    query = select(Village).order_by(Village.name, Village.id)
    ids = visible_village_ids(actor)
    if ids is not None:
        query = query.where(Village.id.in_(ids))
    return list(db.session.scalars(query))


__all__ = [
    "honor_board",
    "issued_by_month",
    "public_board",
    "rankings",
    "village_stats",
    "villages_overview",
]
