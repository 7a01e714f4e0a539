"""Participation by person and by tag (身份标签): who earned points in a period, the rate, its monthly trend.

A member "earned" when a posted award names them: its claim's member, or the member of the check-in that made
the claim. A reversal of such an award counts against the same member at the time it was posted, as in every
other report, so a member's points in a period are the net of the awards that name them. Awards with no
member (a card award to the household) count for no one. Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select, union_all

from ..auth.models import User
from ..claims.models import Claim
from ..errors import ValidationFailed
from ..events.models import Checkin
from ..extensions import db
from ..households.models import Household, Member
from ..ledger.models import Account, Entry, Transaction
from ..villages.models import Village, VillageGroup
from ..villages.ordering import ranks, row_key
from . import policy
from .periods import Period
from .services import _rate, analytic_reads, month_bucket, report_village

PARTY_TAG = "党员"


def member_points(village_id: int, period: Period) -> dict[int, dict[str, list[int]]]:
    """{member id: {local month: [points, deeds]}} for awards (net of reversals) that name a member."""
    months = period.months()
    t = Transaction.__table__.alias("pt")
    orig = Transaction.__table__.alias("po")
    he = Entry.__table__.alias("pe")
    ha = Account.__table__.alias("pa")
    c = Claim.__table__.alias("pc")
    ck = Checkin.__table__.alias("pk")
    member = func.coalesce(c.c.member_id, ck.c.member_id)

    def legs(claim_link, *conditions):
        return (
            select(
                member.label("member_id"),
                month_bucket(t.c.created_at, months).label("month"),
                he.c.amount.label("amount"),
            )
            .select_from(t)
            .join(he, he.c.transaction_id == t.c.id)
            .join(ha, and_(ha.c.id == he.c.account_id, ha.c.kind == "household"))
            .join(c, and_(c.c.transaction_id == claim_link, c.c.village_id == village_id))
            .outerjoin(ck, ck.c.claim_id == c.c.id)
            .where(
                t.c.village_id == village_id,
                t.c.created_at >= period.start,
                t.c.created_at < period.end,
                *conditions,
            )
        )

    awards = legs(t.c.id, t.c.kind == "award")
    reversals = legs(t.c.reverses_id, t.c.kind == "reversal").join(
        orig, and_(orig.c.id == t.c.reverses_id, orig.c.kind == "award")
    )
    legs_query = union_all(awards, reversals).subquery()
    rows = db.session.execute(
        select(
            legs_query.c.member_id,
            legs_query.c.month,
            func.sum(legs_query.c.amount),
            func.sum(case((legs_query.c.amount > 0, 1), else_=-1)),
        )
        .where(legs_query.c.member_id.is_not(None))
        .group_by(legs_query.c.member_id, legs_query.c.month)
    )
    out: dict[int, dict[str, list[int]]] = defaultdict(dict)
    for member_id, month, points, deeds in rows:
        out[member_id][month] = [int(points or 0), int(deeds or 0)]
    return out


def _members(village: Village, earning: set[int]) -> list[dict[str, Any]]:
    """The village's members (of active households, and any other who earned), with household and group."""
    query = (
        select(
            Member.id,
            Member.name,
            Member.tags,
            Household.id,
            Household.code,
            Household.head_name,
            Household.active,
            VillageGroup.name,
        )
        .join(Household, Household.id == Member.household_id)
        .outerjoin(VillageGroup, VillageGroup.id == Household.group_id)
        .where(Household.village_id == village.id)
    )
    rows = []
    for member_id, name, tags, household_id, code, head, active, group in db.session.execute(query):
        if not active and member_id not in earning:
            continue
        rows.append(
            {
                "member_id": member_id,
                "name": name,
                "tags": list(tags or []),
                "household_id": household_id,
                "code": code,
                "head_name": head,
                "group": group,
            }
        )
    return rows


def _checked_tag(village: Village, tag: str | None) -> str | None:
    tag = (tag or "").strip() or None
    if tag is not None and tag not in village.tag_list:
        message = _l("Not among this village's tags: %(tags)s (allowed: %(allowed)s).", tags=tag,
                     allowed="、".join(village.tag_list))  # fmt: skip
        raise ValidationFailed(detail=message, errors={"tag": [message]})
    return tag


