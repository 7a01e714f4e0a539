"""An annual statement: opening balance, every movement with its member and council, closing balance,
stars, and the village's signed chain checkpoint at the year's end with where to verify it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..auth.models import User
from ..checkpoints import services as checkpoints
from ..checkpoints.views import verify_page_url
from ..clock import local_date, local_midnight, local_today
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..households.models import Household
from ..labels import HISTORY_KIND_LABELS, council_label
from ..ledger import services as ledger
from ..pdf import Document
from ..stars import services as stars
from ..villages.models import Village
from ..villages.ordering import ranks, row_key
from . import policy

FIRST_YEAR = 2000


def household_stars(household: Household, year: int) -> int | None:
    """The household's 星级文明户 rating of the year as published (the latest correction); None: not
    published yet."""
    return stars.household_rating(household.village_id, household.id, year)


def check_year(year: Any) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= local_today().year:
        raise ValidationFailed(
            detail=_l("A year from %(first)d to this year.", first=FIRST_YEAR),
            errors={"year": [_l("A year from %(first)d to this year.", first=FIRST_YEAR)]},
        )
    return year


def _class(row: dict[str, Any]) -> str:
    kind = row["original_kind"] if row["kind"] == "reversal" else row["kind"]
    return {"award": "earned", "deduction": "deducted", "redemption": "spent", "expiry": "expired"}.get(
        kind, "other"
    )


def _shop_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    from ..shop.models import Shop

    return dict(db.session.execute(select(Shop.id, Shop.name).where(Shop.id.in_(ids))).all())


def statement(household: Household, year: int) -> dict[str, Any]:
    """The figures of one household's year (no permission check: callers check first)."""
    start, end = local_midnight(date(year, 1, 1)), local_midnight(date(year + 1, 1, 1))
    # balance_as_of counts what was posted at the moment itself; the year starts just after.
    opening = ledger.balance_as_of(household.id, start - timedelta(microseconds=1))
    rows = ledger.household_movements(household.id, start, end)
    shops = _shop_names({r["shop_id"] for r in rows if r["shop_id"]})
    totals = dict.fromkeys(("earned", "deducted", "spent", "expired", "other"), 0)
    movements = []
    for r in rows:
        cls = _class(r)
        totals[cls] += r["amount"]
        if r["council"]:
            side = council_label(r["council"])
        elif r["shop_id"]:
            side = shops.get(r["shop_id"], "")
        else:
            side = ""
        movements.append(
            {
                "day": local_date(r["created_at"]),
                "what": r["memo"] or str(HISTORY_KIND_LABELS.get(r["kind"], r["kind"])),
                "kind": r["kind"],
                "member": r.get("member_name") or "",
                "council": side,
                "amount": r["amount"],
                "balance_after": r["balance_after"],
            }
        )
    closing = rows[-1]["balance_after"] if rows else opening
    village = db.session.get(Village, household.village_id)
    assert village is not None
    checkpoint = checkpoints.latest_by(village.id, end)
    return {
        "household": household,
        "village": village,
        "year": year,
        "opening": opening,
        "closing": closing,
        "totals": totals,
        "movements": movements,
        "stars": household_stars(household, year),
        "checkpoint": checkpoints.fingerprint_of(checkpoint) if checkpoint is not None else None,
        "verify_url": verify_page_url(village.code),
    }


def household_statement(actor: User, household_id: int, year: int) -> dict[str, Any]:
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound("not-found", _l("No such household."))
    policy.ensure_reads_statement(actor, household.id, household.village_id)
    return statement(household, check_year(year))


def village_statements(actor: User, village_id: int, year: int) -> list[dict[str, Any]]:
    """Every active household's statement, in the village's order of groups, then by code."""
    policy.ensure_prints_village(actor, village_id)
    year = check_year(year)
    village = db.session.get(Village, village_id)
    if village is None:
        raise NotFound("not-found", _l("No such village."))
    households = db.session.scalars(
        select(Household).where(Household.village_id == village_id, Household.active.is_(True))
    ).all()
    order = ranks(village.ordered_groups)
    households = sorted(households, key=lambda h: (row_key(order, h.group.name if h.group else ""), h.code))
    return [statement(h, year) for h in households]


# --- printing --------------------------------------------------------------------------------------


def _print_one(doc: Document, s: dict[str, Any]) -> None:
    h, v = s["household"], s["village"]
    doc.page()
    doc.heading(_("%(village)s · Annual points statement %(year)d", village=v.name, year=s["year"]), size=18)
    group = f" · {h.group.name}" if h.group else ""
    doc.text(_("Household of %(name)s", name=h.head_name) + f" · {h.code}{group}", size=13)
    doc.space(2)
    t = s["totals"]
    doc.table(
        [
            [
                s["opening"], t["earned"], -t["deducted"], -t["spent"], -t["expired"], t["other"],
                s["closing"],
            ]
        ],
        header=[
            _("Opening balance"), _("Earned"), _("Deducted"), _("Spent at the shop"), _("Expired"),
            _("Other changes"), _("Closing balance"),
        ],
        aligns=["R"] * 7,
        size=9,
    )  # fmt: skip
    doc.space(2)
    rating = s["stars"]
    doc.text(
        _("Stars (星级文明户): %(stars)s", stars="★" * rating if rating else _("not rated"))
        if rating is not None
        else _("Stars (星级文明户): not available yet")
    )
    doc.space(2)
    top = doc.pdf.get_y()
    cp = s["checkpoint"]
    lines = [_("The village's ledger at the end of %(year)d", year=s["year"])]
    if cp:
        lines += [
            _("Checkpoint no. %(seq)d, signed %(at)s", seq=cp["seq"], at=cp["at"]),
            _("Fingerprint %(fp)s", fp=cp["grouped"]),
            cp["hash"][:32],
            cp["hash"][32:],
        ]
    else:
        lines.append(_("No checkpoint was signed by the end of the year."))
    lines.append(_("Scan to check the village's ledger: %(url)s", url=s["verify_url"]))
    doc.pdf.set_right_margin(60)
    for line in lines:
        doc.text(line, size=9)
    doc.pdf.set_right_margin(18)
    doc.qr(s["verify_url"], x=doc.pdf.w - 18 - 36, y=top, size=36)
    doc.pdf.set_y(max(doc.pdf.get_y(), top + 38))
    doc.space(2)
    rows = [
        [m["day"].isoformat(), m["what"], m["member"], m["council"], f"{m['amount']:+d}", m["balance_after"]]
        for m in s["movements"]
    ]
    if rows:
        doc.table(
            rows,
            header=[_("Date"), _("For"), _("Member"), _("Council or shop"), _("Points"), _("Balance")],
            widths=[0.14, 0.34, 0.12, 0.2, 0.1, 0.1],
            aligns=["L", "L", "L", "L", "R", "R"],
            size=8,
        )
    else:
        doc.text(_("No points moved this year."), size=10)


def statements_pdf(statements: list[dict[str, Any]], title: str) -> bytes:
    doc = Document(title)
    for s in statements:
        _print_one(doc, s)
    if not statements:
        doc.page()
        doc.text(_("No households."))
    return doc.output()
