"""Pages: the clerk's events, event screen, A4 poster and card scanner; the villager's `/c/<token>` landing.

The landing page validates the event code before anything else and remembers, in a short-lived signed
cookie, that it was fresh when it was opened: typing a PIN after the login redirect may take longer
than a rotating code lives, and that must not cost the villager the check-in they turned up for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from marshmallow import ValidationError

from ..auth.models import User
from ..clock import local_zone
from ..errors import DomainError
from ..extensions import db
from ..inputs import parse_id, strip_control
from ..labels import council_label
from ..paging import paginate
from ..villages import services as village_services
from ..web import login_required, page_user, typed_code
from . import policy, services, tokens
from .models import Event
from .schemas import EventCreateSchema

bp = Blueprint("events", __name__)

TICKET_COOKIE = "mb_checkin"
TICKET_SALT = "event-checkin-ticket"
DEFAULT_GRACE_SECONDS = 600


def nav(user: User) -> list[dict[str, str]]:
    if not policy.runs_events(user):
        return []
    return [
        {"url": url_for("events.event_list"), "label": str(_l("Events"))},
        {"url": url_for("events.scan_choose"), "label": str(_l("Scan cards"))},
    ]


def _device() -> str:
    # Stored as text: a header may carry bytes a text column cannot keep.
    return strip_control(request.headers.get("User-Agent") or "")[:200]


def _local_input(value: str) -> str:
    """A `datetime-local` form value as ISO 8601 with the village's offset."""
    if not value:
        return ""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return value  # the schema reports it as invalid
    if naive.tzinfo is not None:
        return naive.isoformat()
    return naive.replace(tzinfo=local_zone()).isoformat()


def _rules_for(user: User, village_id: int | None) -> list[Any]:
    from ..rules import services as rule_services

    query = rule_services.list_rules(user, active=True, village_id=village_id, positive_only=True)
    rules = list(db.session.scalars(query))
    return [r for r in rules if policy.may_use_rule(user, r.council)]


# --- clerk pages -------------------------------------------------------------------------------------


@bp.route("/events", methods=["GET", "POST"])
@login_required(policy.runs_events)
def event_list():
    user: User = g.user
    errors: dict[str, Any] = {}
    form: dict[str, Any] = {}
    if request.method == "POST":
        form = request.form.to_dict()
        raw: dict[str, Any] = {
            "title": form.get("title", ""),
            "starts_at": _local_input(form.get("starts_at", "")),
            "ends_at": _local_input(form.get("ends_at", "")),
            "location": form.get("location") or None,
            "rotating": form.get("rotating") == "1",
        }
        for key in ("village_id", "rule_id", "capacity"):
            value = form.get(key, "").strip()
            if value:
                number = parse_id(value)
                raw[key] = value if number is None else number
        try:
            event = services.create_event(user, EventCreateSchema().load(raw))
            return redirect(url_for("events.event_page", event_id=event.id))
        except ValidationError as exc:
            errors = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        except DomainError as exc:
            errors = exc.errors or {"_": [exc.detail or exc.code]}
    villages = list(db.session.scalars(village_services.list_villages(user)))
    village_id = user.village_id or (villages[0].id if len(villages) == 1 else None)
    pager = paginate(services.list_events(user))
    events = pager.items
    counts = services.checkin_counts([e.id for e in events])
    now = tokens.now()
    return render_template(
        "events/list.html",
        events=events,
        pager=pager,
        counts=counts,
        now=now,
        villages=villages,
        rules=_rules_for(user, village_id),
        council_label=council_label,
        errors=errors,
        form=form,
    ), (422 if errors else 200)


@bp.get("/events/<int:event_id>")
@login_required(policy.runs_events)
def event_page(event_id: int):
    event = services.managed_event(g.user, event_id)
    rule = services.rule_of(event)
    return render_template(
        "events/event.html",
        event=event,
        rule=rule,
        checkin_url=tokens.checkin_url(services.current_token(event)),
        council_label=council_label,
    )


