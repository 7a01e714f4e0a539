"""The log of supervisors' looks at households: written where a household's details are read, shown to it."""

from __future__ import annotations

import re
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import Select, select

from ..database import transaction, utcnow
from ..extensions import db
from . import policy
from .models import HouseholdView, User


def mask_phone(phone: str | None) -> str | None:
    """138****0001: enough to tell two people apart, not enough to call them."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def shown_name(viewer: User | None, user: User) -> str:
    """A user's name as `viewer` may see it: a villager's username is their phone, masked for a supervisor."""
    name = user.display_name or user.username
    if viewer is not None and not policy.sees_contact_details(viewer) and re.fullmatch(r"\+?\d{5,20}", name):
        return mask_phone(name) or ""
    return name


def note_household_view(actor: User, household_id: int) -> None:
    """Record that `actor` read the household's details, if their looks are logged (once per request)."""
    if not policy.logs_household_views(actor):
        return
    location = ""
    if has_request_context():
        seen = g.setdefault("_household_views_noted", set())
        if household_id in seen:
            return
        seen.add(household_id)
        location = f"{request.method} {request.path}"[:200]
    with transaction():
        db.session.add(
            HouseholdView(household_id=household_id, viewer_id=actor.id, at=utcnow(), location=location)
        )


def household_views(household_id: int) -> Select:
    """Who looked at the household, newest first (the caller checks that the reader may see the household)."""
    return (
        select(HouseholdView)
        .where(HouseholdView.household_id == household_id)
        .order_by(HouseholdView.at.desc(), HouseholdView.id.desc())
    )


def view_rows(views: list[HouseholdView]) -> list[dict[str, Any]]:
    ids = {view.viewer_id for view in views}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return [
        {
            "id": view.id,
            "at": view.at,
            "viewer_id": view.viewer_id,
            "viewer": users[view.viewer_id].display_name or users[view.viewer_id].username,
            "role": users[view.viewer_id].role,
            "location": view.location,
        }
        for view in views
    ]
