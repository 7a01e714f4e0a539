"""Event check-in tokens: `E<event id>.<time step>.<MAC>`, short enough for a low-version QR code.

A printed poster carries a static token (step 0). A rotating token is computed from the current
30-second time step — nothing is stored — and the previous step is still accepted, so a code shown on
the clerk's screen works for 30 to 60 seconds and a photo of it sent home is soon worthless.
Tokens are upper-case base32 so that the whole check-in URL stays in QR alphanumeric mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from flask import current_app, has_app_context, request

from ..database import utcnow
from ..errors import DomainError
from ..i18n import request_gettext as _
from ..signing import mac, mac_matches

STEP_SECONDS = 30
STATIC_STEP = 0
_PURPOSE = "event-checkin"
# 64 bits (13 base32 characters): every guess must be sent to the server while a rotating code lives
# for 60 s, and 3 characters fewer keep a typical URL at QR version 3 instead of 4.
_MAC_BYTES = 8

# The clock used for windows and time steps. Tests replace it (or set app.config["EVENTS_CLOCK"])
# to move time without sleeping.
clock: Callable[[], datetime] = utcnow


def now() -> datetime:
    """The current time as the events domain sees it (injectable for tests)."""
    if has_app_context():
        override = current_app.config.get("EVENTS_CLOCK")
        if override is not None:
            return override()
    return clock()


def step_at(at: datetime) -> int:
    """The 30-second time step that `at` falls in."""
    return int(at.timestamp()) // STEP_SECONDS


def step_start(step: int) -> datetime:
    return datetime.fromtimestamp(step * STEP_SECONDS, UTC)


def make_token(event_id: int, step: int) -> str:
    message = f"E{event_id}.{step}"
    return f"{message}.{mac(_PURPOSE, message, _MAC_BYTES)}"


def static_token(event_id: int) -> str:
    """The token printed on a poster: it never changes."""
    return make_token(event_id, STATIC_STEP)


def rotating_token(event_id: int, at: datetime | None = None) -> str:
    """The token of the time step at `at` (default: now)."""
    return make_token(event_id, step_at(at or now()))


@dataclass(frozen=True)
class ParsedToken:
    event_id: int
    step: int
    text: str

    @property
    def is_static(self) -> bool:
        return self.step == STATIC_STEP


def invalid(detail: str | None = None) -> DomainError:
    return DomainError("invalid-token", detail or _("This is not a valid check-in code."), status=400)


def parse(token: str) -> ParsedToken:
    """Check the token's shape and signature; raises invalid-token (400) for anything forged or cut."""
    text = (token or "").strip().upper()
    parts = text.split(".")
    if len(text) > 64 or len(parts) != 3:
        raise invalid()
    head, step, signature = parts
    if not head.startswith("E") or not head[1:].isdigit() or not step.isdigit():
        raise invalid()
    if len(head) > 11 or len(step) > 11 or head[1:2] == "0" or (step != "0" and step.startswith("0")):
        # Leading zeros would give one event many spellings of one token.
        raise invalid()
    if not mac_matches(_PURPOSE, f"{head}.{step}", signature, _MAC_BYTES):
        raise invalid()
    return ParsedToken(event_id=int(head[1:]), step=int(step), text=text)


def check_fresh(parsed: ParsedToken, *, rotating: bool, at: datetime) -> None:
    """Refuse a token that does not fit the event's kind of code, or a rotating one that has expired."""
    if not rotating:
        if not parsed.is_static:
            raise invalid()
        return
    if parsed.is_static:
        # A poster's code printed before the event was switched to rotating codes.
        raise DomainError(
            "token-expired", _("This code is no longer valid; scan the code on the screen."), status=410
        )
    current = step_at(at)
    # One step ahead is tolerated: several app processes may differ by a second or two.
    if parsed.step > current + 1:
        raise invalid()
    if parsed.step < current - 1:
        raise DomainError(
            "token-expired", _("This code has expired; scan the code on the screen again."), status=410
        )


def base_url() -> str:
    """PUBLIC_BASE_URL, or the host this request came to."""
    configured = (current_app.config.get("PUBLIC_BASE_URL") or "").strip()
    return (configured or request.host_url).rstrip("/")


def checkin_url(token: str, base: str | None = None) -> str:
    """The URL a phone's own scanner opens; scheme and host upper-cased so the QR stays alphanumeric."""
    parts = urlsplit(base if base is not None else base_url())
    # Scheme and host are case-insensitive, the path is not: only the former change case.
    prefix = urlunsplit((parts.scheme.upper(), parts.netloc.upper(), parts.path.rstrip("/"), "", ""))
    return f"{prefix}/C/{token}"
