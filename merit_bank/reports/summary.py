"""The points summary: folded from the ledger by chain sequence, read by the county comparison.

Each village's mark is the last seq of its hash chain folded into the summary. A refresh adds what the
chain gained since (seq in (mark, head]) and moves the mark, in one transaction under a lock on the
village's mark row, so two refreshes at once never count a transaction twice; the ledger is append-only,
so adding is exact. Postings never wait for it and never write here: a comparison refreshes the villages
it reads first (a few statements when they are current), and `flask refresh-summary` can run from cron.

The figures are the reports' own (services.point_class): awards, deductions and spending net of their
reversals, each counted in the local month of its own transaction. `verify()` folds the ledger again up
to every mark and names any row that differs; `flask verify-ledger` runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    func,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from ..clock import local_zone
from ..database import end_read, is_sqlite, transaction, utcnow
from ..extensions import db
from ..ledger.models import COUNCILS, Account, ChainHead, Entry, Transaction
from .models import HouseholdMonthSummary, HouseholdYearSummary, SummaryMark, VillageMonthSummary
from .periods import Period
from .services import analytic_reads, point_class

SHOP_COUNCIL = ""  # the council column of spending rows: no council issues what a shop takes back
_SCORED_KINDS = ("award", "deduction", "redemption", "reversal")
# Folds of up to this many transactions reach them village by village through the index (see _slices).
LATERAL_UP_TO = 200_000
# How many differing rows verify() names per table; one is enough to fail, a few help to diagnose.
MAX_REPORTED = 20

_marks = SummaryMark.__table__
_vms = VillageMonthSummary.__table__
_hms = HouseholdMonthSummary.__table__
_hys = HouseholdYearSummary.__table__


def covers(period: Period) -> bool:
    """True when the period is whole local months, which is what the summary can answer."""
    return period.first.day == 1 and (period.last + timedelta(days=1)).day == 1


# --- folding ----------------------------------------------------------------------------------------


def _month_bounds(first: datetime, last: datetime, zone: ZoneInfo) -> list[tuple[str, datetime, datetime]]:
    """(YYYY-MM, UTC start, UTC end) of every local month from the one of `first` to the one of `last`."""
    cursor = first.astimezone(zone).date().replace(day=1)
    stop = last.astimezone(zone).date()
    months = []
    while cursor <= stop:
        following = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
        months.append(
            (
                cursor.strftime("%Y-%m"),
                datetime.combine(cursor, time(), zone),
                datetime.combine(following, time(), zone),
            )
        )
        cursor = following
    return months


def _month_of(column_: ColumnElement, months: Sequence[tuple[str, datetime, datetime]]) -> ColumnElement:
    # A CASE over UTC bounds is exact in any zone and the same on SQLite and PostgreSQL.
    return case(*((column_ < end, literal(key)) for key, _start, end in months), else_=literal(""))


def _slices(ranges, total: int):
    """The FROM clause of the ranges' transactions, and what stands for the transactions table in it.

    `ranges` has columns village_id, lo, hi (lo < seq <= hi); `total` is how many transactions they hold.
    A usual refresh folds a few transactions per village, which must be reached through the
    (village_id, seq) index; PostgreSQL estimates a join on seq ranges badly and scans the whole table
    instead (1.4 s at county size for 300 transactions), so there each village's slice is a LATERAL
    subquery, a nested loop by construction. A large fold (a first build) is left to the planner's
    hash join, which reads the table once.
    """
    t = Transaction.__table__.alias("t")
    in_range = and_(t.c.village_id == ranges.c.village_id, t.c.seq > ranges.c.lo, t.c.seq <= ranges.c.hi)
    if is_sqlite() or total > LATERAL_UP_TO:
        return ranges.join(t, in_range), t
    slice_ = (
        select(t.c.id, t.c.village_id, t.c.created_at, t.c.kind, t.c.reverses_id)
        .where(in_range)
        .offset(0)  # or PostgreSQL pulls the subquery up into a plain join again
        .lateral("t_slice")
    )
    return ranges.join(slice_, true()), slice_


def _folded_transactions(ranges, total: int, zone: ZoneInfo):
    """The transactions of the ranges with their local month and point class, or None if there are none."""
    source, t = _slices(ranges, total)
    first, last = db.session.execute(
        select(func.min(t.c.created_at), func.max(t.c.created_at)).select_from(source)
    ).one()
    if first is None:
        return None
    months = _month_bounds(first, last, zone)
    orig = Transaction.__table__.alias("orig")
    return (
        select(
            t.c.id,
            t.c.village_id,
            _month_of(t.c.created_at, months).label("month"),
            point_class(t, orig).label("cls"),
        )
        .select_from(source)
        .where(t.c.kind.in_(_SCORED_KINDS))
        .cte("folded_tx")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )


def _village_rows(tx) -> Select:
    """village_id, month, council, earned, deducted, redeemed of the folded transactions."""
    e = Entry.__table__.alias("e")
    a = Account.__table__.alias("a")
    issuing = a.c.kind == "issuing"
    council = case((issuing, a.c.council), else_=literal(SHOP_COUNCIL))
    return (
        select(
            tx.c.village_id,
            tx.c.month,
            council.label("council"),
            func.sum(case((tx.c.cls == "earn", -e.c.amount), else_=0)).label("earned"),
            func.sum(case((tx.c.cls == "deduct", e.c.amount), else_=0)).label("deducted"),
            func.sum(case((tx.c.cls == "spend", -e.c.amount), else_=0)).label("redeemed"),
        )
        .select_from(tx)
        .join(e, e.c.transaction_id == tx.c.id)
        .join(a, a.c.id == e.c.account_id)
        .where(
            ((tx.c.cls.in_(("earn", "deduct"))) & issuing)
            | ((tx.c.cls == "spend") & (a.c.kind == "household"))
        )
        .group_by(tx.c.village_id, tx.c.month, council)
    )


def _household_rows(tx, *, by_year: bool = False) -> Select:
    """month (or year), village_id, household_id, earned, deducted of the folded household legs."""
    e = Entry.__table__.alias("e")
    a = Account.__table__.alias("a")
    span = func.substr(tx.c.month, 1, 4) if by_year else tx.c.month
    return (
        select(
            span.label("year" if by_year else "month"),
            tx.c.village_id,
            a.c.household_id,
            func.sum(case((tx.c.cls == "earn", e.c.amount), else_=0)).label("earned"),
            func.sum(case((tx.c.cls == "deduct", -e.c.amount), else_=0)).label("deducted"),
        )
        .select_from(tx)
        .join(e, e.c.transaction_id == tx.c.id)
        .join(a, and_(a.c.id == e.c.account_id, a.c.kind == "household"))
        .where(tx.c.cls.in_(("earn", "deduct")))
        .group_by(span, tx.c.village_id, a.c.household_id)
    )


def _household_year_rows(tx) -> Select:
    return _household_rows(tx, by_year=True)


def _insert(table):
    return (sqlite.insert if is_sqlite() else postgresql.insert)(table)


def _add(table, keys: tuple[str, ...], figures: tuple[str, ...], rows: Select) -> None:
    """INSERT the rows, adding their figures to rows already there (an upsert that sums)."""
    statement = _insert(table).from_select([*keys, *figures], rows)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in figures},
    )
    db.session.execute(statement)


def _stale(village_ids: Sequence[int] | None) -> list[tuple[int, bool]]:
    """(village_id, has a mark) of villages whose chain has grown past their mark, were never folded,
    or were folded in another zone."""
    zone = local_zone().key
    query = (
        select(ChainHead.village_id, _marks.c.village_id.is_not(None))
        .outerjoin(_marks, _marks.c.village_id == ChainHead.village_id)
        .where(
            ChainHead.seq > 0,
            (_marks.c.seq.is_(None)) | (ChainHead.seq > _marks.c.seq) | (_marks.c.zone != zone),
        )
        .order_by(ChainHead.village_id)
    )
    if village_ids is not None:
        query = query.where(ChainHead.village_id.in_(list(village_ids)))
    return [(v, bool(marked)) for v, marked in db.session.execute(query)]


def stale_villages(village_ids: Sequence[int] | None = None) -> list[int]:
    """Villages a refresh would fold now."""
    return [v for v, _marked in _stale(village_ids)]


def refresh(village_ids: Sequence[int] | None = None, *, rebuild: bool = False) -> dict[int, tuple[int, int]]:
    """Fold what the villages' chains gained since their marks; {village_id: (from seq, to seq)} folded.

    With `rebuild`, the villages' rows are dropped and folded again from the start of their chains.
    One transaction: each village's mark row is locked first (in village order, so two refreshes never
    deadlock) and given its chain's head as `target`; every fold statement reads the ranges
    seq < s <= target from the marks, so they all fold the same transactions, and the marks move to
    their targets at the end. A row's target is set only inside the transaction that holds its lock
    and is cleared before it commits: rows with a target are this refresh's.
    """
    if rebuild:
        heads = select(ChainHead.village_id).order_by(ChainHead.village_id)
        if village_ids is not None:
            heads = heads.where(ChainHead.village_id.in_(list(village_ids)))
        stale = [(v, False) for v in db.session.scalars(heads)]
    else:
        stale = _stale(village_ids)
    if not stale:
        return {}
    targets = [v for v, _marked in stale]
    zone = local_zone()
    with transaction():
        analytic_reads()
        unmarked = [v for v, marked in stale if not marked]
        if unmarked:
            db.session.execute(
                _insert(_marks)
                .values([{"village_id": v, "seq": 0, "zone": zone.key} for v in unmarked])
                .on_conflict_do_nothing(index_elements=["village_id"])
            )
        marks = db.session.execute(
            select(_marks.c.village_id, _marks.c.zone)
            .where(_marks.c.village_id.in_(targets))
            .order_by(_marks.c.village_id)
            .with_for_update()
        ).all()
        restart = [v for v, mark_zone in marks if rebuild or mark_zone != zone.key]
        if restart:
            for table in (_vms, _hms, _hys):
                db.session.execute(delete(table).where(table.c.village_id.in_(restart)))
            db.session.execute(
                update(_marks).where(_marks.c.village_id.in_(restart)).values(seq=0, zone=zone.key)
            )
        ranges = db.session.execute(
            update(_marks)
            .where(_marks.c.village_id.in_(targets), _marks.c.village_id == ChainHead.village_id)
            .values(target=ChainHead.seq)
            .returning(_marks.c.village_id, _marks.c.seq, _marks.c.target)
        ).all()
        folded = {v: (lo, hi) for v, lo, hi in ranges if hi > lo}
        total = sum(hi - lo for lo, hi in folded.values())
        mine = (
            select(_marks.c.village_id, _marks.c.seq.label("lo"), _marks.c.target.label("hi"))
            .where(_marks.c.target.is_not(None), _marks.c.target > _marks.c.seq)
            .cte("ranges")
        )
        tx = _folded_transactions(mine, total, zone) if folded else None
        if tx is not None:
            _add(
                _vms,
                ("village_id", "month", "council"),
                ("earned", "deducted", "redeemed"),
                _village_rows(tx),
            )
            _add(_hms, ("month", "village_id", "household_id"), ("earned", "deducted"), _household_rows(tx))
            _add(
                _hys, ("year", "village_id", "household_id"), ("earned", "deducted"), _household_year_rows(tx)
            )
            if not is_sqlite() and total > LATERAL_UP_TO:
                # A first build: give the planner the new tables' statistics now rather than at
                # autovacuum's next round (without them it plans a year's read as a few rows).
                for table in (_vms, _hms, _hys):
                    db.session.execute(text(f"ANALYZE {table.name}"))
        db.session.execute(
            update(_marks)
            .where(_marks.c.target.is_not(None))
            .values(seq=_marks.c.target, target=None, refreshed_at=utcnow())
        )
    return folded


# --- reading ----------------------------------------------------------------------------------------


def _month_range(table, period: Period) -> list[ColumnElement[bool]]:
    keys = period.month_keys()
    return [table.c.month >= keys[0], table.c.month <= keys[-1]]


def _village_filter(table, village_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    return [] if village_ids is None else [table.c.village_id.in_(list(village_ids))]


def _whole_years(period: Period) -> bool:
    return (period.first.month, period.first.day, period.last.month, period.last.day) == (1, 1, 12, 31)


def household_figures(village_ids: Sequence[int] | None, period: Period) -> dict[int, dict[str, int]]:
    """Per village: points earned, deducted (positive) and how many households earned, over the period.

    A household earned when its earnings over the whole period are positive (an award reversed a month
    later nets to nothing), as the ledger-based comparison counts it. Whole years read one row per
    household and year, other periods one per household and month.
    """
    if _whole_years(period):
        table = _hys
        where = [table.c.year >= str(period.first.year), table.c.year <= str(period.last.year)]
        single = period.first.year == period.last.year
    else:
        table = _hms
        where = _month_range(table, period)
        single = len(period.month_keys()) == 1
    where += _village_filter(table, village_ids)
    if single:
        # One row per household already: count them straight away, without a per-household step.
        per_household = table
    else:
        if not is_sqlite():
            # Households of several months are summed in one hash of ~150,000 groups at county size,
            # which spills to disk at the default work_mem of 4 MB. Ends with the read transaction.
            db.session.execute(text("SET LOCAL work_mem = '64MB'"))
        per_household = (
            select(
                table.c.village_id,
                func.sum(table.c.earned).label("earned"),
                func.sum(table.c.deducted).label("deducted"),
            )
            .where(*where)
            .group_by(table.c.village_id, table.c.household_id)
            .subquery()
        )
        where = []
    rows = db.session.execute(
        select(
            per_household.c.village_id,
            func.sum(per_household.c.earned),
            func.sum(per_household.c.deducted),
            func.sum(case((per_household.c.earned > 0, 1), else_=0)),
        )
        .where(*where)
        .group_by(per_household.c.village_id)
    )
    return {
        v: {"earned": int(e or 0), "deducted": int(d or 0), "earning": int(n or 0)} for v, e, d, n in rows
    }


def redeemed(village_ids: Sequence[int] | None, period: Period) -> dict[int, int]:
    """Points spent at shops per village over the period, net of voids."""
    rows = db.session.execute(
        select(_vms.c.village_id, func.sum(_vms.c.redeemed))
        .where(
            _vms.c.council == SHOP_COUNCIL, *_month_range(_vms, period), *_village_filter(_vms, village_ids)
        )
        .group_by(_vms.c.village_id)
    )
    return {v: int(n or 0) for v, n in rows}


def issued_by_month(village_ids: Sequence[int] | None, period: Period) -> list[dict[str, Any]]:
    """Points issued and deducted per council per month, as services.issued_by_month gives them."""
    rows = db.session.execute(
        select(_vms.c.month, _vms.c.council, func.sum(_vms.c.earned), func.sum(_vms.c.deducted))
        .where(
            _vms.c.council != SHOP_COUNCIL, *_month_range(_vms, period), *_village_filter(_vms, village_ids)
        )
        .group_by(_vms.c.month, _vms.c.council)
    )
    table = {(m, c): {"issued": int(e or 0), "deducted": int(d or 0)} for m, c, e, d in rows}
    result = []
    for month in period.month_keys():
        for council in COUNCILS:
            cell = table.get((month, council))
            if cell and (cell["issued"] or cell["deducted"]):
                result.append({"month": month, "council": council, **cell})
    return result


# --- verification -----------------------------------------------------------------------------------


def verify(village_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Fold every marked village's chain again up to its mark and compare with the stored summary.

    Returns {ok, villages, problems: [str]}: a mark past its chain's head, summary rows of a village with
    no mark, and every row (up to MAX_REPORTED per table) that the stored summary and the ledger
    disagree on. A village not folded yet (no mark) is not a problem: its first comparison folds it.
    """
    if not is_sqlite():
        # One snapshot for the marks and every row compared, so a refresh committing meanwhile (the
        # comparison pages fold on read) cannot show up as a mismatch; nothing is locked.
        end_read()
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    problems: list[str] = []
    marks_query = select(_marks.c.village_id, _marks.c.seq, _marks.c.zone).order_by(_marks.c.village_id)
    if village_ids is not None:
        marks_query = marks_query.where(_marks.c.village_id.in_(list(village_ids)))
    marks = db.session.execute(marks_query).all()
    heads = dict(db.session.execute(select(ChainHead.village_id, ChainHead.seq)).all())
    for village_id, seq, _zone in marks:
        if seq > heads.get(village_id, 0):
            problems.append(
                f"summary of village {village_id} is marked at seq {seq}, past its chain's head "
                f"{heads.get(village_id, 0)}"
            )
    marked = [m[0] for m in marks]
    for table in (_vms, _hms, _hys):
        orphans = select(table.c.village_id).distinct().where(table.c.village_id.not_in(marked))
        if village_ids is not None:
            orphans = orphans.where(table.c.village_id.in_(list(village_ids)))
        for (village_id,) in db.session.execute(orphans.order_by(table.c.village_id)):
            problems.append(f"{table.name} has rows of village {village_id}, which was never folded")
    for zone in sorted({z for _v, _seq, z in marks}):
        villages = [v for v, _seq, z in marks if z == zone]
        total = sum(seq for _v, seq, z in marks if z == zone)
        problems += _compare(_vms, ("village_id", "month", "council"), _village_rows, villages, total, zone)
        problems += _compare(
            _hms, ("month", "village_id", "household_id"), _household_rows, villages, total, zone
        )
        problems += _compare(
            _hys, ("year", "village_id", "household_id"), _household_year_rows, villages, total, zone
        )
    return {"ok": not problems, "villages": len(marks), "problems": problems}


