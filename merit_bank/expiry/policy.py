"""Who announces and runs a village's points expiry, and who sees what will expire."""

from __future__ import annotations

from ..auth import policy as auth
from ..auth.models import User


def manages_expiry(actor: User) -> bool:
    """Announcing and running an expiry, like every other ledger correction, is for admins."""
    return auth.is_admin(actor)


def ensure_manages_expiry(actor: User, village_id: int) -> None:
    auth.require_role(actor, auth.ADMIN)
    auth.ensure_village(actor, village_id)


def ensure_sees_expiry(actor: User, village_id: int) -> None:
    """Announcements and the preview of who loses what: the village's staff."""
    auth.require_role(actor, *auth.STAFF)
    auth.ensure_village(actor, village_id)
