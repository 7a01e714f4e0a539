"""HTML pages of the points shop: the counter, stock, redemptions, settlement, receipts, the catalogue."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import exists, func, select

from .. import web
from ..auth import policy as auth_policy
from ..auth.models import User
from ..clock import local_date, local_zone
from ..errors import DomainError, NotFound
from ..extensions import db
from ..households.models import Household
from ..ledger import services as ledger
from ..paging import paginate
from . import months, policy, services
from .models import RedemptionVoid, Shop
from .schemas import ItemCreateSchema, ItemUpdateSchema, RestockSchema, ShopCreateSchema, StocktakeSchema

bp = Blueprint("shop", __name__, url_prefix="/shop")

# --- menu and the villager's home ------------------------------------------------------------------


def _nav(user: User) -> list[dict[str, str]]:
    if policy.only_own_shop(user) and user.shop_id:
        return [
            {"url": url_for("shop.counter", shop_id=user.shop_id), "label": _("Counter")},
            {"url": url_for("shop.stock", shop_id=user.shop_id), "label": _("Stock")},
            {"url": url_for("shop.redemptions", shop_id=user.shop_id), "label": _("Redemptions")},
            {"url": url_for("shop.settlement_page", shop_id=user.shop_id), "label": _("Settlement")},
        ]
    if policy.manages_shops(user) or auth_policy.is_villager(user):
        return [{"url": url_for("shop.index"), "label": _("Points shop")}]
    return []


web.nav_providers.append(_nav)
web.villager_home_sections.append("shop/_villager_section.html")


@bp.app_context_processor
def _shop_globals() -> dict[str, Any]:
    def shop_home(household: Household) -> dict[str, Any]:
        shops = db.session.scalars(
            select(Shop)
            .where(Shop.village_id == household.village_id, Shop.active.is_(True))
            .order_by(Shop.id)
        ).all()
        return {"shops": shops, "receipts": services.recent_receipts(household.id)}

    return {"shop_home": shop_home}


# --- index -----------------------------------------------------------------------------------------


@bp.route("/", methods=["GET", "POST"])
@web.login_required()
def index():
    """A shopkeeper goes straight to the counter; admins see and open shops; villagers pick a catalogue."""
    user: User = g.user
    if policy.only_own_shop(user) and user.shop_id:
        return redirect(url_for("shop.counter", shop_id=user.shop_id))
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            data = ShopCreateSchema().load(
                {
                    "village_id": web.form_int(request.form.get("village_id")),
                    "name": request.form.get("name", ""),
                }
            )
            services.create_shop(user, data)
            return redirect(url_for("shop.index"))
        except (ValidationError, DomainError) as exc:
            errors = web.form_errors(exc)
    shops = db.session.scalars(services.list_shops(user)).all()
    if not policy.works_counter(user):
        shops = [s for s in shops if s.active]
    villages = []
    if policy.manages_shops(user):
        from ..villages import services as village_services

        villages = db.session.scalars(village_services.list_villages(user)).all()
    return render_template(
        "shop/index.html",
        shops=shops,
        villages=villages,
        errors=errors,
        manages_shops=policy.manages_shops(user),
    ), (422 if errors else 200)


# --- the counter -----------------------------------------------------------------------------------


@bp.get("/<int:shop_id>/counter")
@web.login_required(policy.works_counter)
def counter(shop_id: int):
    """Scan or type a card, tap goods, confirm: built for a queue on a phone or tablet."""
    shop = services.staff_shop(g.user, shop_id)
    items = [i for i in services.list_items(g.user, shop.id) if i.active]
    catalogue = [
        {
            "id": i.id,
            "name": i.name,
            "unit": i.unit,
            "price": i.price_points,
            "stock": i.stock,
            "limit": i.monthly_limit,
            "photo": url_for("shop.photo", name=i.photo) if i.photo else None,
        }
        for i in items
    ]
    return render_template("shop/counter.html", shop=shop, catalogue=catalogue)


@bp.get("/receipts/<int:redemption_id>")
@web.login_required()
def receipt(redemption_id: int):
    """A printable receipt; the household's villagers see it in their history too."""
    redemption = services.get_redemption(g.user, redemption_id)
    household = db.session.get_one(Household, redemption.household_id)
    return render_template(
        "shop/receipt.html",
        r=redemption,
        household=household,
        at_counter=policy.works_counter(g.user),
        can_void=policy.may_void(
            g.user,
            redemption,
            today=local_date(months.clock()),
            day=local_date(redemption.created_at),
        ),
        balance_now=ledger.household_balance(household.id),
    )


