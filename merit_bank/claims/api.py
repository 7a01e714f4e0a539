"""JSON API of claims: filing, review (one by one or in batches), objections, post-due, the public board."""

from __future__ import annotations

from typing import Any

from flask import request, send_file, url_for
from flask_babel import lazy_gettext as _
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth.scope import current_user, visible_village_ids
from ..errors import ValidationFailed
from ..schemas import page_of
from . import photos, policy, services
from .schemas import (
    ClaimApproveSchema,
    ClaimBatchResultsSchema,
    ClaimBatchReviewSchema,
    ClaimCreateSchema,
    ClaimDetailSchema,
    ClaimPageSchema,
    ClaimQuerySchema,
    ClaimRejectSchema,
    ClaimSchema,
    NoticeBoardSchema,
    ObjectionCreateSchema,
    ObjectionSchema,
    PostDueSchema,
)

blp = Blueprint("claims_api", __name__, url_prefix="/api/v1", description="Claims: 申报 → 审核 → 公示 → 入账")


def _dump(claims) -> list[dict[str, Any]]:
    rows = services.claim_details(list(claims))
    for row in rows:
        row["photo_url"] = url_for("claims_api.claim_photo", claim_id=row["id"]) if row["has_photo"] else None
    return rows


def _one(claim) -> dict[str, Any]:
    return _dump([claim])[0]


def _detail(claim) -> dict[str, Any]:
    return {
        **_one(claim),
        "history": services.claim_history(claim, current_user()),
        "objections": services.claim_objections(claim),
    }


@blp.route("/claims", methods=["POST"])
@jwt_required()
@blp.arguments(ClaimCreateSchema)
@blp.response(201, ClaimSchema)
def create_claim(data):
    """File a claim, pending review: villagers for their own household, staff for their village's."""
    return _one(services.create_claim(current_user(), data))


@blp.route("/claims")
@jwt_required()
@blp.arguments(ClaimQuerySchema, location="query")
@blp.response(200, ClaimPageSchema)
def list_claims(args):
    """Claims in scope, newest first; filter by status, council, household, village, rule."""
    query = services.list_claims(
        current_user(),
        status=args.get("status"),
        council=args.get("council"),
        household_id=args.get("household_id"),
        village_id=args.get("village_id"),
        rule_id=args.get("rule_id"),
    )
    return page_of(query, args["page"], args["per_page"], _dump)


@blp.route("/claims/batch-review", methods=["POST"])
@jwt_required()
@blp.arguments(ClaimBatchReviewSchema)
@blp.response(200, ClaimBatchResultsSchema)
def batch_review(data):
    """Approve or reject many claims in one request; each is decided and recorded on its own."""
    text = data.get("reason") if data["decision"] == "reject" else data.get("comment")
    results = services.batch_review(current_user(), data["claim_ids"], data["decision"], text or "")
    ok = sum(1 for r in results if r["ok"])
    return {
        "results": results,
        "approved": ok if data["decision"] == "approve" else 0,
        "rejected": ok if data["decision"] == "reject" else 0,
        "failed": len(results) - ok,
    }


@blp.route("/claims/post-due", methods=["POST"])
@jwt_required()
@blp.response(200, PostDueSchema)
def post_due():
    """Post every claim in scope whose public notice ended unopposed (also the `post-due` CLI, for cron)."""
    user = current_user()
    policy.ensure_can_post_due(user)
    return services.post_due(village_ids=visible_village_ids(user))


@blp.route("/claims/<int:claim_id>")
@jwt_required()
@blp.response(200, ClaimDetailSchema)
def get_claim(claim_id):
    """A claim with its full history (who did what, when, with which comment) and its objections."""
    return _detail(services.claim_for_actor(current_user(), claim_id))


@blp.route("/claims/<int:claim_id>/approve", methods=["POST"])
@jwt_required()
@blp.arguments(ClaimApproveSchema)
@blp.response(200, ClaimSchema)
def approve_claim(data, claim_id):
    """Approve: → `approved` (waits for a second approver), `in_notice` or `posted`."""
    return _one(services.approve_claim(current_user(), claim_id, data.get("comment") or ""))


@blp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@jwt_required()
@blp.arguments(ClaimRejectSchema)
@blp.response(200, ClaimSchema)
def reject_claim(data, claim_id):
    """Reject a claim under review; a reason is required."""
    return _one(services.reject_claim(current_user(), claim_id, data["reason"]))


@blp.route("/claims/<int:claim_id>/objections", methods=["POST"])
@jwt_required()
@blp.arguments(ObjectionCreateSchema)
@blp.response(201, ObjectionSchema)
def object_to_claim(data, claim_id):
    """Object to a claim during its public notice (people of that village); it becomes `disputed`."""
    objection = services.object_to_claim(current_user(), claim_id, data["reason"])
    return {
        "id": objection.id,
        "claim_id": objection.claim_id,
        "user_id": objection.user_id,
        "reason": objection.reason,
        "created_at": objection.created_at,
        "status": "disputed",
    }


@blp.route("/claims/<int:claim_id>/photo", methods=["PUT"])
@jwt_required()
@blp.response(200, ClaimDetailSchema)
def upload_claim_photo(claim_id):
    """Add or replace the evidence photo: multipart/form-data with the image in the field `photo`."""
    upload = request.files.get("photo")
    if upload is None:
        raise ValidationFailed(
            errors={"photo": [_("Send the image as multipart/form-data in the field 'photo'.")]}
        )
    return _detail(services.attach_photo(current_user(), claim_id, upload.stream))


@blp.route("/claims/<int:claim_id>/photo")
@jwt_required()
def claim_photo(claim_id):
    """The claim's evidence photo, only for those who may see the claim."""
    name, mimetype = services.photo_for_actor(current_user(), claim_id)
    response = send_file(photos.photo_path(name), mimetype=mimetype, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("/board/<village_code>")
@blp.response(200, NoticeBoardSchema)
def board(village_code):
    """The village's public notice board (公示栏): claims under notice; no login needed."""
    village, rows = services.notice_board(village_code[:32])
    return {"village": village.name, "village_code": village.code, "items": rows}
