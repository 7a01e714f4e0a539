"""JSON API of points expiry: a village's settings and announcements, announce, preview and run."""

from __future__ import annotations

from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth.scope import current_user
from . import services
from .schemas import (
    AnnouncementSchema,
    AnnounceSchema,
    ExpiryOverviewSchema,
    ExpiryPreviewSchema,
    ExpiryRunSchema,
)

blp = Blueprint("expiry_api", __name__, url_prefix="/api/v1", description="Points expiry")


@blp.route("/villages/<int:village_id>/expiry")
@jwt_required()
@blp.response(200, ExpiryOverviewSchema)
def overview(village_id):
    """The village's expiry setting and its announcements, newest date first (staff of the village)."""
    return services.overview(current_user(), village_id)


@blp.route("/villages/<int:village_id>/expiry/announcements", methods=["POST"])
@jwt_required()
@blp.arguments(AnnounceSchema)
@blp.response(201, AnnouncementSchema)
def announce(data, village_id):
    """Announce an expiry date at least 30 days ahead (admins of the village)."""
    return services.announce(current_user(), village_id, data.get("expires_on"))


@blp.route("/villages/<int:village_id>/expiry/announcements/<int:announcement_id>/preview")
@jwt_required()
@blp.response(200, ExpiryPreviewSchema)
def preview(village_id, announcement_id):
    """What a run would post now: the FIFO rule's unspent old points per household."""
    return services.preview(current_user(), village_id, announcement_id)


@blp.route("/villages/<int:village_id>/expiry/announcements/<int:announcement_id>/run", methods=["POST"])
@jwt_required()
@blp.response(200, ExpiryRunSchema)
def run(village_id, announcement_id):
    """Post the announced expiry on or after its day (admins); a second run posts nothing."""
    return services.run_announced(current_user(), village_id, announcement_id)
