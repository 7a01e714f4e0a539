"""Who creates villages, changes their settings and keeps their groups (村民小组)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..auth import policy as auth
from ..auth.models import User
from ..errors import Forbidden


def creates_villages(actor: User) -> bool:
    """Only a deployment-wide admin adds a village."""
    return auth.is_deployment_admin(actor)


def ensure_creates_villages(actor: User) -> None:
    if not creates_villages(actor):
        raise Forbidden("forbidden", _l("Only a deployment-wide admin creates villages."))


def ensure_changes_village(actor: User) -> None:
    """A village's name, point value and publishing choices: its admins."""
    auth.require_role(actor, auth.ADMIN)


def ensure_keeps_groups(actor: User) -> None:
    """Groups of a village: its admins and clerks."""
    auth.require_role(actor, *auth.STAFF)


def edits_member_tags(actor: User, village_id: int) -> bool:
    """The village's list of member tags: its admins (clerks then pick from it)."""
    return auth.can_manage_village(actor, village_id, clerks=False)


def ensure_edits_member_tags(actor: User, village_id: int) -> None:
    auth.ensure_manages_village(actor, village_id, clerks=False)
