"""Request and response shapes of the expiry API."""

from __future__ import annotations

from marshmallow import fields

from ..schemas import StrictSchema


class AnnounceSchema(StrictSchema):
    expires_on = fields.Date(
        allow_none=True,
        metadata={"description": "the expiry day (local); default: the next expiry_day 30+ days away"},
    )


class AnnouncementSchema(StrictSchema):
    id = fields.Integer()
    village_id = fields.Integer()
    expires_on = fields.Date()
    years = fields.Integer()
    cutoff = fields.Date(metadata={"description": "points earned before this local day, unspent, expire"})
    created_at = fields.DateTime()
    run_at = fields.DateTime(allow_none=True)
    households = fields.Integer(allow_none=True)
    points = fields.Integer(allow_none=True)


class ExpiryOverviewSchema(StrictSchema):
    village_id = fields.Integer()
    expiry_years = fields.Integer(allow_none=True)
    expiry_day = fields.String()
    next_date = fields.Date(allow_none=True)
    announcements = fields.List(fields.Nested(AnnouncementSchema))


class HouseholdPointsSchema(StrictSchema):
    household_id = fields.Integer()
    points = fields.Integer()


class ExpiryPreviewSchema(StrictSchema):
    announcement_id = fields.Integer()
    expires_on = fields.Date()
    cutoff = fields.Date()
    households = fields.List(fields.Nested(HouseholdPointsSchema))
    points = fields.Integer()


class PostedSchema(StrictSchema):
    household_id = fields.Integer()
    points = fields.Integer()
    transaction_id = fields.Integer()


class ExpiryRunSchema(StrictSchema):
    announcement_id = fields.Integer()
    village_id = fields.Integer()
    expires_on = fields.Date()
    cutoff = fields.Date()
    run_at = fields.DateTime(allow_none=True)
    households = fields.Integer(allow_none=True)
    points = fields.Integer(allow_none=True)
    transactions = fields.List(fields.Nested(PostedSchema))
