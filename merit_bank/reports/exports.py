"""Exports of the ledger, balances, claims, check-ins, redemptions and settlement, as CSV or XLSX.

Rows are streamed from the database (a server-side cursor on PostgreSQL), written as they come and
never held all at once: a CSV export is a generator of chunks, an XLSX export goes through openpyxl's
write-only mode into a temporary file that is then sent in chunks. Headers are in the reader's
language (Chinese by default); `header=keys` gives stable English keys instead, `header=both` gives
the two rows. Cells read in the reader's language too; only a `header=keys` export, meant for programs,
keeps the machine keys in the columns that have them (an account's `household:1`, a claim's `checkin`).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, literal, select

from ..clock import local_zone
from ..database import is_sqlite
from ..extensions import db
from ..households.models import Household, Member
from ..labels import (
    CLAIM_SOURCE_LABELS,
    CLAIM_STATUS_LABELS,
    LEDGER_KIND_LABELS,
    REDEMPTION_STATUS_LABELS,
    council_label,
)
from ..ledger.models import Account, Entry, Transaction
from ..spreadsheets import SafeCsvWriter, append_row
from ..villages.models import Region, Village, VillageGroup
from .periods import Period
from .services import _t, analytic_reads, point_class

FORMATS = ("csv", "xlsx")
HEADER_MODES = ("labels", "keys", "both")
BOM = "\ufeff"
CHUNK_CHARS = 256 * 1024
BATCH = 5000
# One row fewer than Excel's limit leaves room for the header; longer exports continue on a new sheet.
XLSX_ROWS_PER_SHEET = 1_048_574

KIND_LABELS = LEDGER_KIND_LABELS
STATUS_LABELS = {**CLAIM_STATUS_LABELS, **REDEMPTION_STATUS_LABELS}
METHOD_LABELS = {"self": _l("Own phone"), "card": _l("Household card"), "code": _l("Household code")}


@dataclass(frozen=True)
class Export:
    """One kind of export: its columns (stable key, label) and a function streaming its rows."""

    name: str
    title: Any
    columns: tuple[tuple[str, Any], ...]
    rows: Callable[..., Iterator[Sequence[Any]]]
    # Columns whose cells hold machine keys in a `header=keys` export (and labels otherwise).
    machine_columns: tuple[str, ...] = ()

    def rows_for(
        self, village_ids: Sequence[int] | None, period: Period | None, header: str = "labels"
    ) -> Iterator[Sequence[Any]]:
        if header == "keys" and self.machine_columns:
            return self.rows(village_ids, period, machine=True)
        return self.rows(village_ids, period)

    def keys(self) -> list[str]:
        return [key for key, _label in self.columns]

    def labels(self) -> list[str]:
        return [str(label) for _key, label in self.columns]


# --- helpers ----------------------------------------------------------------------------------------


def stream(query, batch: int = BATCH, *, whole_result: bool = False) -> Iterator[Any]:
    """Rows of a large query without holding them all (a server-side cursor on PostgreSQL)."""
    analytic_reads(whole_result=whole_result)
    # Options on the statement, not the connection: the session's connection must not stay streaming.
    result = db.session.execute(query.execution_options(stream_results=True, yield_per=batch))
    for partition in result.partitions(batch):
        yield from partition


class _LocalTime:
    """Formats UTC timestamps as local wall-clock text, cheaply for millions of rows."""

    def __init__(self) -> None:
        self.zone = local_zone()

    def __call__(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")


def _time_text(column) -> tuple[Any, Callable[[Any], str]]:
    """A timestamp column as local wall-clock text: formatted by PostgreSQL itself (the fastest way for
    millions of rows), in Python on SQLite."""
    if is_sqlite():
        return column, _LocalTime()
    expr = func.to_char(func.timezone(local_zone().key, column), "YYYY-MM-DD HH24:MI:SS")
    return expr, lambda value: value or ""


def _label(labels: dict[str, Any]) -> Callable[[str | None], str]:
    cache = {key: str(value) for key, value in labels.items()}
    return lambda code: cache.get(code, code or "") if code else ""


def _villages(village_ids: Sequence[int] | None) -> dict[int, str]:
    query = select(Village.id, Village.name)
    if village_ids is not None:
        query = query.where(Village.id.in_(list(village_ids)))
    return dict(db.session.execute(query).all())


def _townships(village_ids: Sequence[int] | None) -> dict[int, str]:
    """Each village's township (乡镇), for the column beside the village's name."""
    query = select(Village.id, Region.name).join(Region, Region.id == Village.region_id)
    if village_ids is not None:
        query = query.where(Village.id.in_(list(village_ids)))
    return dict(db.session.execute(query).all())


def _where_villages(column, village_ids: Sequence[int] | None) -> list[Any]:
    if village_ids is None:
        return []
    if len(village_ids) == 1:
        return [column == village_ids[0]]
    return [column.in_(list(village_ids))]


def _where_period(column, period: Period | None) -> list[Any]:
    if period is None:
        return []
    return [column >= period.start, column < period.end]


def _account_name(council: Callable[[str], str]) -> Callable[..., str]:
    """An account as people name it, from a ledger row: 王建国户（A3F7K2）, 发放账户（志愿服务）."""
    household, issuing = str(_l("Household %(name)s (%(code)s)")), str(_l("Issuing account (%(council)s)"))
    shop, suspense = str(_l("Shop account (%(shop)s)")), str(_l("Adjustment account"))

    def name(key: str, kind: str, code: str | None, head_name: str | None, council_code: str | None,
             shop_name: str | None) -> str:  # fmt: skip
        if kind == "household":
            return household % {"name": head_name or "", "code": code or ""}
        if kind == "issuing":
            return issuing % {"council": council(council_code) if council_code else ""}
        if kind == "shop":
            return shop % {"shop": shop_name or ""}
        if kind == "suspense":
            return suspense
        return key

    return name


# --- ledger: one row per entry ----------------------------------------------------------------------

LEDGER_COLUMNS = (
    ("transaction_id", _l("Transaction no.")),
    ("village", _l("Village")),
    ("township", _l("Township")),
    ("seq", _l("Sequence in the village chain")),
    ("time", _l("Time")),
    ("kind", _l("Kind")),
    ("account", _l("Account")),
    ("household_code", _l("Household code")),
    ("head_name", _l("Head of household")),
    ("council", _l("Council")),
    ("amount", _l("Points")),
    ("balance_after", _l("Balance after")),
    ("rule_id", _l("Rule no.")),
    ("rule_version", _l("Rule version")),
    ("reverses_id", _l("Reverses transaction")),
    ("actor_id", _l("By user")),
    ("memo", _l("Memo")),
)


def _ledger_rows(
    village_ids: Sequence[int] | None, period: Period | None, *, machine: bool = False
) -> Iterator[Sequence[Any]]:
    from ..shop.models import Shop

    t = Transaction.__table__
    e = Entry.__table__
    a = Account.__table__
    h = Household.__table__
    s = Shop.__table__
    created_at, when = _time_text(t.c.created_at)
    query = (
        select(
            t.c.id,
            t.c.village_id,
            t.c.seq,
            created_at,
            t.c.kind,
            a.c.key,
            h.c.code,
            h.c.head_name,
            a.c.council,
            e.c.amount,
            e.c.balance_after,
            t.c.rule_id,
            t.c.rule_version,
            t.c.reverses_id,
            t.c.actor_id,
            t.c.memo,
            a.c.kind,
            s.c.name,
        )
        .select_from(e)
        .join(t, t.c.id == e.c.transaction_id)
        .join(a, a.c.id == e.c.account_id)
        .outerjoin(h, h.c.id == a.c.household_id)
        .outerjoin(s, s.c.id == a.c.shop_id)
        .where(*_where_villages(t.c.village_id, village_ids), *_where_period(t.c.created_at, period))
        .order_by(t.c.village_id, t.c.seq, e.c.id)
    )
    villages = _villages(village_ids)
    townships = _townships(village_ids)
    kind = _label(KIND_LABELS)
    councils: dict[str, str] = {}

    def council(code: str) -> str:
        if code not in councils:
            councils[code] = council_label(code)
        return councils[code]

    account_name = _account_name(council)
    for (
        tx_id, village_id, seq, created, tx_kind, account_key, code, head_name, council_code, amount,
        balance_after, rule_id, rule_version, reverses_id, actor_id, memo, account_kind, shop_name,
    ) in stream(query):  # fmt: skip
        yield (
            tx_id,
            villages.get(village_id, ""),
            townships.get(village_id, ""),
            seq,
            when(created),
            kind(tx_kind),
            account_key
            if machine
            else account_name(account_key, account_kind, code, head_name, council_code, shop_name),
            code or "",
            head_name or "",
            council(council_code) if council_code else "",
            amount,
            balance_after,
            rule_id,
            rule_version,
            reverses_id,
            actor_id,
            memo,
        )


# --- balances: a statement per household ------------------------------------------------------------

BALANCE_COLUMNS = (
    ("village", _l("Village")),
    ("township", _l("Township")),
    ("group", _l("Villager group")),
    ("household_code", _l("Household code")),
    ("head_name", _l("Head of household")),
    ("opening_balance", _l("Opening balance")),
    ("earned", _l("Earned")),
    ("deducted", _l("Deducted")),
    ("spent", _l("Spent at the shop")),
    ("expired", _l("Expired")),
    ("other", _l("Other changes")),
    ("closing_balance", _l("Closing balance")),
    ("earned_total", _l("Earned since opening")),
)


def _balance_rows(village_ids: Sequence[int] | None, period: Period | None) -> Iterator[Sequence[Any]]:
    """Opening + earned - deducted - spent - expired + other = closing, for every household account.

    Closing is the cached balance less what was posted after the period; opening is closing less the
    period's changes. So the statement agrees with the ledger by construction and is checked by tests.
    """
    e = Entry.__table__.alias("pe")
    a = Account.__table__.alias("a")
    h = Household.__table__.alias("h")
    # Each entry's class computed once, then summed per account (not once per sum).
    classified = (
        select(e.c.account_id, e.c.amount, point_class().label("cls"))
        .select_from(e)
        .join(_t, _t.c.id == e.c.transaction_id)
        .where(*_where_villages(_t.c.village_id, village_ids), *_where_period(_t.c.created_at, period))
        .subquery("classified")
    )
    in_period = (
        select(
            classified.c.account_id,
            *(
                func.sum(case((classified.c.cls == cls, classified.c.amount), else_=0)).label(cls)
                for cls in ("earn", "deduct", "spend", "expire", "other")
            ),
        )
        .group_by(classified.c.account_id)
        .subquery("in_period")
    )
    query = (
        select(
            a.c.village_id,
            h.c.group_id,
            h.c.code,
            h.c.head_name,
            a.c.balance,
            a.c.earned_total,
            func.coalesce(in_period.c.earn, 0),
            func.coalesce(in_period.c.deduct, 0),
            func.coalesce(in_period.c.spend, 0),
            func.coalesce(in_period.c.expire, 0),
            func.coalesce(in_period.c.other, 0),
        )
        .select_from(a)
        .join(h, h.c.id == a.c.household_id)
        .outerjoin(in_period, in_period.c.account_id == a.c.id)
    )
    if period is not None:
        ae = Entry.__table__.alias("ae")
        at = Transaction.__table__.alias("at")
        after = (
            select(ae.c.account_id, func.sum(ae.c.amount).label("total"))
            .select_from(ae)
            .join(at, at.c.id == ae.c.transaction_id)
            .where(at.c.created_at >= period.end, *_where_villages(at.c.village_id, village_ids))
            .group_by(ae.c.account_id)
            .subquery("after")
        )
        query = query.add_columns(func.coalesce(after.c.total, 0)).outerjoin(
            after, after.c.account_id == a.c.id
        )
    else:
        query = query.add_columns(literal(0))
    query = query.where(a.c.kind == "household", *_where_villages(a.c.village_id, village_ids)).order_by(
        a.c.village_id, h.c.group_id, h.c.code
    )
    villages = _villages(village_ids)
    townships = _townships(village_ids)
    # Group names from a small dict: joining them row by row made PostgreSQL loop over every group.
    groups_query = select(VillageGroup.id, VillageGroup.name)
    if village_ids is not None:
        groups_query = groups_query.where(VillageGroup.village_id.in_(list(village_ids)))
    groups = dict(db.session.execute(groups_query).all())
    for (
        village_id, group_id, code, head_name, balance, earned_total, *in_period_and_after,
    ) in stream(query, whole_result=True):  # fmt: skip
        earned, deducted, spent, expired, other, after_total = (int(v) for v in in_period_and_after)
        closing = int(balance) - after_total
        opening = closing - earned - deducted - spent - expired - other
        yield (
            villages.get(village_id, ""),
            townships.get(village_id, ""),
            groups.get(group_id, ""),
            code,
            head_name,
            opening,
            earned,
            -deducted,
            -spent,
            -expired,
            other,
            closing,
            earned_total,
        )


# --- claims -----------------------------------------------------------------------------------------

CLAIM_COLUMNS = (
    ("claim_id", _l("Claim no.")),
    ("village", _l("Village")),
    ("township", _l("Township")),
    ("household_code", _l("Household code")),
    ("head_name", _l("Head of household")),
    ("member", _l("Member")),
    ("rule_code", _l("Rule code")),
    ("rule_name", _l("Rule")),
    ("council", _l("Council")),
    ("quantity", _l("Quantity")),
    ("points", _l("Points")),
    ("status", _l("Status")),
    ("source", _l("Source")),
    ("occurred_on", _l("Date of the deed")),
    ("created_at", _l("Filed at")),
    ("decided_at", _l("First review at")),
    ("review_hours", _l("Hours to first review")),
    ("posted_at", _l("Posted at")),
    ("transaction_id", _l("Transaction no.")),
)


def _claim_rows(
    village_ids: Sequence[int] | None, period: Period | None, *, machine: bool = False
) -> Iterator[Sequence[Any]]:
    from ..claims.models import Claim, ClaimAction
    from ..rules.models import RuleVersion

    decided = (
        select(ClaimAction.claim_id, func.min(ClaimAction.created_at).label("decided_at"))
        .where(ClaimAction.action.in_(("approve", "reject")))
        .group_by(ClaimAction.claim_id)
        .subquery("decided")
    )
    query = (
        select(
            Claim.id,
            Claim.village_id,
            Household.code,
            Household.head_name,
            Member.name,
            RuleVersion.code,
            RuleVersion.name,
            Claim.council,
            Claim.quantity,
            Claim.points,
            Claim.status,
            Claim.source,
            Claim.occurred_on,
            Claim.created_at,
            decided.c.decided_at,
            Claim.posted_at,
            Claim.transaction_id,
        )
        .join(Household, Household.id == Claim.household_id)
        .outerjoin(Member, Member.id == Claim.member_id)
        .join(RuleVersion, RuleVersion.id == Claim.rule_version_id)
        .outerjoin(decided, decided.c.claim_id == Claim.id)
        .where(*_where_villages(Claim.village_id, village_ids), *_where_period(Claim.created_at, period))
        .order_by(Claim.village_id, Claim.id)
    )
    villages = _villages(village_ids)
    townships = _townships(village_ids)
    when = _LocalTime()
    status = _label(STATUS_LABELS)
    source_label = (lambda code: code) if machine else _label(CLAIM_SOURCE_LABELS)
    for (
        claim_id, village_id, code, head_name, member, rule_code, rule_name, council, quantity, points,
        claim_status, source, occurred_on, created, first, posted_at, transaction_id,
    ) in stream(query):  # fmt: skip
        hours = round((first - created).total_seconds() / 3600, 2) if first is not None else ""
        yield (
            claim_id,
            villages.get(village_id, ""),
            townships.get(village_id, ""),
            code,
            head_name,
            member or "",
            rule_code,
            rule_name,
            council_label(council),
            quantity,
            points,
            status(claim_status),
            source_label(source),
            occurred_on.isoformat(),
            when(created),
            when(first),
            hours,
            when(posted_at),
            transaction_id or "",
        )


# --- check-ins --------------------------------------------------------------------------------------

CHECKIN_COLUMNS = (
    ("checkin_id", _l("Check-in no.")),
    ("village", _l("Village")),
    ("township", _l("Township")),
    ("event_id", _l("Event no.")),
    ("event", _l("Event")),
    ("event_starts_at", _l("Event starts")),
    ("household_code", _l("Household code")),
    ("head_name", _l("Head of household")),
    ("member", _l("Member")),
    ("method", _l("How")),
    ("checked_in_at", _l("Checked in at")),
    ("checked_out_at", _l("Checked out at")),
    ("minutes", _l("Minutes")),
    ("claim_id", _l("Claim no.")),
    ("claim_status", _l("Claim status")),
)


def _checkin_rows(village_ids: Sequence[int] | None, period: Period | None) -> Iterator[Sequence[Any]]:
    from ..claims.models import Claim
    from ..events.models import Checkin, Event

    query = (
        select(
            Checkin.id,
            Event.village_id,
            Event.id,
            Event.title,
            Event.starts_at,
            Household.code,
            Household.head_name,
            Member.name,
            Checkin.method,
            Checkin.checked_in_at,
            Checkin.checked_out_at,
            Checkin.minutes,
            Checkin.claim_id,
            Claim.status,
        )
        .join(Event, Event.id == Checkin.event_id)
        .join(Household, Household.id == Checkin.household_id)
        .join(Member, Member.id == Checkin.member_id)
        .outerjoin(Claim, Claim.id == Checkin.claim_id)
        .where(*_where_villages(Event.village_id, village_ids), *_where_period(Checkin.checked_in_at, period))
        .order_by(Event.village_id, Event.starts_at, Event.id, Checkin.id)
    )
    villages = _villages(village_ids)
    townships = _townships(village_ids)
    when = _LocalTime()
    status = _label(STATUS_LABELS)
    method = _label(METHOD_LABELS)
    for (
        checkin_id, village_id, event_id, title, starts_at, code, head_name, member, how, checked_in_at,
        checked_out_at, minutes, claim_id, claim_status,
    ) in stream(query):  # fmt: skip
        yield (
            checkin_id,
            villages.get(village_id, ""),
            townships.get(village_id, ""),
            event_id,
            title,
            when(starts_at),
            code,
            head_name,
            member,
            method(how),
            when(checked_in_at),
            when(checked_out_at),
            minutes if minutes is not None else "",
            claim_id or "",
            status(claim_status),
        )


# --- redemptions: one row per line ------------------------------------------------------------------

REDEMPTION_COLUMNS = (
    ("redemption_id", _l("Redemption no.")),
    ("receipt_no", _l("Receipt no.")),
    ("village", _l("Village")),
    ("township", _l("Township")),
    ("shop", _l("Shop")),
    ("created_at", _l("Time")),
    ("month", _l("Settlement month")),
    ("household_code", _l("Household code")),
    ("head_name", _l("Head of household")),
    ("item", _l("Item")),
    ("unit", _l("Unit")),
    ("price_points", _l("Price (points)")),
    ("quantity", _l("Quantity")),
    ("points", _l("Points")),
    ("status", _l("Status")),
    ("void_month", _l("Voided in month")),
)


def _redemption_rows(village_ids: Sequence[int] | None, period: Period | None) -> Iterator[Sequence[Any]]:
    from ..shop.models import Redemption, RedemptionLine, RedemptionVoid, Shop

    query = (
        select(
            Redemption.id,
            Redemption.shop_id,
            Redemption.village_id,
            Shop.name,
            Redemption.created_at,
            Redemption.month,
            Household.code,
            Household.head_name,
            RedemptionLine.name,
            RedemptionLine.unit,
            RedemptionLine.price_points,
            RedemptionLine.quantity,
            RedemptionLine.points,
            RedemptionVoid.month,
        )
        .select_from(RedemptionLine)
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .join(Shop, Shop.id == Redemption.shop_id)
        .join(Household, Household.id == Redemption.household_id)
        .outerjoin(RedemptionVoid, RedemptionVoid.redemption_id == Redemption.id)
        .where(
            *_where_villages(Redemption.village_id, village_ids),
            *_where_period(Redemption.created_at, period),
        )
        .order_by(Redemption.village_id, Redemption.created_at, Redemption.id, RedemptionLine.id)
    )
    villages = _villages(village_ids)
    townships = _townships(village_ids)
    when = _LocalTime()
    status = _label(STATUS_LABELS)
    for (
        redemption_id, shop_id, village_id, shop, created_at, month, code, head_name, item, unit,
        price_points, quantity, points, void_month,
    ) in stream(query):  # fmt: skip
        yield (
            redemption_id,
            f"{shop_id:03d}-{redemption_id:07d}",
            villages.get(village_id, ""),
            townships.get(village_id, ""),
            shop,
            when(created_at),
            month,
            code,
            head_name,
            item,
            unit,
            price_points,
            quantity,
            points,
            status("voided" if void_month else "completed"),
            void_month or "",
        )


# --- settlement: per shop, month and item -----------------------------------------------------------

SETTLEMENT_COLUMNS = (
    ("village", _l("Village")),
    ("township", _l("Township")),
    ("shop", _l("Shop")),
    ("month", _l("Month")),
    ("closed", _l("Month closed")),
    ("item", _l("Item")),
    ("unit", _l("Unit")),
    ("quantity", _l("Given out")),
    ("points", _l("Points")),
    ("voided_quantity", _l("Returned by voids")),
    ("voided_points", _l("Points returned")),
    ("net_quantity", _l("Net quantity")),
    ("net_points", _l("Net points")),
    ("point_value_fen", _l("Value of one point (fen)")),
    ("value_yuan", _l("Value (yuan)")),
)


def _settlement_rows(village_ids: Sequence[int] | None, period: Period | None) -> Iterator[Sequence[Any]]:
    villages = _villages(village_ids)
    townships = _townships(village_ids)
    months = period.month_keys() if period is not None else None
    yes, no = str(_l("yes")), str(_l("no"))
    # The shop's own settlement rule, for many shops and months at once.
    from ..shop.settlement import settlement_lines

    for r in settlement_lines(village_ids=village_ids, months=months):
        yield (
            villages.get(r["village_id"], ""),
            townships.get(r["village_id"], ""),
            r["shop"],
            r["month"],
            yes if r["closed"] else no,
            r["name"],
            r["unit"],
            r["quantity"],
            r["points"],
            r["voided_quantity"],
            r["voided_points"],
            r["net_quantity"],
            r["net_points"],
            r["point_value_fen"],
            Decimal(r["value_fen"]) / 100,
        )


EXPORTS: dict[str, Export] = {
    "ledger": Export("ledger", _l("Ledger entries"), LEDGER_COLUMNS, _ledger_rows, ("account",)),
    "balances": Export("balances", _l("Household balances"), BALANCE_COLUMNS, _balance_rows),
    "claims": Export("claims", _l("Claims"), CLAIM_COLUMNS, _claim_rows, ("source",)),
    "checkins": Export("checkins", _l("Check-ins"), CHECKIN_COLUMNS, _checkin_rows),
    "redemptions": Export("redemptions", _l("Redemptions"), REDEMPTION_COLUMNS, _redemption_rows),
    "settlement": Export("settlement", _l("Shop settlement"), SETTLEMENT_COLUMNS, _settlement_rows),
}


# --- writers ----------------------------------------------------------------------------------------


def header_rows(export: Export, header: str) -> list[list[str]]:
    if header == "keys":
        return [export.keys()]
    if header == "both":
        return [export.labels(), export.keys()]
    return [export.labels()]


def csv_chunks(
    export: Export, village_ids: Sequence[int] | None, period: Period | None, header: str = "labels"
) -> Iterator[bytes]:
    """The export as CSV, UTF-8 with a BOM (so Excel reads Chinese right), in chunks of bytes."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerows(header_rows(export, header))
    for row in export.rows_for(village_ids, period, header):
        writer.writerow(row)
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_file(
    export: Export,
    village_ids: Sequence[int] | None,
    period: Period | None,
    header: str = "labels",
    out: Any = None,
) -> Any:
    """Write the export to `out` (a temporary file by default) as XLSX, rows streamed; returns `out`."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    title = str(export.title)[:25]
    headers = header_rows(export, header)
    widths = [max(10, min(40, len(label) * 2 + 2)) for label in export.labels()]

    def new_sheet(number: int):
        sheet = workbook.create_sheet(title if number == 1 else f"{title} {number}")
        for index, width in enumerate(widths):
            sheet.column_dimensions[_column_letter(index)].width = width
        for row in headers:
            append_row(sheet, row, bold)
        return sheet

    sheet_number = 1
    sheet = new_sheet(sheet_number)
    written = 0
    for row in export.rows_for(village_ids, period, header):
        if written >= XLSX_ROWS_PER_SHEET:
            sheet_number += 1
            sheet = new_sheet(sheet_number)
            written = 0
        append_row(sheet, row)
        written += 1
    if out is None:
        out = tempfile.TemporaryFile()  # noqa: SIM115 - the caller reads and closes it
    workbook.save(out)
    out.seek(0)
    return out


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def xlsx_chunks(
    export: Export, village_ids: Sequence[int] | None, period: Period | None, header: str = "labels"
) -> Iterator[bytes]:
    """The export as XLSX, in chunks: built in a temporary file (flat memory), then sent."""
    with tempfile.TemporaryFile() as out:
        xlsx_file(export, village_ids, period, header, out)
        while chunk := out.read(256 * 1024):
            yield chunk


def filename(export: Export, fmt: str, village_code: str | None, period: Period | None) -> str:
    parts = [export.name, village_code or "all"]
    if period is not None:
        parts.append(period.label.replace(" – ", "_"))
    return "-".join(parts) + "." + fmt


__all__ = ["EXPORTS", "FORMATS", "HEADER_MODES", "csv_chunks", "xlsx_chunks"]
