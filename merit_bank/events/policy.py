"""Who may run an event, check people in and check in oneself; the own-household rule at the scanner."""

from __future__ import annotations

from ..auth import policy as auth
from ..auth.models import User
from ..errors import Forbidden
from ..i18n import request_gettext as _
from .models import Event


def runs_events(actor: User) -> bool:
    """Admins and clerks run events (those of their villages); the pages and the menu are theirs."""
    return auth.is_staff(actor)


def reads_events(actor: User) -> bool:
    """The event pages and lists: those who run events, and supervisors (read-only)."""
    return auth.reads_as_staff(actor)


def sees_event(actor: User, event: Event) -> bool:
    """Reading one event, its check-ins and scans: its clerks, and supervisors of its region."""
    return can_manage(actor, event) or (
        auth.is_supervisor(actor) and auth.can_see_village(actor, event.village_id)
    )


def can_manage(actor: User, event: Event) -> bool:
    """The event's clerks: admins and clerks of its village."""
    return auth.can_manage_village(actor, event.village_id)


def ensure_manages(actor: User, event: Event) -> None:
    """Villagers and other villages get 404 (no leak), other staff of the village 403."""
    auth.ensure_manages_village(actor, event.village_id)


def ensure_may_use_rule(actor: User, council: str) -> None:
    if auth.is_clerk(actor) and not auth.serves_council(actor, council):
        raise Forbidden("forbidden", _("You are not a clerk of this rule's council."))


def may_use_rule(actor: User, council: str) -> bool:
    return not auth.is_clerk(actor) or auth.serves_council(actor, council)


def checks_in_self(actor: User) -> bool:
    """Only a villager linked to a member checks in with the event code; staff scan cards."""
    return auth.is_villager(actor) and actor.member_id is not None


def can_check_in(actor: User, household_id: int) -> bool:
    """A clerk's scan of a household's card or code: never for the clerk's own household."""
    return auth.can_award(actor, household_id)


def ensure_can_check_in(actor: User, household_id: int) -> None:
    """Refused like a claim review of one's own household (403 `own-household`); a self check-in never is."""
    auth.ensure_can_award(actor, household_id)
