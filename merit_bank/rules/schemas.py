"""Request and response shapes of the rules API."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from ..auth.models import COUNCILS
from ..schemas import Id, Int, PageArgs, StrictSchema, Text
from .models import UNITS
from .services import MAX_CAP, MAX_NOTICE_DAYS, MAX_POINTS

CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", error=_l("Letters, digits, _ . - (1 to 40)."))


class RuleCreateSchema(StrictSchema):
    code = fields.String(required=True, validate=CODE)
    name = Text(100, 1, required=True)
    council = fields.String(required=True, validate=validate.OneOf(COUNCILS))
    points = Int(-MAX_POINTS, MAX_POINTS, required=True)
    unit = fields.String(load_default="each", validate=validate.OneOf(UNITS))
    monthly_cap = Int(1, MAX_CAP, allow_none=True, load_default=None)
    needs_review = fields.Boolean(load_default=True)
    notice_days = Int(0, MAX_NOTICE_DAYS, load_default=3)
    approvals_required = Int(1, 2, load_default=1)
    effective_from = fields.Date(allow_none=True, load_default=None)
    effective_to = fields.Date(allow_none=True, load_default=None)
    village_id = Id(allow_none=True)


class RulePatchSchema(StrictSchema):
    code = fields.String(validate=CODE)
    name = Text(100, 1)
    council = fields.String(validate=validate.OneOf(COUNCILS))
    points = Int(-MAX_POINTS, MAX_POINTS)
    unit = fields.String(validate=validate.OneOf(UNITS))
    monthly_cap = Int(1, MAX_CAP, allow_none=True)
    needs_review = fields.Boolean()
    notice_days = Int(0, MAX_NOTICE_DAYS)
    approvals_required = Int(1, 2)
    effective_from = fields.Date(allow_none=True)
    effective_to = fields.Date(allow_none=True)


class RulePathSchema(StrictSchema):
    """What happens to a claim under the rule: reviewers, then posted at once or after a public notice."""

    kind = fields.String(
        metadata={"description": "`at_once`: posted at the last approval; `public_notice`: after the notice"}
    )
    reviewers = fields.Integer(
        metadata={"description": "approvals a filed claim needs, from different people"}
    )
    notice_days = fields.Integer(metadata={"description": "days on the village notice board before posting"})
    checkins_post_at_once = fields.Boolean(
        metadata={"description": "a check-in at an event under this rule posts without review"}
    )
    summary = fields.String(metadata={"description": "the path in words, in the request's language"})


class _TermsSchema(StrictSchema):
    code = fields.String()
    name = fields.String()
    council = fields.String()
    points = fields.Integer()
    unit = fields.String()
    monthly_cap = fields.Integer(allow_none=True)
    needs_review = fields.Boolean()
    notice_days = fields.Integer()
    approvals_required = fields.Integer()
    effective_from = fields.Date(allow_none=True)
    effective_to = fields.Date(allow_none=True)
    path = fields.Nested(RulePathSchema, dump_only=True)


class RuleVersionSchema(_TermsSchema):
    version = fields.Integer()
    created_at = fields.DateTime()
    created_by_id = fields.Integer(allow_none=True)


class RuleSchema(_TermsSchema):
    id = fields.Integer()
    village_id = fields.Integer(allow_none=True)
    version = fields.Integer()
    active = fields.Boolean()
    retired = fields.Boolean()
    retired_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class RuleDetailSchema(RuleSchema):
    versions = fields.List(fields.Nested(RuleVersionSchema))


class RuleQuerySchema(PageArgs):
    council = fields.String(validate=validate.OneOf(COUNCILS))
    active = fields.Boolean()
    village_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))


class RulePageSchema(StrictSchema):
    items = fields.List(fields.Nested(RuleSchema))
    total = fields.Integer()
    page = fields.Integer()


class RulebookImportSchema(StrictSchema):
    village_id = Id(required=True)


class RulebookImportResultSchema(StrictSchema):
    created = fields.Integer()
    items = fields.List(fields.Nested(RuleSchema))
