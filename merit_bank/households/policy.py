"""Who sees a household, keeps the register, prints a card and may give a household points."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from ..auth import policy as auth
from ..auth.models import User
from .models import Household


def visible_condition(actor: User) -> ColumnElement[bool]:
    """A villager sees only their own household; everyone else the households of their villages."""
    if auth.is_villager(actor):
        return Household.id == (actor.household_id or -1)
    ids = auth.visible_village_ids(actor)
    return true() if ids is None else Household.village_id.in_(ids)


def ensure_keeps_register(actor: User, village_id: int) -> None:
    """Adding households and members, reissuing cards: admins and clerks of the village."""
    auth.ensure_manages_village(actor, village_id)


def prints_card(actor: User) -> bool:
    """A household's card: its own villagers and the village's staff (not a shopkeeper)."""
    return auth.has_role(actor, auth.VILLAGER, *auth.STAFF)


def sees_contact_details(actor: User) -> bool:
    return auth.sees_contact_details(actor)


def sees_identity_numbers(actor: User) -> bool:
    return auth.sees_identity_numbers(actor)


def can_award(actor: User, household: Household) -> bool:
    """The own-household rule, in the household's terms: nobody gives their own household points."""
    return auth.can_award(actor, household.id)


def tags_members(actor: User, village_id: int) -> bool:
    """Setting members' tags (党员, 村干部 …): admins and clerks of the village, as for the register."""
    return auth.can_manage_village(actor, village_id)


def ensure_tags_members(actor: User, village_id: int) -> None:
    auth.ensure_manages_village(actor, village_id)
