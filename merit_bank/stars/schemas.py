"""Request shapes of the 星级文明户 API."""

from __future__ import annotations

from marshmallow import EXCLUDE, fields, validate

from ..labels import COUNCILS
from ..schemas import MAX_INT, Id, Int, StrictSchema, Text
from .models import MAX_STARS


class StarsArgs(StrictSchema):
    class Meta:
        unknown = EXCLUDE  # query strings pick up cache-busters

    village_id = fields.Integer(validate=validate.Range(1, MAX_INT))
    year = fields.Integer(required=True, validate=validate.Range(2000, 2999))


class PublishedArgs(StarsArgs):
    version = fields.Integer(validate=validate.Range(1, 10_000))


class CertificateArgs(StarsArgs):
    household_id = fields.Integer(validate=validate.Range(1, MAX_INT))


class SettingsArgs(StrictSchema):
    class Meta:
        unknown = EXCLUDE

    village_id = fields.Integer(validate=validate.Range(1, MAX_INT))


class PublishSchema(StrictSchema):
    village_id = Id()
    year = Int(2000, 2999, required=True)
    # Required for a correction (a year already published): why the list changes.
    reason = Text(500)


class SettingsSchema(StrictSchema):
    village_id = Id()
    # Points earned in the year for 1, 2, ... stars, rising.
    thresholds = fields.List(Int(1, 10_000_000), required=True, validate=validate.Length(1, MAX_STARS))
    # {council code: the most stars a household with a net deduction of that council may get}.
    caps = fields.Dict(
        keys=fields.String(validate=validate.OneOf(COUNCILS)),
        values=Int(0, MAX_STARS - 1),
        load_default=dict,
    )
