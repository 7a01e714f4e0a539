"""Request and response shapes of the ledger API."""

from __future__ import annotations

from datetime import UTC

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates_schema

from ..schemas import Id, Int, PageArgs, StrictSchema, Text


class EntrySchema(StrictSchema):
    account_id = fields.Integer()
    account_key = fields.String(attribute="account.key")
    amount = fields.Integer()
    balance_after = fields.Integer()


class TransactionSchema(StrictSchema):
    id = fields.Integer()
    village_id = fields.Integer()
    seq = fields.Integer()
    kind = fields.String()
    # For a list filtered by household: what this transaction did to that household.
    amount = fields.Integer(allow_none=True)
    balance_after = fields.Integer(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    rule_id = fields.Integer(allow_none=True)
    rule_version = fields.Integer(allow_none=True)
    memo = fields.String()
    created_at = fields.DateTime()
    reverses_id = fields.Integer(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()
    entries = fields.List(fields.Nested(EntrySchema))


class TransactionPageSchema(StrictSchema):
    items = fields.List(fields.Nested(TransactionSchema))
    total = fields.Integer()
    page = fields.Integer()


class TransactionQuerySchema(PageArgs):
    village_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    household_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    start = fields.AwareDateTime(data_key="from", default_timezone=UTC)
    end = fields.AwareDateTime(data_key="to", default_timezone=UTC)


class HistoryRowSchema(StrictSchema):
    id = fields.Integer()
    kind = fields.String()
    amount = fields.Integer()
    balance_after = fields.Integer()
    memo = fields.String()
    created_at = fields.DateTime()
    reverses_id = fields.Integer(allow_none=True)
    member_name = fields.String(
        allow_none=True, metadata={"description": "for a claim's points: the member who did the deed"}
    )


class HistoryPageSchema(StrictSchema):
    items = fields.List(fields.Nested(HistoryRowSchema))
    total = fields.Integer()
    page = fields.Integer()


class BalanceQuerySchema(StrictSchema):
    class Meta:
        unknown = "exclude"

    as_of = fields.AwareDateTime(default_timezone=UTC)


class BalanceSchema(StrictSchema):
    household_id = fields.Integer()
    balance = fields.Integer()
    as_of = fields.DateTime(allow_none=True)


class VerifyQuerySchema(StrictSchema):
    class Meta:
        unknown = "exclude"

    village_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))


class ChainHeadSchema(StrictSchema):
    village_id = fields.Integer()
    seq = fields.Integer()
    hash = fields.String()


class VerifySchema(StrictSchema):
    ok = fields.Boolean()
    transactions = fields.Integer()
    head = fields.List(fields.Nested(ChainHeadSchema))
    first_bad_id = fields.Integer(allow_none=True)
    reason = fields.String()
    village_id = fields.Integer(allow_none=True)
    account_id = fields.Integer()


class ExportQuerySchema(StrictSchema):
    class Meta:
        unknown = "exclude"

    village_id = fields.Integer(required=True, validate=validate.Range(1, 2**31 - 1))
    format = fields.String(load_default="jsonl", validate=validate.OneOf(["csv", "jsonl"]))


class ReversalSchema(StrictSchema):
    memo = Text(500, 1, required=True, multiline=True)


class AdjustmentSchema(StrictSchema):
    village_id = Id(required=True)
    household_id = Id()
    shop_id = Id()
    points = Int(-1_000_000, 1_000_000, required=True)
    memo = Text(500, 1, required=True, multiline=True)

    @validates_schema
    def _one_target(self, data, **_kwargs) -> None:
        if ("household_id" in data) == ("shop_id" in data):
            raise ValidationError(_l("Give exactly one of household_id and shop_id."), "household_id")