# --- stock -----------------------------------------------------------------------------------------


@bp.get("/<int:shop_id>/stock")
@web.login_required(policy.works_counter)
def stock(shop_id: int, errors: dict[str, Any] | None = None, status: int = 200):
    """Items with their stock, and the forms to add, restock, count and edit them."""
    shop = services.staff_shop(g.user, shop_id)
    items = services.list_items(g.user, shop.id, include_inactive=True)
    verification = services.verify_stock(shop.id)
    return render_template(
        "shop/stock.html",
        shop=shop,
        items=items,
        verification=verification,
        errors=errors or {},
        error_item=request.form.get("item_id") if errors else None,
    ), status


def _stock_action(shop_id: int, action) -> Any:
    services.staff_shop(g.user, shop_id)
    try:
        action()
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, NotFound):
            raise
        return stock(shop_id, errors=web.form_errors(exc), status=422)
    return redirect(url_for("shop.stock", shop_id=shop_id))


@bp.post("/<int:shop_id>/items")
@web.login_required(policy.works_counter)
def create_item(shop_id: int):
    def action() -> None:
        raw = {
            "name": request.form.get("name", ""),
            "unit": request.form.get("unit", ""),
            "price_points": web.form_int(request.form.get("price_points")),
            "stock": web.form_int(request.form.get("stock")) or 0,
            "monthly_limit": web.form_int(request.form.get("monthly_limit")),
        }
        services.create_item(g.user, shop_id, ItemCreateSchema().load(raw))

    return _stock_action(shop_id, action)


@bp.post("/<int:shop_id>/items/<int:item_id>/edit")
@web.login_required(policy.works_counter)
def edit_item(shop_id: int, item_id: int):
    def action() -> None:
        raw = {
            "name": request.form.get("name", ""),
            "unit": request.form.get("unit", ""),
            "price_points": web.form_int(request.form.get("price_points")),
            "monthly_limit": web.form_int(request.form.get("monthly_limit")),
            "active": request.form.get("active") == "1",
        }
        services.update_item(g.user, shop_id, item_id, ItemUpdateSchema().load(raw))

    return _stock_action(shop_id, action)


@bp.post("/<int:shop_id>/items/<int:item_id>/restock")
@web.login_required(policy.works_counter)
def restock_item(shop_id: int, item_id: int):
    def action() -> None:
        data = RestockSchema().load(
            {
                "quantity": web.form_int(request.form.get("quantity")),
                "note": request.form.get("note", "")[:200],
            }
        )
        services.restock(g.user, shop_id, item_id, data["quantity"], data["note"])

    return _stock_action(shop_id, action)


@bp.post("/<int:shop_id>/items/<int:item_id>/stocktake")
@web.login_required(policy.works_counter)
def stocktake_item(shop_id: int, item_id: int):
    def action() -> None:
        data = StocktakeSchema().load(
            {
                "counted": web.form_int(request.form.get("counted")),
                "reason": request.form.get("reason", "")[:200],
            }
        )
        services.stocktake(g.user, shop_id, item_id, data["counted"], data["reason"])

    return _stock_action(shop_id, action)


@bp.post("/<int:shop_id>/items/<int:item_id>/photo")
@web.login_required(policy.works_counter)
def item_photo(shop_id: int, item_id: int):
    def action() -> None:
        upload = request.files.get("photo")
        if upload is None or not upload.filename:
            raise DomainError("validation-error", _("Choose a picture."), status=422)
        services.set_item_photo(g.user, shop_id, item_id, upload.stream)

    return _stock_action(shop_id, action)


@bp.get("/<int:shop_id>/items/<int:item_id>/movements")
@web.login_required(policy.works_counter)
def movements(shop_id: int, item_id: int):
    """An item's stock log."""
    shop = services.staff_shop(g.user, shop_id)
    item = services.get_item(g.user, shop_id, item_id)
    pager = paginate(services.item_movements(g.user, shop_id, item_id))
    return render_template("shop/movements.html", shop=shop, item=item, rows=pager.items, pager=pager)


