"""JSON API of supervision: the flags of a region (or a village) for a period, and marking one checked."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth.read_only import open_to_read_only
from ..auth.scope import current_user
from ..reports.periods import parse_period
from . import services
from .schemas import CheckSchema, FlagArgs, FlagListSchema, FlagSchema

blp = Blueprint("supervision_api", __name__, url_prefix="/api/v1", description="Supervision flags")


@blp.route("/supervision/flags")
@jwt_required()
@blp.arguments(FlagArgs, location="query")
@blp.response(200, FlagListSchema)
def flags(args: dict[str, Any]):
    """Flags pointing at possible favouritism in the villages of a region (or one village) for a period.

    Computed on request from the ledger, claims and shop; each finding keeps its id across computations,
    so a supervisor's check stays with it.
    """
    period = parse_period(args.get("start"), args.get("end"), args.get("month"), args.get("year"))
    villages = services.query_villages(current_user(), args.get("region_id"), args.get("village_id"))
    items = services.compute_flags(current_user(), [v.id for v in villages], period)
    return {"items": items, "period": period.as_dict()}


@blp.route("/supervision/flags/<int:flag_id>")
@jwt_required()
@blp.response(200, FlagSchema)
def flag(flag_id: int):
    """One kept flag as last computed, with its check."""
    return services.describe([services.get_flag(current_user(), flag_id)])[0]


@blp.route("/supervision/flags/<int:flag_id>/check", methods=["POST"])
@open_to_read_only
@jwt_required()
@blp.arguments(CheckSchema)
@blp.response(200, FlagSchema)
def check(data: dict[str, Any], flag_id: int):
    """Mark a flag checked with a note (what was found); kept with who and when."""
    return services.describe([services.check_flag(current_user(), flag_id, data["note"])])[0]
