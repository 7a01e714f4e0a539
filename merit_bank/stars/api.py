"""JSON API of the 星级文明户: preview, publish, published lists, settings and certificates (PDF)."""

from __future__ import annotations

from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth.scope import current_user
from ..checkpoints.views import verify_page_url
from ..pdf import pdf_response
from . import services
from .schemas import CertificateArgs, PublishedArgs, PublishSchema, SettingsArgs, SettingsSchema, StarsArgs

blp = Blueprint("stars_api", __name__, url_prefix="/api/v1", description="星级文明户 (star-rated households)")


@blp.route("/reports/stars")
@jwt_required()
@blp.arguments(StarsArgs, location="query")
@blp.response(200)
def preview(args):
    """The year's ratings as the ledger gives them now, with the year's publications (admins, clerks)."""
    return services.preview(current_user(), args.get("village_id"), args["year"])


@blp.route("/reports/stars/publish", methods=["POST"])
@jwt_required()
@blp.arguments(PublishSchema)
@blp.response(201)
def publish(body):
    """Publish the year's ratings (admins): fixed from now on; publishing again is a correction
    (the next version) and needs a `reason`."""
    return services.publish(current_user(), body.get("village_id"), body["year"], body.get("reason"))


@blp.route("/reports/stars/published")
@jwt_required()
@blp.arguments(PublishedArgs, location="query")
@blp.response(200)
def published(args):
    """A published list: the latest version, or `version`; 404 `stars-not-published`."""
    return services.published(current_user(), args.get("village_id"), args["year"], args.get("version"))


@blp.route("/reports/stars/settings")
@jwt_required()
@blp.arguments(SettingsArgs, location="query")
@blp.response(200)
def settings(args):
    """A village's star thresholds and disqualifying councils (the defaults until set)."""
    village = services.village_for(current_user(), args.get("village_id"))
    return {"village_id": village.id, **services.settings_of(village.id)}


@blp.route("/reports/stars/settings", methods=["PUT"])
@jwt_required()
@blp.arguments(SettingsSchema)
@blp.response(200)
def update_settings(body):
    """Set a village's thresholds and caps (admins); published years keep the settings they used."""
    return services.update_settings(current_user(), body.get("village_id"), body["thresholds"], body["caps"])


@blp.route("/reports/stars/certificates.pdf")
@jwt_required()
@blp.arguments(CertificateArgs, location="query")
@blp.response(200, content_type="application/pdf")
def certificates(args):
    """A4 certificates of the latest published list: every household with a star, or `household_id`'s."""
    actor = current_user()
    village = services.village_for(actor, args.get("village_id"))
    data, name = services.certificates_pdf(
        actor, village.id, args["year"], args.get("household_id"), verify_url=verify_page_url(village.code)
    )
    return pdf_response(data, name)