@bp.get("/photos/<name>")
@web.login_required()
def photo(name: str):
    if "/" in name or "\\" in name or name.startswith("."):
        abort(404)
    response = send_from_directory(services.photo_folder(), name, max_age=86400)
    return response


# --- redemptions and voids -------------------------------------------------------------------------


@bp.get("/<int:shop_id>/redemptions")
@web.login_required(policy.works_counter)
def redemptions(shop_id: int):
    """The shop's redemptions of one local day (today unless chosen), with voids."""
    from datetime import datetime, time, timedelta

    shop = services.staff_shop(g.user, shop_id)
    day_text = request.args.get("day", "")[:10]
    try:
        day = datetime.strptime(day_text, "%Y-%m-%d").date()
    except ValueError:
        day = local_date(months.clock())
    start = datetime.combine(day, time(0), tzinfo=local_zone())
    query = services.list_redemptions(g.user, shop_id=shop.id, start=start, end=start + timedelta(days=1))
    pager = paginate(query)
    rows = pager.items
    # The day's total counts every redemption of the day, not only this page's.
    of_day = query.order_by(None).subquery()
    day_total = db.session.scalar(
        select(func.coalesce(func.sum(of_day.c.total_points), 0)).where(
            ~exists().where(RedemptionVoid.redemption_id == of_day.c.id)
        )
    )
    households = {
        h.id: h
        for h in db.session.scalars(select(Household).where(Household.id.in_({r.household_id for r in rows})))
    }
    return render_template(
        "shop/redemptions.html",
        shop=shop,
        rows=rows,
        pager=pager,
        day_total=day_total,
        households=households,
        day=day,
        today=local_date(months.clock()),
        prev_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
    )


@bp.post("/redemptions/<int:redemption_id>/void")
@web.login_required(policy.works_counter)
def void(redemption_id: int):
    redemption = services.get_redemption(g.user, redemption_id)
    try:
        services.void_redemption(g.user, redemption_id, request.form.get("reason", "")[:200])
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return render_template(
            "shop/void_failed.html", r=redemption, error=exc.detail or exc.code
        ), exc.status
    return redirect(url_for("shop.receipt", redemption_id=redemption_id))


# --- settlement ------------------------------------------------------------------------------------


@bp.get("/<int:shop_id>/settlement")
@web.login_required(policy.works_counter)
def settlement_page(shop_id: int):
    shop = services.staff_shop(g.user, shop_id)
    month = request.args.get("month") or services.current_month()
    data = services.settlement(g.user, shop.id, month)
    return render_template(
        "shop/settlement.html",
        shop=shop,
        s=data,
        months=services.month_choices(shop.id, data["month"]),
        closures=services.closed_months(shop.id),
        can_close=policy.can_close_month(g.user)
        and not data["closed"]
        and data["month"] < services.current_month(),
    )


@bp.post("/<int:shop_id>/settlement/close")
@web.login_required(policy.can_close_month)
def close_month(shop_id: int):
    month = request.form.get("month", "")[:7]
    services.close_month(g.user, shop_id, month)
    return redirect(url_for("shop.settlement_page", shop_id=shop_id, month=month))


@bp.get("/<int:shop_id>/settlement.<fmt>")
@web.login_required(policy.works_counter)
def settlement_download(shop_id: int, fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    month = request.args.get("month") or services.current_month()
    data = services.settlement(g.user, shop_id, month)
    if fmt == "csv":
        body, mimetype = services.settlement_csv(data), "text/csv; charset=utf-8"
    else:
        body = services.settlement_xlsx(data)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="settlement-shop{shop_id}-{data["month"]}.{fmt}"'
        },
    )


# --- the villager's catalogue ----------------------------------------------------------------------


@bp.get("/<int:shop_id>/catalogue")
@web.login_required()
def catalogue(shop_id: int):
    """Goods and prices; a villager also sees their balance and what is left of monthly limits."""
    shop = services.readable_shop(g.user, shop_id)
    items = [i for i in services.list_items(g.user, shop.id) if i.active]
    balance = None
    used: dict[int, int] = {}
    if auth_policy.is_villager(g.user) and g.user.household_id:
        balance = ledger.household_balance(g.user.household_id)
        used = services.monthly_used(
            g.user.household_id, [i.id for i in items if i.monthly_limit], services.current_month()
        )
    return render_template("shop/catalogue.html", shop=shop, items=items, balance=balance, used=used)
