"""Request and response shapes of the reports API."""

from __future__ import annotations

from marshmallow import EXCLUDE, fields, validate

from ..schemas import MAX_INT, StrictSchema
from .exports import HEADER_MODES


class _Query(StrictSchema):
    class Meta:
        unknown = EXCLUDE  # query strings pick up cache-busters


class PeriodArgs(_Query):
    """A period: `from`/`to` (YYYY-MM-DD or YYYY-MM), or `month` (YYYY-MM), or `year`."""

    village_id = fields.Integer(validate=validate.Range(1, MAX_INT))
    start = fields.String(data_key="from", validate=validate.Length(max=10))
    end = fields.String(data_key="to", validate=validate.Length(max=10))
    month = fields.String(validate=validate.Length(max=7))
    year = fields.Integer(validate=validate.Range(2000, 2999))


class RankingArgs(PeriodArgs):
    group_id = fields.Integer(validate=validate.Range(1, MAX_INT))


class BoardArgs(RankingArgs):
    top = fields.Integer(load_default=10, validate=validate.Range(1, 100))


class PublicBoardArgs(_Query):
    month = fields.String(validate=validate.Length(max=7))
    year = fields.Integer(validate=validate.Range(2000, 2999))
    top = fields.Integer(load_default=10, validate=validate.Range(1, 100))


class ExportArgs(PeriodArgs):
    header = fields.String(load_default="labels", validate=validate.OneOf(HEADER_MODES))


class ParticipationArgs(PeriodArgs):
    tag = fields.String(
        validate=validate.Length(max=20),
        metadata={"description": "one of the village's member tags, e.g. 党员"},
    )


class ParticipationExportArgs(ParticipationArgs):
    header = fields.String(load_default="labels", validate=validate.OneOf(HEADER_MODES))


class ImportArgs(_Query):
    village_id = fields.Integer(required=True, validate=validate.Range(1, MAX_INT))
    dry_run = fields.Boolean(load_default=False)


class RankingRowSchema(StrictSchema):
    rank = fields.Integer()
    tied = fields.Boolean()
    household_id = fields.Integer()
    code = fields.String()
    head_name = fields.String()
    group = fields.String(allow_none=True)
    earned = fields.Integer()
    deducted = fields.Integer()
    covenant_deducted = fields.Integer()
    net = fields.Integer()


class RankingSchema(StrictSchema):
    village_id = fields.Integer()
    village_name = fields.String()
    group_id = fields.Integer(allow_none=True)
    group_name = fields.String(allow_none=True)
    period = fields.Dict()
    households = fields.Integer()
    earned = fields.Integer()
    deducted = fields.Integer()
    items = fields.List(fields.Nested(RankingRowSchema))


class BoardSchema(StrictSchema):
    village_id = fields.Integer()
    village_name = fields.String()
    group_id = fields.Integer(allow_none=True)
    group_name = fields.String(allow_none=True)
    period = fields.Dict()
    households = fields.Integer()
    earned = fields.Integer()
    deducted = fields.Integer()
    top = fields.Integer()
    red = fields.List(fields.Nested(RankingRowSchema))
    black = fields.List(fields.Nested(RankingRowSchema))


class ImportProblemSchema(StrictSchema):
    row = fields.Integer()
    column = fields.String()
    problem = fields.String()


class ImportReportSchema(StrictSchema):
    dry_run = fields.Boolean()
    ok = fields.Boolean()
    written = fields.Boolean()
    rows = fields.Integer()
    households = fields.Integer()
    households_created = fields.Integer()
    households_existing = fields.Integer()
    members_added = fields.Integer()
    members_existing = fields.Integer()
    errors = fields.List(fields.Nested(ImportProblemSchema))
