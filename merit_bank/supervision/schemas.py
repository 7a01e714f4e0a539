"""Request and response shapes of the supervision API."""

from __future__ import annotations

from marshmallow import EXCLUDE, fields, validate

from ..schemas import MAX_INT, StrictSchema, Text


class FlagArgs(StrictSchema):
    """The villages (a region, or one village) and the period (`from`/`to`, or `month`; default: now)."""

    class Meta:
        unknown = EXCLUDE  # query strings pick up cache-busters

    region_id = fields.Integer(validate=validate.Range(1, MAX_INT))
    village_id = fields.Integer(validate=validate.Range(1, MAX_INT))
    start = fields.String(data_key="from", validate=validate.Length(max=10))
    end = fields.String(data_key="to", validate=validate.Length(max=10))
    month = fields.String(validate=validate.Length(max=7))
    year = fields.Integer(validate=validate.Range(2000, 2999))


class CheckSchema(StrictSchema):
    note = Text(1000, min_length=1, multiline=True, required=True)


class EvidenceSchema(StrictSchema):
    kind = fields.String(metadata={"enum": ["transaction", "claim", "redemption", "user", "household"]})
    id = fields.Integer()


class CheckerSchema(StrictSchema):
    id = fields.Integer()
    name = fields.String()


class FlagSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()
    village_id = fields.Integer()
    period = fields.String()
    subject = fields.String()
    reason = fields.String()
    figures = fields.Dict()
    evidence = fields.List(fields.Nested(EvidenceSchema))
    status = fields.String(metadata={"enum": ["open", "checked"]})
    note = fields.String(allow_none=True)
    checked_by = fields.Nested(CheckerSchema, allow_none=True)
    checked_at = fields.String(allow_none=True)


class FlagListSchema(StrictSchema):
    items = fields.List(fields.Nested(FlagSchema))
    period = fields.Dict()
