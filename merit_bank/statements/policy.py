"""Who reads a household's annual statement and who prints a whole village's."""

from __future__ import annotations

from ..auth import policy as auth
from ..auth.models import User


def ensure_reads_statement(actor: User, household_id: int, village_id: int) -> None:
    """The household's own villagers, and the village's admins and clerks (404 otherwise: no leak)."""
    auth.ensure_sees_household(actor, household_id, village_id)


def prints_village(actor: User) -> bool:
    return auth.is_staff(actor)


def ensure_prints_village(actor: User, village_id: int) -> None:
    """Every household's statement of a village at once: its admins and clerks."""
    auth.require_role(actor, *auth.STAFF)
    auth.ensure_village(actor, village_id)