def _compare(table, keys: tuple[str, ...], fold, villages: list[int], total: int, zone: str) -> list[str]:
    """Rows of `table` that differ from the villages' chains folded again up to their marks, by key."""
    figures = [c.name for c in table.c if c.name not in keys]
    stored = table.alias("stored")
    stored_rows = select(*(stored.c[k] for k in keys), *(stored.c[f] for f in figures)).where(
        stored.c.village_id.in_(villages)
    )
    ranges = (
        select(_marks.c.village_id, literal(0).label("lo"), _marks.c.seq.label("hi"))
        .where(_marks.c.village_id.in_(villages))
        .cte("ranges")
    )
    tx = _folded_transactions(ranges, total, ZoneInfo(zone))
    if tx is None:
        wrong, missing = stored_rows.limit(MAX_REPORTED), None
    else:
        expected = fold(tx).subquery("expected")
        expected_rows = select(*(expected.c[k] for k in keys), *(expected.c[f] for f in figures))
        # Stored rows the ledger does not give, and rows the ledger gives that are not stored.
        wrong = stored_rows.except_(expected_rows).limit(MAX_REPORTED)
        missing = expected_rows.except_(stored_rows).limit(MAX_REPORTED)
    have = {tuple(r[: len(keys)]): r[len(keys) :] for r in db.session.execute(wrong)}
    want = (
        {}
        if missing is None
        else {tuple(r[: len(keys)]): r[len(keys) :] for r in db.session.execute(missing)}
    )
    problems = []
    for key in sorted(set(have) | set(want), key=str)[:MAX_REPORTED]:
        where = ", ".join(f"{k} {v!r}" for k, v in zip(keys, key, strict=True))
        shown_have = _figures(figures, have[key]) if key in have else "no row"
        shown_want = _figures(figures, want[key]) if key in want else "no row"
        problems.append(f"{table.name} ({where}): summary has {shown_have}, the ledger gives {shown_want}")
    return problems


def _figures(names: list[str], values_: Sequence[Any]) -> str:
    return ", ".join(f"{n} {int(v)}" for n, v in zip(names, values_, strict=True))
