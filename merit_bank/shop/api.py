"""JSON API of the points shop: shops, items, stock, redemptions, voids and settlement."""

from __future__ import annotations

from flask import Response, request
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth.scope import current_user, visible_village_ids
from ..errors import DomainError
from ..inputs import has_control
from ..ledger.hashing import request_digest
from ..schemas import PageArgs, page_of
from . import policy, services
from .schemas import (
    CustomerLookupSchema,
    CustomerSchema,
    ItemCreateSchema,
    ItemListSchema,
    ItemSchema,
    ItemUpdateSchema,
    MonthCloseSchema,
    MonthQuerySchema,
    MovementPageSchema,
    RedemptionCreatedSchema,
    RedemptionCreateSchema,
    RedemptionPageSchema,
    RedemptionQuerySchema,
    RedemptionSchema,
    RestockSchema,
    SettlementSchema,
    ShopCreateSchema,
    ShopPageSchema,
    ShopQuerySchema,
    ShopSchema,
    ShopUpdateSchema,
    StocktakeSchema,
    StockVerifySchema,
    VoidResultSchema,
    VoidSchema,
)

blp = Blueprint("shop_api", __name__, url_prefix="/api/v1", description="The points shop (积分超市)")


def _idempotency_key() -> str:
    """The Idempotency-Key header: required, 1 to 100 characters."""
    header = request.headers.get("Idempotency-Key", "")
    if not header:
        raise DomainError("idempotency-key-required", "Send an Idempotency-Key header.", status=400)
    if len(header) > 100 or has_control(header):
        raise DomainError(
            "validation-error",
            "The Idempotency-Key is 1 to 100 characters.",
            status=422,
            errors={"Idempotency-Key": ["1 to 100 characters."]},
        )
    return header


# --- shops --------------------------------------------------------------------------------------------


@blp.route("/shops", methods=["POST"])
@jwt_required()
@blp.arguments(ShopCreateSchema)
@blp.response(201, ShopSchema)
def create_shop(data):
    """Open a shop in a village, with its ledger account (admins)."""
    return services.create_shop(current_user(), data)


@blp.route("/shops")
@jwt_required()
@blp.arguments(ShopQuerySchema, location="query")
@blp.response(200, ShopPageSchema)
def list_shops(args):
    """Shops in scope: a shopkeeper's own, the village's for its people, all of an admin's scope."""
    query = services.list_shops(current_user(), args.get("village_id"))
    return page_of(query, args["page"], args["per_page"], list)


@blp.route("/shops/<int:shop_id>")
@jwt_required()
@blp.response(200, ShopSchema)
def get_shop(shop_id):
    return services.readable_shop(current_user(), shop_id)


@blp.route("/shops/<int:shop_id>", methods=["PATCH"])
@jwt_required()
@blp.arguments(ShopUpdateSchema)
@blp.response(200, ShopSchema)
def update_shop(data, shop_id):
    """Rename a shop or close it (admins)."""
    return services.update_shop(current_user(), shop_id, data)


# --- items and stock ----------------------------------------------------------------------------------


@blp.route("/shops/<int:shop_id>/items", methods=["POST"])
@jwt_required()
@blp.arguments(ItemCreateSchema)
@blp.response(201, ItemSchema)
def create_item(data, shop_id):
    """Put an item on the shelf with its opening stock (the shop's shopkeeper, admins)."""
    return services.create_item(current_user(), shop_id, data)


@blp.route("/shops/<int:shop_id>/items")
@jwt_required()
@blp.response(200, ItemListSchema)
def list_items(shop_id):
    """The catalogue; villagers and clerks of the village see the items on sale."""
    items = services.list_items(current_user(), shop_id)
    return {"items": items, "total": len(items)}


@blp.route("/shops/<int:shop_id>/items/<int:item_id>")
@jwt_required()
@blp.response(200, ItemSchema)
def get_item(shop_id, item_id):
    return services.get_item(current_user(), shop_id, item_id)


@blp.route("/shops/<int:shop_id>/items/<int:item_id>", methods=["PATCH"])
@jwt_required()
@blp.arguments(ItemUpdateSchema)
@blp.response(200, ItemSchema)
def update_item(data, shop_id, item_id):
    """Change name, unit, price, monthly limit or active; stock changes only by restock or stock-take."""
    return services.update_item(current_user(), shop_id, item_id, data)


@blp.route("/shops/<int:shop_id>/items/<int:item_id>/restock", methods=["POST"])
@jwt_required()
@blp.arguments(RestockSchema)
@blp.response(200, ItemSchema)
def restock(data, shop_id, item_id):
    """Goods delivered: stock up by `quantity`."""
    return services.restock(current_user(), shop_id, item_id, data["quantity"], data.get("note") or "")


@blp.route("/shops/<int:shop_id>/items/<int:item_id>/stocktake", methods=["POST"])
@jwt_required()
@blp.arguments(StocktakeSchema)
@blp.response(200, ItemSchema)
def stocktake(data, shop_id, item_id):
    """Set stock to the counted quantity; the difference is logged with the reason."""
    return services.stocktake(current_user(), shop_id, item_id, data["counted"], data["reason"])


