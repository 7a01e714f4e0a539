"""Who may file, see, review, object to and post claims: asked by the service, API, pages and CLI."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, false, true

from ..auth import policy as auth
from ..auth.models import COUNCILS, User
from ..database import utcnow
from ..errors import Forbidden
from ..i18n import request_gettext as _
from .models import REVIEWABLE, Claim

# Statuses in which a claim still waits for the council (reviewable, or under public notice).
WAITING = (*REVIEWABLE, "in_notice")


def is_reviewable(status: str) -> bool:
    return status in REVIEWABLE


def is_waiting(status: str) -> bool:
    """Not decided yet: waiting for review or under public notice (what a villager reads as 'waiting')."""
    return status in WAITING


# --- seeing ----------------------------------------------------------------------------------------------


def visible_condition(actor: User) -> ColumnElement[bool]:
    """What an actor sees: a villager their household's claims, a clerk their councils', an admin theirs."""
    if auth.is_villager(actor):
        return Claim.household_id == (actor.household_id or -1)
    if auth.is_clerk(actor):
        return (Claim.village_id == (actor.village_id or -1)) & Claim.council.in_(actor.councils or [])
    if auth.is_admin(actor) or auth.is_supervisor(actor):
        ids = auth.visible_village_ids(actor)
        return true() if ids is None else Claim.village_id.in_(ids)
    return false()


# --- filing ----------------------------------------------------------------------------------------------


def can_file(actor: User) -> bool:
    return auth.has_role(actor, auth.VILLAGER, *auth.STAFF)


def ensure_can_file(actor: User) -> None:
    auth.require_role(actor, auth.VILLAGER, *auth.STAFF)


def files_for_own_household(actor: User) -> bool:
    """A villager claims for their own household; staff find the household by its card code."""
    return auth.is_villager(actor)


def claims_deductions(actor: User) -> bool:
    """Deductions are recorded by the council, never claimed by a villager."""
    return not auth.is_villager(actor)


def claim_source(actor: User) -> str:
    return "villager" if auth.is_villager(actor) else "clerk"


def ensure_may_claim_rule(actor: User, points: int, council: str) -> None:
    if not claims_deductions(actor) and points < 0:
        raise Forbidden("deduction-by-council", _("Deductions are recorded by the council, not claimed."))
    if auth.is_clerk(actor) and not auth.serves_council(actor, council):
        raise Forbidden("not-your-council", _("This rule belongs to a council you do not serve on."))


def may_claim_rule(actor: User, points: int, council: str) -> bool:
    if not claims_deductions(actor) and points < 0:
        return False
    return not auth.is_clerk(actor) or auth.serves_council(actor, council)


# --- review ----------------------------------------------------------------------------------------------


def is_reviewer(actor: User) -> bool:
    """Admins and clerks review; `visible_condition` limits a clerk to the claims of their councils."""
    return auth.is_staff(actor)


def reads_queue(actor: User) -> bool:
    """The review queue and its history: reviewers, and supervisors (who read it without the controls)."""
    return is_reviewer(actor) or auth.is_supervisor(actor)


def review_councils(actor: User) -> list[str]:
    if auth.is_supervisor(actor):
        return list(COUNCILS)
    return auth.councils_of(actor, COUNCILS)


def ensure_reviewer(actor: User, claim: Claim) -> None:
    """A reviewer is an admin or a clerk of the claim's council, never for their own household or claim."""
    if not is_reviewer(actor):
        raise Forbidden(
            "not-a-reviewer", _("Only an administrator or a clerk of the council reviews claims.")
        )
    if auth.gives_to_own_household(actor, claim.household_id):
        raise Forbidden("own-household", _("Nobody reviews a claim of their own household."))
    if claim.created_by_id == actor.id:
        raise Forbidden("own-claim", _("The person who filed a claim does not review it."))


def can_review(actor: User, claim: Claim) -> bool:
    """The approve and reject controls: a reviewer who may decide this claim, while it is still open."""
    return (
        is_reviewer(actor)
        and is_reviewable(claim.status)
        and not auth.gives_to_own_household(actor, claim.household_id)
        and claim.created_by_id != actor.id
        and can_approve_late(actor, claim)
    )


# --- late entries (补录) -------------------------------------------------------------------------------


def is_late(deed_day: date, entered_day: date, window_days: int) -> bool:
    """A deed further in the past than the village's grace window when it is entered is a late entry."""
    return deed_day < entered_day - timedelta(days=window_days)


def can_approve_late(actor: User, claim: Claim) -> bool:
    """A late entry is approved only by a second person, never by whoever entered it."""
    return not claim.late_entry or claim.entered_by_id != actor.id


def ensure_can_approve_late(actor: User, claim: Claim) -> None:
    if not can_approve_late(actor, claim):
        raise Forbidden(
            "late-entry-needs-second-person",
            _("A late entry is approved by someone other than the person who entered it."),
        )


def can_attach_photo(actor: User, claim: Claim) -> bool:
    return actor.id == claim.created_by_id or is_reviewer(actor)


# --- public notice -----------------------------------------------------------------------------------------


def objects_in_village(actor: User, village_id: int) -> bool:
    """Anyone of the village (a deployment admin: of every village) may object during a notice."""
    return auth.is_deployment_admin(actor) or actor.village_id == village_id


def can_object(actor: User, claim: Claim, now: datetime | None = None) -> bool:
    """The object control: a person of the claim's village, while the claim's notice runs."""
    if claim.status != "in_notice" or not objects_in_village(actor, claim.village_id):
        return False
    return claim.notice_ends_at is None or (now or utcnow()) < claim.notice_ends_at


def can_post_due(actor: User) -> bool:
    """Running the post-due sweep now (cron does it otherwise): admins and clerks, as API.md lets both."""
    return auth.is_staff(actor)


def ensure_can_post_due(actor: User) -> None:
    auth.require_role(actor, *auth.STAFF)