@bp.get("/events/<int:event_id>/poster")
@login_required(policy.runs_events)
def poster(event_id: int):
    event = services.managed_event(g.user, event_id)
    return render_template(
        "events/poster.html",
        event=event,
        rule=services.rule_of(event),
        checkin_url=tokens.checkin_url(services.current_token(event)),
    )


@bp.post("/events/<int:event_id>/checkins/<int:checkin_id>/checkout")
@login_required(policy.runs_events)
def checkout(event_id: int, checkin_id: int):
    services.check_out(g.user, event_id, checkin_id)
    return redirect(url_for("events.event_page", event_id=event_id))


@bp.get("/events/scan")
@login_required(policy.runs_events)
def scan_choose():
    """Pick the event to scan cards for; with one event running, go straight to it."""
    pager = paginate(services.list_events(g.user, current=True))
    events = pager.items
    now = tokens.now()
    running = [e for e in events if e.starts_at <= now <= e.ends_at]
    # Only when every current event is on this page is "the one running event" certain.
    if len(running) == 1 and pager.pages == 1:
        return redirect(url_for("events.scan_page", event_id=running[0].id))
    return render_template("events/scan_choose.html", events=events, now=now, pager=pager)


@bp.route("/events/<int:event_id>/scan", methods=["GET", "POST"])
@login_required(policy.runs_events)
def scan_page(event_id: int):
    event = services.managed_event(g.user, event_id)
    # A POST is the code form sent before scan.js had run: the page comes back with the code kept, and
    # the script looks it up once it runs (against its offline roster, like a code typed later).
    return render_template("events/scan.html", event=event, typed_code=typed_code())


@bp.get("/events/scan-sw.js")
def scan_service_worker():
    """The scanner's service worker, served under /events/ so that it may control the scan pages."""
    response = send_from_directory(Path(current_app.static_folder or "") / "js", "scan-sw.js", max_age=0)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    return response


# --- the villager's landing page -------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TICKET_SALT)


def _grace() -> int:
    return int(current_app.config.get("EVENTS_LOGIN_GRACE_SECONDS", DEFAULT_GRACE_SECONDS))


