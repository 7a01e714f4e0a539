"""A shop's monthly settlement: what it gave out net of voids, its value in yuan, closed months, CSV/XLSX."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..checkpoints import services as checkpoints
from ..database import transaction, utcnow
from ..errors import DomainError
from ..extensions import db
from ..i18n import request_gettext as _
from ..spreadsheets import SafeCsvWriter, append_row
from ..villages.models import Village
from . import policy
from .catalogue import _lock_shop, staff_shop
from .models import MonthClosure, Redemption, RedemptionLine, RedemptionVoid, ShopItem
from .months import current_month, parse_month


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def settlement(actor: User, shop_id: int, month: str) -> dict[str, Any]:
    """What a shop gave out in a month, net of voids counted in it, and its value in yuan.

    Redemptions count in their own month; a void counts in the redemption's month while that month is
    open, and in the month of the void once it is closed, so a closed month's figures never change.
    """
    shop = staff_shop(actor, shop_id)
    month = parse_month(month)
    village = db.session.get_one(Village, shop.village_id)
    given = db.session.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.quantity), func.sum(RedemptionLine.points))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .where(Redemption.shop_id == shop.id, Redemption.month == month)
        .group_by(RedemptionLine.item_id)
    ).all()
    returned = db.session.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.quantity), func.sum(RedemptionLine.points))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .join(RedemptionVoid, RedemptionVoid.redemption_id == Redemption.id)
        .where(Redemption.shop_id == shop.id, RedemptionVoid.month == month)
        .group_by(RedemptionLine.item_id)
    ).all()
    rows: dict[int, dict[str, int]] = {}
    for item_id, quantity, points in given:
        row = rows.setdefault(item_id, {"quantity": 0, "points": 0, "voided_quantity": 0, "voided_points": 0})
        row["quantity"] += int(quantity or 0)
        row["points"] += int(points or 0)
    for item_id, quantity, points in returned:
        row = rows.setdefault(item_id, {"quantity": 0, "points": 0, "voided_quantity": 0, "voided_points": 0})
        row["voided_quantity"] += int(quantity or 0)
        row["voided_points"] += int(points or 0)
    names = {i.id: i for i in db.session.scalars(select(ShopItem).where(ShopItem.id.in_(list(rows))))}
    closure = db.session.scalar(
        select(MonthClosure).where(MonthClosure.shop_id == shop.id, MonthClosure.month == month)
    )
    rate = closure.point_value_fen if closure else village.point_value_fen
    items = []
    for item_id in sorted(rows, key=lambda i: (names[i].name, i)):
        row = rows[item_id]
        net_points = row["points"] - row["voided_points"]
        items.append(
            {
                "item_id": item_id,
                "name": names[item_id].name,
                "unit": names[item_id].unit,
                "quantity": row["quantity"],
                "points": row["points"],
                "voided_quantity": row["voided_quantity"],
                "voided_points": row["voided_points"],
                "net_quantity": row["quantity"] - row["voided_quantity"],
                "net_points": net_points,
                "value_yuan": _yuan(net_points * rate),
            }
        )
    redemptions = (
        db.session.scalar(
            select(func.count()).where(Redemption.shop_id == shop.id, Redemption.month == month)
        )
        or 0
    )
    voids = (
        db.session.scalar(
            select(func.count())
            .select_from(RedemptionVoid)
            .join(Redemption, Redemption.id == RedemptionVoid.redemption_id)
            .where(Redemption.shop_id == shop.id, RedemptionVoid.month == month)
        )
        or 0
    )
    given_points = sum(i["points"] for i in items)
    voided_points = sum(i["voided_points"] for i in items)
    total = given_points - voided_points
    return {
        "shop_id": shop.id,
        "shop_name": shop.name,
        "village_id": village.id,
        "village_name": village.name,
        "month": month,
        "closed": closure is not None,
        "closed_at": closure.created_at if closure else None,
        "point_value_fen": rate,
        "redemptions": redemptions,
        "voids": voids,
        "given_points": given_points,
        "voided_points": voided_points,
        "total_points": total,
        "value_fen": total * rate,
        "value_yuan": _yuan(total * rate),
        "items": items,
    }


def close_month(actor: User, shop_id: int, month: str) -> dict[str, Any]:
    """Close a month that has ended (admins): its figures and rate are frozen; later voids go forward."""
    shop = staff_shop(actor, shop_id)
    policy.ensure_manages_shops(actor)
    month = parse_month(month)
    if month >= current_month():
        raise DomainError("month-not-ended", _("Only a month that has ended can be closed."))
    try:
        with transaction():
            _lock_shop(shop.id)
            if db.session.scalar(
                select(MonthClosure.id).where(MonthClosure.shop_id == shop.id, MonthClosure.month == month)
            ):
                raise DomainError("month-closed", _("This month is already closed."))
            figures = settlement(actor, shop.id, month)
            db.session.add(
                MonthClosure(
                    shop_id=shop.id,
                    month=month,
                    total_points=figures["total_points"],
                    point_value_fen=figures["point_value_fen"],
                    value_fen=figures["value_fen"],
                    actor_id=actor.id,
                    created_at=utcnow(),
                )
            )
            # The closed month's postings are now behind a signed head (docs/ledger.md, checkpoints).
            checkpoints.checkpoint_at_month_close(shop.village_id)
    except IntegrityError as exc:
        raise DomainError("month-closed", _("This month is already closed.")) from exc
    return settlement(actor, shop.id, month)


def closed_months(shop_id: int) -> list[MonthClosure]:
    return list(
        db.session.scalars(
            select(MonthClosure).where(MonthClosure.shop_id == shop_id).order_by(MonthClosure.month.desc())
        )
    )


SETTLEMENT_COLUMNS = (
    ("name", "Item"),
    ("unit", "Unit"),
    ("quantity", "Given out"),
    ("points", "Points"),
    ("voided_quantity", "Returned by voids"),
    ("voided_points", "Points returned"),
    ("net_quantity", "Net quantity"),
    ("net_points", "Net points"),
    ("value_yuan", "Value (yuan)"),
)


def _settlement_rows(data: dict[str, Any]) -> list[list[Any]]:
    header = [_(label) for _key, label in SETTLEMENT_COLUMNS]
    rows: list[list[Any]] = [
        [_("Shop"), data["shop_name"]],
        [_("Village"), data["village_name"]],
        [_("Month"), data["month"]],
        [_("Closed"), _("yes") if data["closed"] else _("no")],
        [_("Value of one point (fen)"), data["point_value_fen"]],
        [],
        header,
    ]
    for item in data["items"]:
        rows.append([item[key] for key, _label in SETTLEMENT_COLUMNS])
    rows.append(
        [
            _("Total"),
            "",
            sum(i["quantity"] for i in data["items"]),
            data["given_points"],
            sum(i["voided_quantity"] for i in data["items"]),
            data["voided_points"],
            sum(i["net_quantity"] for i in data["items"]),
            data["total_points"],
            data["value_yuan"],
        ]
    )
    return rows


def settlement_csv(data: dict[str, Any]) -> bytes:
    """The settlement as CSV, UTF-8 with a BOM so that Excel on Windows reads the Chinese right."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    for row in _settlement_rows(data):
        writer.writerow(row)
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def settlement_xlsx(data: dict[str, Any]) -> bytes:
    """The settlement as an Excel workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = data["month"]
    for row in _settlement_rows(data):
        append_row(sheet, [Decimal(v) if isinstance(v, str) and _is_money(v) else v for v in row])
    for cell in sheet[7]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 24
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _is_money(value: str) -> bool:
    head, dot, tail = value.lstrip("-").partition(".")
    return bool(dot) and head.isdigit() and tail.isdigit() and len(tail) == 2


def month_choices(shop_id: int, around: str | None = None) -> list[str]:
    """Months worth offering on the settlement page: those with redemptions or voids, and this one."""
    months = set(db.session.scalars(select(Redemption.month).where(Redemption.shop_id == shop_id).distinct()))
    months.update(
        db.session.scalars(
            select(RedemptionVoid.month)
            .join(Redemption, Redemption.id == RedemptionVoid.redemption_id)
            .where(Redemption.shop_id == shop_id)
            .distinct()
        )
    )
    months.add(around or current_month())
    return sorted(months, reverse=True)
