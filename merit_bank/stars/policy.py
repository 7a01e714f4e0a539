"""Who previews, publishes and prints the 星级文明户, and who sets a village's thresholds."""

from __future__ import annotations

from ..auth import policy as auth
from ..auth.models import User


def previews_stars(actor: User) -> bool:
    """The preview, the published lists and the certificates: a village's admins and clerks."""
    return auth.is_staff(actor)


def ensure_previews_stars(actor: User) -> None:
    auth.require_role(actor, *auth.STAFF)


def publishes_stars(actor: User) -> bool:
    """Publishing (and correcting) a year's ratings, and the thresholds they use: the village's admins."""
    return auth.is_admin(actor)


def ensure_publishes_stars(actor: User) -> None:
    auth.require_role(actor, auth.ADMIN)
