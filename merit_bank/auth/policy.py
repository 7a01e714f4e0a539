"""Who a person is to the village: roles, scope and the own-household rule, the base of every domain's policy.

Every other domain's `policy.py` builds on these predicates; no service, view, CLI or template compares a role
string itself. Out of scope reads as absent (404, never 403), as API.md asks, so a caller learns nothing of
other villages.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement

from ..errors import Forbidden, NotFound
from .models import User

ADMIN = "admin"
CLERK = "clerk"
SHOPKEEPER = "shopkeeper"
VILLAGER = "villager"
# A township's or county's inspector: reads every village of the region, changes nothing.
SUPERVISOR = "supervisor"
# The village's own staff: they keep households, run events and review claims.
STAFF = (ADMIN, CLERK)


# --- roles ---------------------------------------------------------------------------------------------


def has_role(user: User, *roles: str) -> bool:
    return user.role in roles


def is_admin(user: User) -> bool:
    return user.role == ADMIN


def is_clerk(user: User) -> bool:
    return user.role == CLERK


def is_shopkeeper(user: User) -> bool:
    return user.role == SHOPKEEPER


def is_villager(user: User) -> bool:
    return user.role == VILLAGER


def is_supervisor(user: User) -> bool:
    return user.role == SUPERVISOR


def role_is_read_only(role: str) -> bool:
    """A supervisor reads and never writes: every write by them is refused with 403 `read-only`."""
    return role == SUPERVISOR


def is_read_only(user: User) -> bool:
    return role_is_read_only(user.role)


def read_only_refusal() -> Forbidden:
    return Forbidden("read-only", _l("Your login is read-only: a supervisor reads and changes nothing."))


def ensure_writes(user: User) -> None:
    if is_read_only(user):
        raise read_only_refusal()


def reads_as_staff(user: User) -> bool:
    """What a village's admins and clerks read (dashboards, claims, ledger...), a supervisor reads too."""
    return user.role in STAFF or user.role == SUPERVISOR


def is_staff(user: User) -> bool:
    """An admin or a clerk: the people who keep households, run events and review claims."""
    return user.role in STAFF


