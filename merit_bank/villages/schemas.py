"""Request and response shapes for villages."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate

from ..schemas import Id, Int, StrictSchema, Text

POSITION_DESCRIPTION = "the group's place in the village's order; null: by name, numbers read as numbers"

MEMBER_TAGS_DESCRIPTION = (
    "the tags (身份标签) members may carry, in order; by default 党员, 村干部, 村民代表, 网格员, 志愿者. "
    "A tag taken off the list is taken off every member (admins of the village)."
)


class GroupSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    name = Text(50, 1, required=True)
    position = Int(0, 9999, allow_none=True, metadata={"description": POSITION_DESCRIPTION})


class GroupUpdateSchema(StrictSchema):
    name = Text(50, 1)
    position = Int(0, 9999, allow_none=True, metadata={"description": POSITION_DESCRIPTION})


class VillageCreateSchema(StrictSchema):
    name = Text(100, 1, required=True)
    code = fields.String(
        required=True,
        validate=[
            validate.Length(2, 32),
            validate.Regexp(r"^[A-Za-z0-9_-]+$", error=_l("Letters, digits, - and _.")),
        ],
    )
    point_value_fen = Int(0, 100_000)
    groups = fields.List(Text(50, 1), validate=validate.Length(max=100))


def _day_of_year(value: str) -> None:
    """MM-DD of a day every year has (29 February is refused: most years would have no expiry)."""
    try:
        month, day = (int(part) for part in value.split("-"))
        date(2025, month, day)
    except ValueError:
        raise ValidationError(_l("A day of the year as MM-DD, e.g. 12-31.")) from None


EXPIRY_YEARS_DESCRIPTION = "points earned more than N years before an expiry date expire on it; null: never"


class VillageUpdateSchema(StrictSchema):
    name = Text(100, 1)
    point_value_fen = Int(0, 100_000)
    publish_rankings = fields.Boolean(truthy={True}, falsy={False})
    late_entry_days = Int(0, 366)
    region_id = Id(
        allow_none=True, metadata={"description": "the township (乡镇); null takes it out of every region"}
    )
    member_tags = fields.List(
        Text(20, 1), validate=validate.Length(max=30), metadata={"description": MEMBER_TAGS_DESCRIPTION}
    )
    expiry_years = Int(1, 100, allow_none=True, metadata={"description": EXPIRY_YEARS_DESCRIPTION})
    expiry_day = fields.String(
        validate=[
            validate.Regexp(r"^[0-9]{2}-[0-9]{2}$", error=_l("A day of the year as MM-DD, e.g. 12-31.")),
            _day_of_year,
        ],
        metadata={"description": "MM-DD: the day an announced expiry falls on by default"},
    )


class VillageSchema(StrictSchema):
    id = fields.Integer()
    name = fields.String()
    code = fields.String()
    point_value_fen = fields.Integer()
    publish_rankings = fields.Boolean()
    late_entry_days = fields.Integer(
        metadata={"description": "grace window in days; older deeds are late entries (补录)"}
    )
    member_tags = fields.List(
        fields.String(), attribute="tag_list", metadata={"description": MEMBER_TAGS_DESCRIPTION}
    )
    expiry_years = fields.Integer(allow_none=True, metadata={"description": EXPIRY_YEARS_DESCRIPTION})
    expiry_day = fields.String(
        metadata={"description": "MM-DD: the day an announced expiry falls on by default"}
    )
    groups = fields.List(fields.Nested(GroupSchema), attribute="ordered_groups")
    region_id = fields.Integer(allow_none=True, metadata={"description": "the township (乡镇), if placed"})


class VillagePageSchema(StrictSchema):
    items = fields.List(fields.Nested(VillageSchema))
    total = fields.Integer()
    page = fields.Integer()


class RegionCreateSchema(StrictSchema):
    name = Text(100, 1, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("county", "township")))
    parent_id = Id(allow_none=True, metadata={"description": "a township's county; none for a county"})


class RegionSchema(StrictSchema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    parent_id = fields.Integer(allow_none=True)


class RegionListSchema(StrictSchema):
    items = fields.List(fields.Nested(RegionSchema))
