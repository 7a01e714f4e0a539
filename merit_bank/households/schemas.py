"""Request and response shapes for households and members."""

from __future__ import annotations

from marshmallow import fields, validate

from ..inputs import mobile_field
from ..schemas import Id, PageArgs, StrictSchema, Text

TAGS = "身份标签 from the village's list (GET /villages/{id} member_tags), e.g. 党员"


class MemberCreateSchema(StrictSchema):
    name = Text(50, 1, required=True)
    phone = mobile_field(allow_none=True)
    id_number = fields.String(validate=validate.Length(15, 18), allow_none=True, load_only=True)
    relation = Text(20, allow_none=True)
    tags = fields.List(Text(20, 1), validate=validate.Length(max=30), metadata={"description": TAGS})


class MemberUpdateSchema(StrictSchema):
    tags = fields.List(
        Text(20, 1), required=True, validate=validate.Length(max=30), metadata={"description": TAGS}
    )


class MemberSchema(StrictSchema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String(allow_none=True)
    relation = fields.String()
    id_number = fields.String(attribute="id_number_masked", allow_none=True)
    tags = fields.List(fields.String(), attribute="tag_list")


class HouseholdCreateSchema(StrictSchema):
    village_id = Id(required=True)
    head_name = Text(50, 1, required=True)
    group = Text(50, allow_none=True)
    address = Text(200, allow_none=True, multiline=True)
    members = fields.List(fields.Nested(MemberCreateSchema), required=True, validate=validate.Length(1, 30))


class HouseholdSchema(StrictSchema):
    id = fields.Integer(attribute="household.id")
    code = fields.String(attribute="household.code")
    village_id = fields.Integer(attribute="household.village_id")
    head_name = fields.String(attribute="household.head_name")
    group = fields.String(attribute="household.group.name", allow_none=True)
    address = fields.String(attribute="household.address")
    members = fields.List(fields.Nested(MemberSchema))
    balance = fields.Integer()
    earned_total = fields.Integer()


class HouseholdQuerySchema(PageArgs):
    village_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    q = fields.String(validate=validate.Length(max=50))


class HouseholdPageSchema(StrictSchema):
    items = fields.List(fields.Nested(HouseholdSchema))
    total = fields.Integer()
    page = fields.Integer()


class HouseholdViewSchema(StrictSchema):
    id = fields.Integer()
    at = fields.DateTime()
    viewer_id = fields.Integer()
    viewer = fields.String(metadata={"description": "the supervisor's name (or username)"})
    role = fields.String()
    location = fields.String(metadata={"description": "the page or endpoint, e.g. GET /api/v1/households/7"})


class HouseholdViewPageSchema(StrictSchema):
    items = fields.List(fields.Nested(HouseholdViewSchema))
    total = fields.Integer()
    page = fields.Integer()


class CardSchema(StrictSchema):
    household_id = fields.Integer()
    token = fields.String()