@blp.route("/shops/<int:shop_id>/items/<int:item_id>/movements")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, MovementPageSchema)
def item_movements(args, shop_id, item_id):
    """The item's stock log, newest first."""
    query = services.item_movements(current_user(), shop_id, item_id)
    return page_of(query, args["page"], args["per_page"], list)


@blp.route("/shops/<int:shop_id>/stock/verify")
@jwt_required()
@blp.response(200, StockVerifySchema)
def verify_stock(shop_id):
    """Prove each cached stock equals the sum of its movements."""
    shop = services.staff_shop(current_user(), shop_id)
    return services.verify_stock(shop.id)


@blp.route("/shops/stock/verify")
@jwt_required()
@blp.response(200, StockVerifySchema)
def verify_all_stock():
    """Stock verification of every shop in an admin's scope."""
    user = current_user()
    policy.ensure_verifies_all_stock(user)
    return services.verify_stock(village_ids=visible_village_ids(user))


# --- the counter --------------------------------------------------------------------------------------


@blp.route("/shops/<int:shop_id>/customers/lookup", methods=["POST"])
@jwt_required()
@blp.arguments(CustomerLookupSchema)
@blp.response(200, CustomerSchema)
def lookup_customer(data, shop_id):
    """After a scan or a typed code: the household, its balance and what is left of monthly limits."""
    return services.customer(current_user(), shop_id, **data)


@blp.route("/redemptions", methods=["POST"])
@jwt_required()
@blp.arguments(RedemptionCreateSchema)
@blp.response(201, RedemptionCreatedSchema)
def create_redemption(data):
    """Redeem goods for points, all or nothing; Idempotency-Key required (a retry gets the first answer)."""
    key = _idempotency_key()
    digest = request_digest({"scope": "redemption", "body": request.get_json(silent=True)})
    result = services.redeem(
        current_user(),
        shop_id=data["shop_id"],
        household_id=data.get("household_id"),
        card_token=data.get("card_token"),
        lines=data["lines"],
        idempotency_key=key,
        request_hash=digest,
    )
    return result.redemption


@blp.route("/redemptions")
@jwt_required()
@blp.arguments(RedemptionQuerySchema, location="query")
@blp.response(200, RedemptionPageSchema)
def list_redemptions(args):
    """Redemptions in scope, newest first; filter by shop, household and [from, to)."""
    query = services.list_redemptions(
        current_user(),
        shop_id=args.get("shop_id"),
        household_id=args.get("household_id"),
        start=args.get("start"),
        end=args.get("end"),
    )
    return page_of(query, args["page"], args["per_page"], list)


@blp.route("/redemptions/<int:redemption_id>")
@jwt_required()
@blp.response(200, RedemptionSchema)
def get_redemption(redemption_id):
    """One redemption (a receipt): its shop's staff, admins in scope, the household's villagers."""
    return services.get_redemption(current_user(), redemption_id)


@blp.route("/redemptions/<int:redemption_id>/void", methods=["POST"])
@jwt_required()
@blp.arguments(VoidSchema)
@blp.response(200, VoidResultSchema)
def void_redemption(data, redemption_id):
    """Void a redemption: points and stock come back; a second void is 409 already-voided."""
    redemption = services.void_redemption(current_user(), redemption_id, data["reason"])
    return {"id": redemption.id, "status": redemption.status}


# --- settlement ---------------------------------------------------------------------------------------


@blp.route("/shops/<int:shop_id>/settlement")
@jwt_required()
@blp.arguments(MonthQuerySchema, location="query")
@blp.response(200, SettlementSchema)
def settlement(args, shop_id):
    """What the shop gave out in a month, net of voids, and its value in yuan to be reimbursed."""
    return services.settlement(current_user(), shop_id, args["month"])


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@blp.route("/shops/<int:shop_id>/settlement.csv")
@jwt_required()
@blp.arguments(MonthQuerySchema, location="query")
def settlement_csv(args, shop_id):
    """The settlement as CSV (UTF-8 with BOM, opens right in Excel)."""
    data = services.settlement(current_user(), shop_id, args["month"])
    return _download(
        services.settlement_csv(data), "text/csv", f"settlement-shop{shop_id}-{args['month']}.csv"
    )


@blp.route("/shops/<int:shop_id>/settlement.xlsx")
@jwt_required()
@blp.arguments(MonthQuerySchema, location="query")
def settlement_xlsx(args, shop_id):
    """The settlement as an Excel workbook."""
    data = services.settlement(current_user(), shop_id, args["month"])
    return _download(
        services.settlement_xlsx(data),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"settlement-shop{shop_id}-{args['month']}.xlsx",
    )


@blp.route("/shops/<int:shop_id>/settlement/close", methods=["POST"])
@jwt_required()
@blp.arguments(MonthCloseSchema)
@blp.response(200, SettlementSchema)
def close_month(data, shop_id):
    """Close an ended month (admins): its figures stay as they are; later voids count in a later month."""
    return services.close_month(current_user(), shop_id, data["month"])
