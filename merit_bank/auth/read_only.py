"""Read-only logins (supervisors): one gate refuses their writes before any view runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_jwt_extended import decode_token
from jwt import ExpiredSignatureError

from ..database import first_statement
from ..extensions import db
from . import policy
from .models import User

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def open_to_read_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a write a read-only login may still make: signing out, or a supervisor's own note on a flag."""
    view.open_to_read_only = True  # type: ignore[attr-defined]
    return view


def _token_role() -> str | None:
    """The role signed into the request's bearer token or session cookie; None without a valid one.

    The role is in the token, and a user's role never changes: no database read is needed here. A revoked
    or expired token is refused (401) by the view's own check, but refusing its writes first is as safe.
    """
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    token = token or request.cookies.get(current_app.config["JWT_ACCESS_COOKIE_NAME"])
    if not token:
        return None
    try:
        # A token seen before is served from the verified-token cache (verified_tokens.py) without a
        # second signature check; an expired one is decoded again, only to read its role.
        payload = decode_token(token)
    except ExpiredSignatureError:
        try:
            payload = decode_token(token, allow_expired=True)
        except Exception:
            return None
    except Exception:  # forged or garbled: the view's own check answers
        return None
    if payload.get("type") != "access":
        return None
    role = payload.get("role")
    if isinstance(role, str):
        return role
    # A token made without the claim (by a tool or a test) names its user: read the role there.
    user_id = str(payload.get("sub", ""))
    if not (user_id.isdigit() and len(user_id) < 12):
        return None
    # This can be the request's first statement: on a connection that died in the pool it runs again.
    user = first_statement(lambda: db.session.get(User, int(user_id)))
    return user.role if user is not None else None


def refuse_writes_of_read_only_logins() -> None:
    # One gate before every view (and before body validation), so no write path, present or future,
    # lets a supervisor change anything; the decision itself is auth/policy's.
    if request.method in _SAFE_METHODS or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, "open_to_read_only", False):
        return
    role = _token_role()
    if role is not None and policy.role_is_read_only(role):
        raise policy.read_only_refusal()
