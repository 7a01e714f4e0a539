"""JSON API for households, members and household QR cards."""

from __future__ import annotations

from flask import Response
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth import audit
from ..auth.scope import current_user
from ..qr import qr_png, qr_svg
from ..schemas import PageArgs, page_of
from . import services
from .schemas import (
    CardSchema,
    HouseholdCreateSchema,
    HouseholdPageSchema,
    HouseholdQuerySchema,
    HouseholdSchema,
    HouseholdViewPageSchema,
    MemberCreateSchema,
    MemberSchema,
    MemberUpdateSchema,
)

blp = Blueprint("households_api", __name__, url_prefix="/api/v1", description="Households and members")


def _one(household):
    return services.with_balances([household], current_user())[0]


@blp.route("/households", methods=["POST"])
@jwt_required()
@blp.arguments(HouseholdCreateSchema)
@blp.response(201, HouseholdSchema)
def create_household(data):
    """Register a household and its members (admins and clerks of the village)."""
    return _one(services.create_household(current_user(), data))


@blp.route("/households")
@jwt_required()
@blp.arguments(HouseholdQuerySchema, location="query")
@blp.response(200, HouseholdPageSchema)
def list_households(args):
    """Households in scope, searchable by head, member name, phone or household code."""
    query = services.search_households(current_user(), args.get("village_id"), args.get("q"))
    return page_of(
        query, args["page"], args["per_page"], lambda rows: services.with_balances(rows, current_user())
    )


@blp.route("/households/<int:household_id>")
@jwt_required()
@blp.response(200, HouseholdSchema)
def get_household(household_id):
    return _one(services.get_household(current_user(), household_id))


@blp.route("/households/by-code/<code>")
@jwt_required()
@blp.response(200, HouseholdSchema)
def get_household_by_code(code):
    """Look a household up by the short code printed on its card."""
    return _one(services.find_by_code(current_user(), code[:12]))


@blp.route("/households/<int:household_id>/views")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, HouseholdViewPageSchema)
def household_views(args, household_id):
    """Every look a supervisor took at the household's details: who, when, which page (newest first)."""
    query = services.views_of(current_user(), household_id)
    return page_of(query, args["page"], args["per_page"], audit.view_rows)


@blp.route("/households/<int:household_id>/members", methods=["POST"])
@jwt_required()
@blp.arguments(MemberCreateSchema)
@blp.response(201, MemberSchema)
def add_member(data, household_id):
    return services.add_member(current_user(), household_id, data)


@blp.route("/households/<int:household_id>/members/<int:member_id>", methods=["PATCH"])
@jwt_required()
@blp.arguments(MemberUpdateSchema)
@blp.response(200, MemberSchema)
def update_member(data, household_id, member_id):
    """Set a member's tags (身份标签) from the village's list (admins and clerks of the village)."""
    return services.update_member(current_user(), household_id, member_id, data)


def _card_response(body: bytes, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    # The card is a credential: never let a shared proxy or the browser cache keep it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/households/<int:household_id>/card.png")
@jwt_required()
@blp.response(200, content_type="image/png")
def card_png(household_id):
    """The household QR card as PNG."""
    household = services.card_household(current_user(), household_id)
    return _card_response(qr_png(services.card_token(household)), "image/png")


@blp.route("/households/<int:household_id>/card.svg")
@jwt_required()
@blp.response(200, content_type="image/svg+xml")
def card_svg(household_id):
    """The household QR card as SVG."""
    household = services.card_household(current_user(), household_id)
    return _card_response(qr_svg(services.card_token(household)), "image/svg+xml")


@blp.route("/households/<int:household_id>/card/reissue", methods=["POST"])
@jwt_required()
@blp.response(200, CardSchema)
def reissue_card(household_id):
    """Issue a new card; the previous card stops working at once."""
    household = services.reissue_card(current_user(), household_id)
    return {"household_id": household.id, "token": services.card_token(household)}