def _figures(
    village: Village, period: Period
) -> tuple[list[dict[str, Any]], dict[int, dict[str, list[int]]]]:
    points = member_points(village.id, period)
    members = _members(village, set(points))
    for row in members:
        by_month = points.get(row["member_id"], {})
        row["earned"] = sum(p for p, _d in by_month.values())
        row["deeds"] = sum(d for _p, d in by_month.values())
        row["months"] = {m: p for m, (p, _d) in by_month.items()}
    return members, points


def _summary(label: str | None, members: list[dict[str, Any]], months: list[str]) -> dict[str, Any]:
    earning = sum(1 for m in members if m["earned"] > 0)
    by_month = []
    for month in months:
        count = sum(1 for m in members if m["months"].get(month, 0) > 0)
        by_month.append({"month": month, "earning": count, "rate": _rate(count, len(members))})
    return {
        "tag": label,
        "members": len(members),
        "earning": earning,
        "rate": _rate(earning, len(members)),
        "points": sum(m["earned"] for m in members),
        "by_month": by_month,
    }


def _person(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("member_id", "name", "tags", "household_id", "code", "head_name", "group")
    return {k: row[k] for k in keys}


def participation(
    actor: User, village_id: int | None, period: Period, tag: str | None = None
) -> dict[str, Any]:
    """For everyone and each tag (or the one asked): members, members who earned, the rate and its trend
    by month; and, for the village's own staff only, who did not take part (of the tag asked, else all)."""
    village = report_village(actor, village_id)
    tag = _checked_tag(village, tag)
    analytic_reads()
    members, _points = _figures(village, period)
    months = period.month_keys()
    tags = [tag] if tag else village.tag_list
    rows = [_summary(None, members, months)]
    rows += [_summary(t, [m for m in members if t in m["tags"]], months) for t in tags]
    result: dict[str, Any] = {
        "village_id": village.id,
        "village_name": village.name,
        "period": period.as_dict(),
        "tag": tag,
        "tags": village.tag_list,
        "rows": rows,
        "absent_visible": policy.sees_members_by_name(actor, village.id),
        "absent": None,
    }
    if result["absent_visible"]:
        order = ranks(village.groups)
        absent = [m for m in members if m["earned"] <= 0 and (tag is None or tag in m["tags"])]
        absent.sort(key=lambda m: (row_key(order, m["group"]), m["head_name"], m["code"], m["member_id"]))
        result["absent"] = [_person(m) for m in absent]
    return result


def member_rankings(
    actor: User, village_id: int | None, period: Period, tag: str | None = None
) -> dict[str, Any]:
    """Members who earned points in the period (of a tag, if asked), ranked by points (1, 2, 2, 4).

    Only members who earned are listed, so the ranking names no one who did not take part.
    """
    village = report_village(actor, village_id)
    tag = _checked_tag(village, tag)
    analytic_reads()
    members, _points = _figures(village, period)
    order = ranks(village.groups)
    rows = [m for m in members if m["earned"] > 0 and (tag is None or tag in m["tags"])]
    rows.sort(
        key=lambda m: (-m["earned"], row_key(order, m["group"]), m["head_name"], m["name"], m["member_id"])
    )
    rank, previous = 0, None
    for position, row in enumerate(rows, start=1):
        if row["earned"] != previous:
            rank, previous = position, row["earned"]
        row["rank"] = rank
    counts: dict[int, int] = defaultdict(int)
    for row in rows:
        counts[row["rank"]] += 1
    items = [
        {
            **_person(r),
            "rank": r["rank"],
            "tied": counts[r["rank"]] > 1,
            "earned": r["earned"],
            "deeds": r["deeds"],
        }
        for r in rows
    ]
    return {
        "village_id": village.id,
        "village_name": village.name,
        "period": period.as_dict(),
        "tag": tag,
        "members": len(items),
        "earned": sum(r["earned"] for r in items),
        "items": items,
    }


def party_report(actor: User, village_id: int | None, period: Period, tag: str = PARTY_TAG) -> dict[str, Any]:
    """党员积分: every member carrying the tag (党员 by default) with points, deeds and months, to print.

    It names everyone, those who earned nothing too: for the village's own staff only.
    """
    village = report_village(actor, village_id)
    policy.ensure_sees_members_by_name(actor, village.id)
    tag = _checked_tag(village, tag) or PARTY_TAG
    analytic_reads()
    members, _points = _figures(village, period)
    months = period.month_keys()
    order = ranks(village.groups)
    rows = [m for m in members if tag in m["tags"]]
    rows.sort(
        key=lambda m: (-m["earned"], row_key(order, m["group"]), m["head_name"], m["name"], m["member_id"])
    )
    items = [
        {
            **_person(m),
            "earned": m["earned"],
            "deeds": m["deeds"],
            "months": [m["months"].get(k, 0) for k in months],
        }
        for m in rows
    ]
    summary = _summary(tag, rows, months)
    return {
        "village_id": village.id,
        "village_name": village.name,
        "period": period.as_dict(),
        "tag": tag,
        "months": months,
        "summary": summary,
        "items": items,
    }


# --- exports (CSV/XLSX through the same writers as every other export) -----------------------------


def _export(name: str, title: Any, columns: list[tuple[str, Any]], rows: list[list[Any]]):
    from .exports import Export

    return Export(name, title, tuple(columns), lambda _village_ids, _period, machine=False: iter(rows))


def _tag_label(tag: str | None) -> str:
    return tag if tag else str(_l("Everyone"))


def _person_cells(r: dict[str, Any]) -> list[Any]:
    """A member as every export names them: name, head of household, code, group, tags."""
    return [r["name"], r["head_name"], r["code"], r["group"] or "", "、".join(r["tags"])]


def export_of(actor: User, name: str, village_id: int | None, period: Period, tag: str | None):
    """The export `name` (participation, member-rankings, absent-members, party-members) for one village."""
    if name == "participation":
        result = participation(actor, village_id, period, tag)
        columns = [
            ("tag", _l("Tag")),
            ("month", _l("Month")),
            ("members", _l("Members")),
            ("earning", _l("Members who earned points")),
            ("rate", _l("Participation rate")),
            ("points", _l("Points earned")),
        ]
        rows: list[list[Any]] = []
        for row in result["rows"]:
            label = _tag_label(row["tag"])
            rows.append(
                [label, str(_l("Whole period")), row["members"], row["earning"], row["rate"], row["points"]]
            )
            rows += [
                [label, m["month"], row["members"], m["earning"], m["rate"], None] for m in row["by_month"]
            ]
        return _export(name, _l("Participation"), columns, rows)
    person = [
        ("name", _l("Name")),
        ("head_name", _l("Head of household")),
        ("code", _l("Household code")),
        ("group", _l("Group")),
        ("tags", _l("Tags")),
    ]
    if name == "member-rankings":
        result = member_rankings(actor, village_id, period, tag)
        columns = [("rank", _l("Rank")), *person, ("earned", _l("Earned")), ("deeds", _l("Deeds"))]
        rows = [[r["rank"], *_person_cells(r), r["earned"], r["deeds"]] for r in result["items"]]
        return _export(name, _l("Member rankings"), columns, rows)
    if name == "absent-members":
        result = participation(actor, village_id, period, tag)
        if result["absent"] is None:
            policy.ensure_sees_members_by_name(actor, result["village_id"])
        rows = [_person_cells(r) for r in result["absent"] or []]
        return _export(name, _l("Members who did not take part"), person, rows)
    result = party_report(actor, village_id, period, tag or PARTY_TAG)
    columns = [*person, ("earned", _l("Earned")), ("deeds", _l("Deeds"))]
    columns += [(f"month_{m}", m) for m in result["months"]]
    rows = [[*_person_cells(r), r["earned"], r["deeds"], *r["months"]] for r in result["items"]]
    return _export(name, _l("Party members' points"), columns, rows)


EXPORT_NAMES = ("participation", "member-rankings", "absent-members", "party-members")


def export_titles(actor: User, village_id: int) -> dict[str, Any]:
    """The participation exports this person may download for a village, with their titles."""
    titles = {"participation": _l("Participation"), "member-rankings": _l("Member rankings")}
    if policy.sees_members_by_name(actor, village_id):
        titles["absent-members"] = _l("Members who did not take part")
        titles["party-members"] = _l("Party members' points")
    return titles
