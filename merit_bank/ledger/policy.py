"""Who may read the ledger and who corrects it: histories, transactions, reversals, adjustments, export.

The ledger knows households and shops only by their accounts, so these rules take ids and the account's
village; like the rest of the ledger package it imports no other domain than auth (for the user and its
scope rules).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..auth import policy as auth
from ..auth.models import User
from ..errors import DomainError, NotFound


def sees_household(actor: User, household_id: int, village_id: int | None) -> bool:
    """A villager their own household's history and balance; admins and clerks their villages' households."""
    return village_id is not None and auth.sees_household(actor, household_id, village_id)


def ensure_sees_household(actor: User, household_id: int, village_id: int | None) -> int:
    """The household's village, if the actor may see it; 404 otherwise (no leak of existence)."""
    if village_id is None or not sees_household(actor, household_id, village_id):
        raise NotFound("not-found", "No such household.")
    return village_id


def reads_own_household_only(actor: User) -> bool:
    """A villager's transaction list is their household's; staff list their villages' transactions."""
    return auth.is_villager(actor)


def ensure_lists_transactions(actor: User) -> None:
    auth.require_role(actor, *auth.STAFF, auth.SUPERVISOR)


def ensure_sees_transaction(actor: User, village_id: int) -> None:
    """One transaction with its entries: admins and clerks of its village, supervisors of its region."""
    auth.require_role(actor, *auth.STAFF, auth.SUPERVISOR)
    auth.ensure_village(actor, village_id)


def audits_ledger(actor: User) -> bool:
    """Verifying the chain and exporting it: admins, and supervisors (who read what an admin reads)."""
    return auth.is_admin(actor) or auth.is_supervisor(actor)


def ensure_audits_ledger(actor: User) -> None:
    auth.require_role(actor, auth.ADMIN, auth.SUPERVISOR)


def corrects_ledger(actor: User) -> bool:
    """Reversals, adjustments, verification and the export are for admins (of the village, or all)."""
    return auth.is_admin(actor)


def ensure_corrects_ledger(actor: User) -> None:
    auth.require_role(actor, auth.ADMIN)


def ensure_may_reverse(actor: User, village_id: int, kind: str, credits_household_ids: set[int]) -> None:
    """An admin of the village reverses a transaction; a redemption is voided at the shop instead.

    A reversal gives back what the transaction took, so one that would credit the admin's own household
    (a deduction of it, say) falls under the own-household rule like any other award.
    """
    ensure_corrects_ledger(actor)
    auth.ensure_village(actor, village_id)
    if kind == "redemption":
        # Undoing it here would return the points but leave the goods missing from the shop's stock.
        raise DomainError(
            "use-redemption-void",
            _l("Undo a redemption by voiding it at the shop, so the goods return to stock as well."),
        )
    for household_id in credits_household_ids:
        auth.ensure_can_award(actor, household_id)


def ensure_may_adjust(
    actor: User,
    village_id: int,
    *,
    household_id: int | None,
    household_village_id: int | None,
    shop_id: int | None,
    shop_village_id: int | None,
    points: int,
) -> None:
    """An admin of the village; the household and shop must be of that village (else 404, as if absent);
    never points into the admin's own household."""
    ensure_corrects_ledger(actor)
    auth.ensure_village(actor, village_id)
    if household_id is not None and household_village_id != village_id:
        raise NotFound("not-found", _l("No such household."))
    # A shop of another village is as absent as one that does not exist: no hint of which ids exist.
    if shop_id is not None and shop_village_id != village_id:
        raise NotFound("not-found", _l("No such shop."))
    if points > 0:
        auth.ensure_can_award(actor, household_id)


def ensure_may_verify(actor: User, village_id: int | None) -> list[int] | None:
    """The villages a verification covers: one asked for (in scope), or all the admin's (None = every)."""
    ensure_audits_ledger(actor)
    if village_id is not None:
        auth.ensure_village(actor, village_id)
        return [village_id]
    return auth.visible_village_ids(actor)


def ensure_may_export(actor: User, village_id: int) -> None:
    ensure_audits_ledger(actor)
    auth.ensure_village(actor, village_id)