def _ticket_time(token: str) -> datetime | None:
    """When this browser opened this token while it was fresh, if that was within the login grace."""
    raw = request.cookies.get(TICKET_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != token.strip().upper():
        return None
    try:
        seen_at = datetime.fromtimestamp(float(data["at"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    # Judged by the events clock (not the cookie's own timestamp) so tests can move time.
    if not timedelta(0) <= tokens.now() - seen_at <= timedelta(seconds=_grace()):
        return None
    return seen_at


def _set_ticket(response, token: str, seen_at: datetime) -> None:
    value = _serializer().dumps({"t": token.strip().upper(), "at": seen_at.timestamp()})
    response.set_cookie(
        TICKET_COOKIE,
        value,
        max_age=_grace(),
        httponly=True,
        samesite="Lax",
        secure=current_app.config.get("JWT_COOKIE_SECURE", False),
    )


def _validated(token: str) -> tuple[Event, datetime, bool]:
    """The event of a token and the time it was known fresh; True when that is now (not a ticket)."""
    seen_at = _ticket_time(token)
    try:
        return services.validate_token(token), tokens.now(), True
    except DomainError as exc:
        if exc.code != "token-expired" or seen_at is None:
            raise
    return services.validate_token(token, seen_at), seen_at, False


def _refusal_page(exc: DomainError, token: str):
    return render_template("events/landing.html", refused=exc, event=None, token=token), exc.status


def _explain(exc: DomainError) -> str:
    """The reason for a refusal in plain words."""
    messages = {
        "invalid-token": _("This code is not a check-in code of Merit Bank."),
        "token-expired": _("This code has expired. Please scan the code on the screen again."),
        "event-full": _("Sorry, this event is full."),
        "not-your-village": _("This event is for another village."),
        "not-a-villager": _("Check-in with this code is for villagers. Staff scan household cards instead."),
    }
    if exc.code == "event-not-open":
        if exc.extra.get("reason") == "not-started":
            return _("Check-in has not opened yet. Please try again when the event starts.")
        return _("This event has ended; check-in is closed.")
    return messages.get(exc.code, exc.detail or exc.code)


def time_span(start: datetime, end: datetime) -> str:
    """An event's local times: 11月30日 20:00 – 22:00 within a day, the date on both ends when it crosses
    midnight (11月30日 20:00 – 12月1日 01:00), and the year when it is not this year's."""
    from babel.dates import format_skeleton
    from flask_babel import get_locale

    from ..clock import local_today

    zone, locale = local_zone(), get_locale()
    first, last = start.astimezone(zone), end.astimezone(zone)
    this_year = local_today().year

    def day(moment: datetime) -> str:
        skeleton = "MMMd" if moment.year == this_year else "yMMMd"
        return format_skeleton(skeleton, moment, locale=locale)

    def clock(moment: datetime) -> str:
        return format_skeleton("Hm", moment, locale=locale)

    if first.date() == last.date():
        return f"{day(first)} {clock(first)} – {clock(last)}"
    return f"{day(first)} {clock(first)} – {day(last)} {clock(last)}"


def template_helpers() -> dict[str, Any]:
    """Refusal texts and a household's check-ins, for every template (registered by create_app)."""
    return {"explain_refusal": _explain, "household_checkins": services.household_checkins}


@bp.get("/c/<token>")
@bp.get("/C/<token>")
def landing(token: str):
    """Validate the code first; then log in (remembering the code) or show the one-tap button."""
    token = token[:80]
    try:
        event, seen_at, fresh = _validated(token)
    except DomainError as exc:
        return _refusal_page(exc, token)
    user = page_user()
    if user is None:
        # The event first, then the phone number and PIN: a villager sees what they are signing in for.
        here = url_for("events.landing", token=token)
        response = current_app.make_response(
            render_template(
                "events/landing.html",
                event=event,
                rule=services.rule_of(event),
                token=token,
                refused=None,
                checkin=None,
                logged_out=True,
                login_action=url_for("web.login", next=here),
                activate_url=url_for("auth_pages.activate", next=here),
            )
        )
        _set_ticket(response, token, seen_at)
        return response
    g.user = user
    checkin = services.my_checkin(user, event)
    rule = services.rule_of(event)
    response = current_app.make_response(
        render_template(
            "events/landing.html",
            event=event,
            rule=rule,
            token=token,
            refused=None,
            checkin=services.checkin_view(checkin) if checkin else None,
            is_villager=policy.checks_in_self(user),
        )
    )
    if fresh:
        _set_ticket(response, token, seen_at)
    return response


@bp.post("/c/<token>")
@bp.post("/C/<token>")
def landing_checkin(token: str):
    """The one tap: check in as the logged-in villager and say what happened in plain words."""
    token = token[:80]
    user = page_user()
    if user is None:
        return redirect(url_for("web.login", next=url_for("events.landing", token=token)))
    g.user = user
    action = request.form.get("action", "checkin")
    try:
        if action == "checkout":
            checkin = services.check_out_with_token(user, token)
            created = False
        else:
            result = services.check_in_with_token(user, token, device=_device(), seen_at=_ticket_time(token))
            checkin, created = result.checkin, result.created
    except DomainError as exc:
        return _refusal_page(exc, token)
    event = db.session.get_one(Event, checkin.event_id)
    return render_template(
        "events/landing.html",
        event=event,
        rule=services.rule_of(event),
        token=token,
        refused=None,
        checkin=services.checkin_view(checkin),
        just_done=action if (created or action == "checkout") else "already",
        is_villager=True,
    ), (201 if created else 200)
