"""Request and response shapes of the claims API."""

from __future__ import annotations

from marshmallow import fields, validate

from ..auth.models import COUNCILS
from ..schemas import Id, Int, PageArgs, StrictSchema, Text
from .models import STATUSES
from .services import MAX_BATCH, MAX_QUANTITY


class ClaimCreateSchema(StrictSchema):
    household_id = Id(required=True)
    rule_id = Id(required=True)
    member_id = Id(allow_none=True)
    quantity = Int(1, MAX_QUANTITY, load_default=1)
    note = Text(500, allow_none=True, multiline=True)
    occurred_on = fields.Date(allow_none=True)


class ClaimApproveSchema(StrictSchema):
    comment = Text(500, allow_none=True, load_default="", multiline=True)


class ClaimRejectSchema(StrictSchema):
    reason = Text(500, 1, required=True, multiline=True)


class ObjectionCreateSchema(StrictSchema):
    reason = Text(500, 1, required=True, multiline=True)


class ClaimBatchReviewSchema(StrictSchema):
    claim_ids = fields.List(Id(), required=True, validate=validate.Length(1, MAX_BATCH))
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    comment = Text(500, allow_none=True, multiline=True)
    reason = Text(500, allow_none=True, multiline=True)


class ClaimBatchErrorSchema(StrictSchema):
    type = fields.String()
    detail = fields.String()


class ClaimBatchResultSchema(StrictSchema):
    id = fields.Integer()
    ok = fields.Boolean()
    status = fields.String()
    error = fields.Nested(ClaimBatchErrorSchema)


class ClaimBatchResultsSchema(StrictSchema):
    results = fields.List(fields.Nested(ClaimBatchResultSchema))
    approved = fields.Integer()
    rejected = fields.Integer()
    failed = fields.Integer()


class ClaimSchema(StrictSchema):
    id = fields.Integer()
    village_id = fields.Integer()
    household_id = fields.Integer()
    household_head = fields.String()
    member_id = fields.Integer(allow_none=True)
    member_name = fields.String(allow_none=True)
    rule_id = fields.Integer()
    rule_version = fields.Integer()
    rule_code = fields.String()
    rule_name = fields.String()
    unit = fields.String()
    approvals_required = fields.Integer()
    council = fields.String()
    quantity = fields.Integer()
    points = fields.Integer()
    note = fields.String()
    occurred_on = fields.Date()
    status = fields.String()
    source = fields.String()
    late_entry = fields.Boolean(
        metadata={"description": "补录: older than the village's late_entry_days; needs a second person"}
    )
    entered_by_id = fields.Integer(allow_none=True, metadata={"description": "who entered the claim"})
    created_by_id = fields.Integer(allow_none=True)
    first_approver_id = fields.Integer(allow_none=True)
    notice_ends_at = fields.DateTime(allow_none=True)
    posted_at = fields.DateTime(allow_none=True)
    transaction_id = fields.Integer(allow_none=True)
    has_photo = fields.Boolean()
    photo_url = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ClaimActionSchema(StrictSchema):
    id = fields.Integer()
    action = fields.String()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String(allow_none=True)
    actor_role = fields.String(allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    comment = fields.String()
    created_at = fields.DateTime()


class ObjectionSchema(StrictSchema):
    id = fields.Integer()
    claim_id = fields.Integer()
    user_id = fields.Integer()
    reason = fields.String()
    created_at = fields.DateTime()
    status = fields.String()


class ClaimDetailSchema(ClaimSchema):
    history = fields.List(fields.Nested(ClaimActionSchema))
    objections = fields.List(fields.Nested(ObjectionSchema))


class ClaimQuerySchema(PageArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    council = fields.String(validate=validate.OneOf(COUNCILS))
    household_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    village_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    rule_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))


class ClaimPageSchema(StrictSchema):
    items = fields.List(fields.Nested(ClaimSchema))
    total = fields.Integer()
    page = fields.Integer()


class PostDueErrorSchema(StrictSchema):
    id = fields.Integer()
    type = fields.String()
    detail = fields.String()


class PostDueSchema(StrictSchema):
    posted = fields.List(fields.Integer())
    refused = fields.List(fields.Nested(PostDueErrorSchema))
    failed = fields.List(fields.Nested(PostDueErrorSchema))


class NoticeBoardRowSchema(StrictSchema):
    id = fields.Integer()
    household_head = fields.String()
    member_name = fields.String(
        allow_none=True, metadata={"description": "the member who did the deed; null: not recorded"}
    )
    rule_name = fields.String()
    council = fields.String()
    points = fields.Integer()
    quantity = fields.Integer()
    reason = fields.String()
    occurred_on = fields.Date()
    late_entry = fields.Boolean()
    notice_ends_at = fields.DateTime()


class NoticeBoardSchema(StrictSchema):
    village = fields.String()
    village_code = fields.String()
    items = fields.List(fields.Nested(NoticeBoardRowSchema))