def require_role(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden("forbidden", _l("Your role may not do this."))


def is_deployment_admin(user: User) -> bool:
    return user.role == ADMIN and user.village_id is None


def serves_council(user: User, council: str) -> bool:
    """Admins serve every council; a clerk the councils they were named to; nobody else any."""
    if user.role == ADMIN:
        return True
    return user.role == CLERK and council in (user.councils or [])


def councils_of(user: User, all_councils: tuple[str, ...] | list[str]) -> list[str]:
    """The councils among `all_councils` whose work the user sees and decides."""
    return [c for c in all_councils if serves_council(user, c)]


# --- scope ---------------------------------------------------------------------------------------------


def visible_village_ids(user: User) -> list[int] | None:
    """None means every village; otherwise the villages the user's lists may show."""
    if is_deployment_admin(user):
        return None
    if is_supervisor(user):
        return _region_villages(user)
    return [user.village_id] if user.village_id is not None else []


def _region_villages(user: User) -> list[int]:
    """A supervisor's villages, read once per request (a village moved meanwhile shows on the next)."""
    from flask import g, has_app_context

    from ..villages.regions import village_ids_in_region  # villages depends on auth, not the reverse

    if user.region_id is None:
        return []
    if not has_app_context():
        return village_ids_in_region(user.region_id)
    cache = g.setdefault("_region_villages", {})
    if user.region_id not in cache:
        cache[user.region_id] = village_ids_in_region(user.region_id)
    return list(cache[user.region_id])


def can_see_village(user: User, village_id: int) -> bool:
    ids = visible_village_ids(user)
    return ids is None or village_id in ids


def ensure_village(user: User, village_id: int) -> None:
    """Out of scope looks exactly like absent, so a caller learns nothing of other villages."""
    if not can_see_village(user, village_id):
        raise NotFound("not-found", _l("No such village."))


def can_manage_village(user: User, village_id: int, *, clerks: bool = True) -> bool:
    """Admins of the village (or of the deployment) and, where allowed, its clerks."""
    allowed = STAFF if clerks else (ADMIN,)
    return can_see_village(user, village_id) and user.role in allowed


def ensure_manages_village(user: User, village_id: int, *, clerks: bool = True) -> None:
    """Admins of the village (or the deployment) and, where allowed, its clerks: 404 outside, else 403."""
    ensure_village(user, village_id)
    ensure_writes(user)
    require_role(user, *(STAFF if clerks else (ADMIN,)))


def sees_household(user: User, household_id: int, village_id: int) -> bool:
    """A villager sees their own household; staff every household of their villages; a shopkeeper none."""
    if user.role == VILLAGER:
        return user.household_id == household_id
    return reads_as_staff(user) and can_see_village(user, village_id)


def ensure_sees_household(user: User, household_id: int, village_id: int | None) -> None:
    if village_id is None or not sees_household(user, household_id, village_id):
        raise NotFound("not-found", _l("No such household."))


# --- the own-household rule -------------------------------------------------------------------------------


def gives_to_own_household(actor: User, household_id: int | None) -> bool:
    """Would this staff member move points toward the household they are linked to (users.member_id)?

    A villager acting for their own household (filing a claim, scanning the event code) is the normal
    case and not what this rule is about: it holds a staff member to the rule that nobody awards their
    own family, whatever the path (claim review, card or code check-in, offline sync, adjustment).
    """
    if actor.role == VILLAGER or household_id is None:
        return False
    own = actor.household_id
    return own is not None and own == household_id


def can_award(actor: User, household_id: int | None) -> bool:
    """May this person's action give points to that household? Everyone but its own staff member."""
    return not gives_to_own_household(actor, household_id)


def own_household_refusal() -> Forbidden:
    # One slug for every path (claims review uses it too): a client handles the rule once.
    return Forbidden("own-household", _l("Nobody gives points to their own household."))


def ensure_can_award(actor: User, household_id: int | None) -> None:
    if gives_to_own_household(actor, household_id):
        raise own_household_refusal()


# --- users -------------------------------------------------------------------------------------------------


def sees_contact_details(user: User) -> bool:
    """Phone numbers in full: everyone who may see the household but a supervisor (who sees them masked)."""
    return not is_supervisor(user)


def sees_identity_numbers(user: User) -> bool:
    """Even masked identity numbers never reach a supervisor."""
    return not is_supervisor(user)


def logs_household_views(user: User) -> bool:
    """A supervisor's every look at a household's details is recorded, and the household sees it."""
    return is_supervisor(user)


def admins() -> ColumnElement[bool]:
    """The users a command line acts as when it needs an administrator (e.g. `load-rulebook --admin`)."""
    return User.role == ADMIN


def can_manage_users(actor: User) -> bool:
    return actor.role == ADMIN


def ensure_can_manage_users(actor: User) -> None:
    require_role(actor, ADMIN)


def sees_user(actor: User, user: User) -> bool:
    """An admin sees themselves and the users of their villages (a deployment admin: everyone)."""
    if actor.role != ADMIN:
        return False
    if actor.id == user.id:
        return True
    ids = visible_village_ids(actor)
    return ids is None or (user.village_id is not None and user.village_id in ids)


def manages_regions(actor: User) -> bool:
    """Counties, townships and which township a village belongs to: deployment-wide admins."""
    return is_deployment_admin(actor)


def ensure_manages_regions(actor: User) -> None:
    if not manages_regions(actor):
        ensure_writes(actor)
        raise Forbidden("forbidden", _l("Only a deployment-wide admin keeps regions."))


def reads_regions(actor: User) -> bool:
    return is_deployment_admin(actor) or is_supervisor(actor)


def ensure_reads_regions(actor: User) -> None:
    if not reads_regions(actor):
        raise Forbidden("forbidden", _l("Your role may not do this."))


def creates_supervisors(actor: User) -> bool:
    """A supervisor's scope is a region, above any one village: a deployment-wide admin names them."""
    return is_deployment_admin(actor)


def can_manage_villages(actor: User) -> bool:
    """Creating villages and the deployment's user list: admins."""
    return actor.role == ADMIN


def can_keep_households(actor: User) -> bool:
    """The household register: admins and clerks."""
    return actor.role in STAFF


def can_hand_out_activation_codes(actor: User) -> bool:
    """Clerks and admins print activation codes (activation.issue_code checks for which village)."""
    return has_role(actor, "admin", "clerk")
