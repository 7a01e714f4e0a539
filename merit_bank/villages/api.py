"""JSON API for villages and their groups."""

from __future__ import annotations

from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth.scope import current_user
from ..schemas import PageArgs, page_of
from . import regions, services
from .schemas import (
    GroupSchema,
    GroupUpdateSchema,
    RegionCreateSchema,
    RegionListSchema,
    RegionSchema,
    VillageCreateSchema,
    VillagePageSchema,
    VillageSchema,
    VillageUpdateSchema,
)

blp = Blueprint("villages_api", __name__, url_prefix="/api/v1", description="Villages and 村民小组")


@blp.route("/villages", methods=["POST"])
@jwt_required()
@blp.arguments(VillageCreateSchema)
@blp.response(201, VillageSchema)
def create_village(data):
    """Add a village (deployment-wide admins)."""
    return services.create_village(current_user(), data)


@blp.route("/villages")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, VillagePageSchema)
def list_villages(args):
    """Villages in the caller's scope."""
    return page_of(services.list_villages(current_user()), args["page"], args["per_page"], list)


@blp.route("/villages/<int:village_id>")
@jwt_required()
@blp.response(200, VillageSchema)
def get_village(village_id):
    return services.get_village(current_user(), village_id)


@blp.route("/villages/<int:village_id>", methods=["PATCH"])
@jwt_required()
@blp.arguments(VillageUpdateSchema)
@blp.response(200, VillageSchema)
def update_village(data, village_id):
    return services.update_village(current_user(), village_id, data)


@blp.route("/villages/<int:village_id>/groups", methods=["POST"])
@jwt_required()
@blp.arguments(GroupSchema)
@blp.response(201, GroupSchema)
def add_group(data, village_id):
    """Add a 村民小组 to a village."""
    return services.add_group(current_user(), village_id, data["name"], data.get("position"))


@blp.route("/villages/<int:village_id>/groups/<int:group_id>", methods=["PATCH"])
@jwt_required()
@blp.arguments(GroupUpdateSchema)
@blp.response(200, GroupSchema)
def update_group(data, village_id, group_id):
    """Rename a 村民小组 or set its place in the village's order (`position`; null: by name)."""
    return services.update_group(current_user(), village_id, group_id, data)


@blp.route("/regions", methods=["POST"])
@jwt_required()
@blp.arguments(RegionCreateSchema)
@blp.response(201, RegionSchema)
def create_region(data):
    """Add a county, or a township in a county (deployment-wide admins)."""
    return regions.create_region(current_user(), data)


@blp.route("/regions")
@jwt_required()
@blp.response(200, RegionListSchema)
def list_regions():
    """Every county and township (deployment-wide admins and supervisors)."""
    return {"items": regions.list_regions(current_user())}
