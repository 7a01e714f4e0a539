"""Request and response shapes for events and check-ins."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates_schema

from ..schemas import Id, Int, PageArgs, StrictSchema, Text

# Card tokens are `H<id>.<version>.<mac>`, event tokens `E<id>.<step>.<mac>`: both well under 64.
TOKEN = validate.Length(1, 100)


class AwareDateTime(fields.AwareDateTime):
    """ISO 8601 with an offset; a time without one is refused rather than guessed."""

    def __init__(self, **kwargs) -> None:
        super().__init__(format="iso", **kwargs)


class EventCreateSchema(StrictSchema):
    village_id = Id(required=True)
    title = Text(100, 1, required=True)
    rule_id = Id(required=True)
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    location = Text(200, allow_none=True)
    capacity = Int(1, 100_000, allow_none=True)
    rotating = fields.Boolean(load_default=False)


class EventSchema(StrictSchema):
    id = fields.Integer()
    village_id = fields.Integer()
    title = fields.String()
    rule_id = fields.Integer()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    location = fields.String()
    capacity = fields.Integer(allow_none=True)
    rotating = fields.Boolean()
    checked_in = fields.Integer()
    # Only for the event's clerks: the URL is the way in, and a villager reading it at home must not
    # be able to check in from there.
    checkin_url = fields.String(allow_none=True)


class EventQuerySchema(PageArgs):
    village_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    current = fields.Boolean(load_default=False)


class EventPageSchema(StrictSchema):
    items = fields.List(fields.Nested(EventSchema))
    total = fields.Integer()
    page = fields.Integer()


class CodeSchema(StrictSchema):
    token = fields.String()
    checkin_url = fields.String()
    rotating = fields.Boolean()
    seconds_left = fields.Integer(allow_none=True, metadata={"description": "until a rotating code changes"})


class TokenCheckinSchema(StrictSchema):
    token = fields.String(required=True, validate=TOKEN)


class CardCheckinSchema(StrictSchema):
    card_token = fields.String(validate=TOKEN)
    household_code = fields.String(validate=validate.Length(1, 12))
    member_id = Id(allow_none=True)

    @validates_schema
    def _one_way_to_name_the_household(self, data, **_kwargs) -> None:
        if bool(data.get("card_token")) == bool(data.get("household_code")):
            raise ValidationError(_l("Send exactly one of card_token and household_code."), "card_token")


class CheckinSchema(StrictSchema):
    id = fields.Integer()
    event_id = fields.Integer()
    member_id = fields.Integer()
    member_name = fields.String()
    household_id = fields.Integer()
    household_code = fields.String()
    claim_id = fields.Integer(allow_none=True)
    status = fields.String()
    points = fields.Integer(allow_none=True)
    late_entry = fields.Boolean(
        metadata={"description": "a late entry (补录): waits for a second person's approval"}
    )
    method = fields.String()
    checked_in_at = fields.DateTime()
    checked_out_at = fields.DateTime(allow_none=True)
    minutes = fields.Integer(allow_none=True)


class CheckinQuerySchema(PageArgs):
    since_id = fields.Integer(validate=validate.Range(0, 2**31 - 1))


class CheckinPageSchema(StrictSchema):
    items = fields.List(fields.Nested(CheckinSchema))
    total = fields.Integer()
    page = fields.Integer()


class BatchScanSchema(CardCheckinSchema):
    nonce = fields.String(required=True, validate=validate.Length(8, 64))
    scanned_at = AwareDateTime(required=True)


class BatchSchema(StrictSchema):
    scans = fields.List(fields.Nested(BatchScanSchema), required=True, validate=validate.Length(1, 500))


class BatchResultSchema(StrictSchema):
    nonce = fields.String()
    outcome = fields.String(metadata={"description": "created, already or refused"})
    code = fields.String(allow_none=True, metadata={"description": "the refusal's error code"})
    detail = fields.String()
    replayed = fields.Boolean(metadata={"description": "this nonce was judged before; its first answer"})
    checkin = fields.Nested(CheckinSchema, allow_none=True)


class BatchResponseSchema(StrictSchema):
    results = fields.List(fields.Nested(BatchResultSchema))


class ScanQuerySchema(PageArgs):
    household_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))


class ScanSchema(StrictSchema):
    id = fields.Integer()
    event_id = fields.Integer(allow_none=True)
    method = fields.String()
    household_id = fields.Integer(allow_none=True)
    household_code = fields.String(allow_none=True)
    member_id = fields.Integer(allow_none=True)
    member_name = fields.String(allow_none=True)
    outcome = fields.String()
    detail = fields.String()
    checkin_id = fields.Integer(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    device = fields.String()
    nonce = fields.String(allow_none=True)
    scanned_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class ScanPageSchema(StrictSchema):
    items = fields.List(fields.Nested(ScanSchema))
    total = fields.Integer()
    page = fields.Integer()


class RosterMemberSchema(StrictSchema):
    id = fields.Integer()
    name = fields.String()


class RosterHouseholdSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    head_name = fields.String()
    members = fields.List(fields.Nested(RosterMemberSchema))


class RosterSchema(StrictSchema):
    households = fields.List(fields.Nested(RosterHouseholdSchema))
