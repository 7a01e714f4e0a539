"""The ledger operations a person triggers: reversal, adjustment, verification and export.

Each takes the acting user and asks ledger/policy.py before it calls the posting, verification or export
functions of ledger/services.py (which machines call too: the shop's void, the claims' posting, the
checkpoint job, the command line, none of which has a person to ask about).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from sqlalchemy import select

from ..auth.models import User
from ..errors import NotFound
from ..extensions import db
from . import policy, services
from .models import Account, Entry, Transaction


def _credited_households(transaction_id: int) -> set[int]:
    """Households whose accounts the transaction debited: its reversal would credit them."""
    rows = db.session.execute(
        select(Account.household_id)
        .join(Entry, Entry.account_id == Account.id)
        .where(Entry.transaction_id == transaction_id, Entry.amount < 0, Account.household_id.is_not(None))
    )
    return {household_id for (household_id,) in rows}


# The request's idempotency key and request digest, asked for only once the policy has allowed the
# operation: a refused request is refused for what it is, whatever its headers.
KeySource = Callable[[], tuple[str, str | None]]


def reverse(actor: User, transaction_id: int, *, key: KeySource, memo: str) -> Transaction:
    """An admin reverses a transaction of their village (a redemption is voided at the shop instead)."""
    policy.ensure_corrects_ledger(actor)
    tx = services.get_transaction(transaction_id)
    if tx is None:
        raise NotFound("not-found", "No such transaction.")
    policy.ensure_may_reverse(actor, tx.village_id, tx.kind, _credited_households(tx.id))
    idempotency_key, request_hash = key()
    return services.reverse(
        transaction_id=transaction_id,
        idempotency_key=idempotency_key,
        actor_id=actor.id,
        memo=memo,
        request_hash=request_hash,
    )


def adjust(
    actor: User,
    *,
    village_id: int,
    points: int,
    key: KeySource,
    memo: str,
    household_id: int | None = None,
    shop_id: int | None = None,
) -> Transaction:
    """An admin correction through the village's suspense account; never into the admin's own household."""
    policy.ensure_may_adjust(
        actor,
        village_id,
        household_id=household_id,
        household_village_id=services.account_village(household_id) if household_id is not None else None,
        shop_id=shop_id,
        shop_village_id=services.shop_account_village(shop_id) if shop_id is not None else None,
        points=points,
    )
    idempotency_key, request_hash = key()
    return services.adjust(
        village_id=village_id,
        household_id=household_id,
        shop_id=shop_id,
        points=points,
        idempotency_key=idempotency_key,
        actor_id=actor.id,
        memo=memo,
        request_hash=request_hash,
    )


def verify(actor: User, village_id: int | None = None) -> dict[str, Any]:
    """Recompute the chains an admin may see (one village, if asked)."""
    return services.verify(village_ids=policy.ensure_may_verify(actor, village_id))


def export(actor: User, village_id: int, fmt: str, out: IO[str]) -> int:
    """A village's chain for its admins, with everything needed to recompute its hashes."""
    policy.ensure_may_export(actor, village_id)
    return services.export_ledger(village_id, fmt, out)
