"""JSON API for events, their QR codes, check-ins (by event code, by household card, in offline batches)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth.scope import current_user
from ..inputs import parse_id, strip_control
from ..qr import qr_png, qr_svg
from ..schemas import page_of
from . import services, tokens
from .models import Event
from .schemas import (
    BatchResponseSchema,
    BatchSchema,
    CardCheckinSchema,
    CheckinPageSchema,
    CheckinQuerySchema,
    CheckinSchema,
    CodeSchema,
    EventCreateSchema,
    EventPageSchema,
    EventQuerySchema,
    EventSchema,
    RosterSchema,
    ScanPageSchema,
    ScanQuerySchema,
    TokenCheckinSchema,
)

blp = Blueprint("events_api", __name__, url_prefix="/api/v1", description="Events and QR check-in")


def _device() -> str:
    # Stored as text: a header may carry bytes a text column cannot keep.
    return strip_control(request.headers.get("User-Agent") or "")[:200]


def event_views(events: list[Event]) -> list[dict[str, Any]]:
    """Events with their check-in counts; the check-in URL only for the event's clerks."""
    user = current_user()
    counts = services.checkin_counts([e.id for e in events])
    rows = []
    for event in events:
        url = None
        if services.can_manage(user, event):
            url = tokens.checkin_url(services.current_token(event))
        rows.append(
            {
                "id": event.id,
                "village_id": event.village_id,
                "title": event.title,
                "rule_id": event.rule_id,
                "starts_at": event.starts_at,
                "ends_at": event.ends_at,
                "location": event.location,
                "capacity": event.capacity,
                "rotating": event.rotating,
                "checked_in": counts.get(event.id, 0),
                "checkin_url": url,
            }
        )
    return rows


@blp.route("/events", methods=["POST"])
@jwt_required()
@blp.arguments(EventCreateSchema)
@blp.response(201, EventSchema)
def create_event(data):
    """Create an event (admins and the clerks of the rule's council in the village)."""
    return event_views([services.create_event(current_user(), data)])[0]


@blp.route("/events")
@jwt_required()
@blp.arguments(EventQuerySchema, location="query")
@blp.response(200, EventPageSchema)
def list_events(args):
    """Events in scope, newest first; `current=true` hides those that have ended."""
    query = services.list_events(current_user(), args.get("village_id"), args["current"])
    return page_of(query, args["page"], args["per_page"], event_views)


@blp.route("/events/<int:event_id>")
@jwt_required()
@blp.response(200, EventSchema)
def get_event(event_id):
    return event_views([services.get_event(current_user(), event_id)])[0]


def _no_store(body: bytes, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    # A code is a way in (and a rotating one changes): never let a cache keep it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/events/<int:event_id>/code")
@jwt_required()
@blp.response(200, CodeSchema)
def event_code(event_id):
    """The token and URL the event's QR carries now, and how long until a rotating one changes."""
    event, token = services.code_for(current_user(), event_id)
    return {
        "token": token,
        "checkin_url": tokens.checkin_url(token),
        "rotating": event.rotating,
        "seconds_left": services.seconds_left(event),
    }


@blp.route("/events/<int:event_id>/qr.png")
@jwt_required()
@blp.response(200, content_type="image/png")
def event_qr_png(event_id):
    """The event's QR code as PNG (for the event's clerks)."""
    _event, token = services.code_for(current_user(), event_id)
    box = parse_id(request.args.get("box"), 40)
    box_size = box if box is not None and box >= 2 else 10
    return _no_store(qr_png(tokens.checkin_url(token), box_size=box_size), "image/png")


@blp.route("/events/<int:event_id>/qr.svg")
@jwt_required()
@blp.response(200, content_type="image/svg+xml")
def event_qr_svg(event_id):
    """The event's QR code as SVG (for the event's clerks; posters print it at any size)."""
    _event, token = services.code_for(current_user(), event_id)
    return _no_store(qr_svg(tokens.checkin_url(token)), "image/svg+xml")


def _checkin_response(result: services.Result):
    return services.checkin_view(result.checkin), (201 if result.created else 200)


@blp.route("/checkins", methods=["POST"])
@jwt_required()
@blp.arguments(TokenCheckinSchema)
@blp.response(201, CheckinSchema)
@blp.alt_response(200, schema=CheckinSchema, description="Already checked in: the same check-in.")
def checkin_with_token(data):
    """A villager checks in with the event code they scanned; again → 200 with the same body."""
    return _checkin_response(services.check_in_with_token(current_user(), data["token"], device=_device()))


@blp.route("/checkins/checkout", methods=["POST"])
@jwt_required()
@blp.arguments(TokenCheckinSchema)
@blp.response(200, CheckinSchema)
def checkout_with_token(data):
    """A villager checks out of an hour-based event by scanning its code again as they leave."""
    checkin = services.check_out_with_token(current_user(), data["token"])
    return services.checkin_view(checkin)


@blp.route("/events/<int:event_id>/checkins", methods=["POST"])
@jwt_required()
@blp.arguments(CardCheckinSchema)
@blp.response(201, CheckinSchema)
@blp.alt_response(200, schema=CheckinSchema, description="Already checked in: the same check-in.")
def checkin_with_card(data, event_id):
    """A clerk checks in a member of the household whose card was scanned (or whose code was typed)."""
    result = services.check_in_with_card(
        current_user(),
        event_id,
        card_token=data.get("card_token"),
        household_code=data.get("household_code"),
        member_id=data.get("member_id"),
        device=_device(),
    )
    return _checkin_response(result)


@blp.route("/events/<int:event_id>/checkins/batch", methods=["POST"])
@jwt_required()
@blp.arguments(BatchSchema)
@blp.response(200, BatchResponseSchema)
def checkin_batch(data, event_id):
    """Sync a clerk's offline scans: each judged at its scan time, once per nonce, on its own."""
    results = services.sync_batch(current_user(), event_id, data["scans"], device=_device())
    for result in results:
        if result["checkin"] is not None:
            result["checkin"] = services.checkin_view(result["checkin"])
    return {"results": results}


@blp.route("/events/<int:event_id>/checkins")
@jwt_required()
@blp.arguments(CheckinQuerySchema, location="query")
@blp.response(200, CheckinPageSchema)
def list_checkins(args, event_id):
    """The event's check-ins, oldest first; `since_id` returns only newer ones (for live lists)."""
    query = services.list_checkins(current_user(), event_id, args.get("since_id"))
    return page_of(query, args["page"], args["per_page"], services.checkin_views)


@blp.route("/events/<int:event_id>/checkins/<int:checkin_id>/checkout", methods=["POST"])
@jwt_required()
@blp.response(200, CheckinSchema)
def checkout(event_id, checkin_id):
    """End a member's attendance at an hour-based event; the hours become a claim."""
    return services.checkin_view(services.check_out(current_user(), event_id, checkin_id))


@blp.route("/events/<int:event_id>/scans")
@jwt_required()
@blp.arguments(ScanQuerySchema, location="query")
@blp.response(200, ScanPageSchema)
def list_scans(args, event_id):
    """Every scan at the event, refused ones included, newest first: the answer to "why no points?"."""
    query = services.list_scans(current_user(), event_id, args.get("household_id"))
    return page_of(query, args["page"], args["per_page"], services.scan_views)


@blp.route("/events/<int:event_id>/roster")
@jwt_required()
@blp.response(200, RosterSchema)
def roster(event_id):
    """The village's households and members, kept by the scan page for choosing members offline."""
    return {"households": services.roster(current_user(), event_id)}
