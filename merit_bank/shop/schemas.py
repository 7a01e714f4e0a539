"""Request and response shapes of the points shop API."""

from __future__ import annotations

from datetime import UTC

from flask import url_for
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates_schema

from ..schemas import Id, Int, PageArgs, StrictSchema, Text
from .services import MAX_LINES, MAX_QUANTITY, MAX_STOCK

MAX_PRICE = 1_000_000
MAX_LIMIT = 10_000


class ShopCreateSchema(StrictSchema):
    village_id = Id(required=True)
    name = Text(100, 1, required=True)


class ShopUpdateSchema(StrictSchema):
    name = Text(100, 1)
    active = fields.Boolean()


class ShopSchema(StrictSchema):
    id = fields.Integer()
    village_id = fields.Integer()
    name = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()


class ShopQuerySchema(PageArgs):
    village_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))


class ShopPageSchema(StrictSchema):
    items = fields.List(fields.Nested(ShopSchema))
    total = fields.Integer()
    page = fields.Integer()


class ItemCreateSchema(StrictSchema):
    name = Text(100, 1, required=True)
    unit = Text(20, 1, required=True)
    price_points = Int(1, MAX_PRICE, required=True)
    stock = Int(0, MAX_STOCK, load_default=0)
    monthly_limit = Int(1, MAX_LIMIT, allow_none=True, load_default=None)
    active = fields.Boolean(load_default=True)


class ItemUpdateSchema(StrictSchema):
    """Stock is not here on purpose: it changes only through restock, redemption, void or stock-take."""

    name = Text(100, 1)
    unit = Text(20, 1)
    price_points = Int(1, MAX_PRICE)
    monthly_limit = Int(1, MAX_LIMIT, allow_none=True)
    active = fields.Boolean()


class ItemSchema(StrictSchema):
    id = fields.Integer()
    shop_id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    price_points = fields.Integer()
    stock = fields.Integer()
    monthly_limit = fields.Integer(allow_none=True)
    active = fields.Boolean()
    photo_url = fields.Method("_photo_url")

    def _photo_url(self, item) -> str | None:
        return url_for("shop.photo", name=item.photo) if item.photo else None


class ItemListSchema(StrictSchema):
    items = fields.List(fields.Nested(ItemSchema))
    total = fields.Integer()


class RestockSchema(StrictSchema):
    quantity = Int(1, MAX_STOCK, required=True)
    note = Text(200, load_default="", multiline=True)


class StocktakeSchema(StrictSchema):
    counted = Int(0, MAX_STOCK, required=True)
    reason = Text(200, 1, required=True, multiline=True)


class MovementSchema(StrictSchema):
    id = fields.Integer()
    item_id = fields.Integer()
    kind = fields.String()
    quantity = fields.Integer()
    stock_after = fields.Integer()
    redemption_id = fields.Integer(allow_none=True)
    note = fields.String()
    actor_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class MovementPageSchema(StrictSchema):
    items = fields.List(fields.Nested(MovementSchema))
    total = fields.Integer()
    page = fields.Integer()


class StockVerifySchema(StrictSchema):
    ok = fields.Boolean()
    items = fields.Integer()
    movements = fields.Integer()
    item_id = fields.Integer(allow_none=True)
    movement_id = fields.Integer(allow_none=True)
    reason = fields.String()


class CustomerLookupSchema(StrictSchema):
    card_token = Text(100, 1)
    code = Text(12, 1)
    household_id = Id()

    @validates_schema
    def _exactly_one(self, data, **_kwargs) -> None:
        if len([k for k in ("card_token", "code", "household_id") if data.get(k) is not None]) != 1:
            raise ValidationError(_l("Give exactly one of card_token, code and household_id."), "_schema")


class LimitSchema(StrictSchema):
    item_id = fields.Integer()
    limit = fields.Integer()
    used = fields.Integer()
    remaining = fields.Integer()


class CustomerSchema(StrictSchema):
    household_id = fields.Integer()
    code = fields.String()
    head_name = fields.String()
    balance = fields.Integer()
    limits = fields.List(fields.Nested(LimitSchema))


class LineInSchema(StrictSchema):
    item_id = Id(required=True)
    quantity = Int(1, MAX_QUANTITY, required=True)


class RedemptionCreateSchema(StrictSchema):
    shop_id = Id(required=True)
    household_id = Id()
    card_token = Text(100, 1)
    lines = fields.List(fields.Nested(LineInSchema), required=True, validate=validate.Length(1, MAX_LINES))

    @validates_schema
    def _one_household(self, data, **_kwargs) -> None:
        if (data.get("household_id") is None) == (data.get("card_token") is None):
            raise ValidationError(_l("Give exactly one of household_id and card_token."), "household_id")
        seen: set[int] = set()
        for line in data.get("lines") or []:
            if line["item_id"] in seen:
                raise ValidationError(_l("Each item once; put the quantity on one line."), "lines")
            seen.add(line["item_id"])


class LineSchema(StrictSchema):
    item_id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    price_points = fields.Integer()
    quantity = fields.Integer()
    points = fields.Integer()


class RedemptionCreatedSchema(StrictSchema):
    """The answer to POST /redemptions; only fields that never change, so a replay is the first answer."""

    id = fields.Integer()
    receipt_no = fields.String()
    shop_id = fields.Integer()
    household_id = fields.Integer()
    total_points = fields.Integer()
    balance_after = fields.Integer()
    month = fields.String()
    created_at = fields.DateTime()
    lines = fields.List(fields.Nested(LineSchema))
    receipt_url = fields.Method("_receipt_url")

    def _receipt_url(self, redemption) -> str:
        return url_for("shop.receipt", redemption_id=redemption.id)


class VoidInfoSchema(StrictSchema):
    reason = fields.String()
    month = fields.String()
    actor_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class RedemptionSchema(RedemptionCreatedSchema):
    status = fields.String()
    void = fields.Nested(VoidInfoSchema, allow_none=True)


class RedemptionPageSchema(StrictSchema):
    items = fields.List(fields.Nested(RedemptionSchema))
    total = fields.Integer()
    page = fields.Integer()


class RedemptionQuerySchema(PageArgs):
    shop_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    household_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    start = fields.AwareDateTime(data_key="from", default_timezone=UTC)
    end = fields.AwareDateTime(data_key="to", default_timezone=UTC)


class VoidSchema(StrictSchema):
    reason = Text(200, 1, required=True, multiline=True)


class VoidResultSchema(StrictSchema):
    id = fields.Integer()
    status = fields.String()


class MonthQuerySchema(StrictSchema):
    month = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))


class MonthCloseSchema(MonthQuerySchema):
    pass


class SettlementItemSchema(StrictSchema):
    item_id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    quantity = fields.Integer()
    points = fields.Integer()
    voided_quantity = fields.Integer()
    voided_points = fields.Integer()
    net_quantity = fields.Integer()
    net_points = fields.Integer()
    value_yuan = fields.String()


class SettlementSchema(StrictSchema):
    shop_id = fields.Integer()
    shop_name = fields.String()
    village_id = fields.Integer()
    village_name = fields.String()
    month = fields.String()
    closed = fields.Boolean()
    closed_at = fields.DateTime(allow_none=True)
    point_value_fen = fields.Integer()
    redemptions = fields.Integer()
    voids = fields.Integer()
    given_points = fields.Integer()
    voided_points = fields.Integer()
    total_points = fields.Integer()
    value_fen = fields.Integer()
    value_yuan = fields.String()
    items = fields.List(fields.Nested(SettlementItemSchema))
