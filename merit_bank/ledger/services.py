"""The ledger's services, by concern: accounts, posting, queries, verification, export.

This module only re-exports them, so callers keep importing `ledger.services`. Tests that replace the
posting's clock or hash function do it on `ledger.posting`, where they are used.
"""

from __future__ import annotations

from .accounts import (
    household_key,
    open_household_account,
    open_shop_account,
    open_village_accounts,
    suspense_key,
)
from .export import export_chunks, export_ledger
from .posting import (
    CHAIN_LOCK_CLASS,
    MAX_MEMO_LENGTH,
    FollowUp,
    adjust,
    award,
    lock_village,
    post,
    redeem,
    reverse,
)
from .queries import (
    account_village,
    balance_as_of,
    count_transactions,
    get_transaction,
    household_account,
    household_balance,
    household_balances,
    household_history,
    household_movements,
    household_village_and_balance,
    list_transactions,
    shop_account_village,
    shop_balance,
    transaction_by_key,
)
from .verification import verify

__all__ = [
    "CHAIN_LOCK_CLASS",
    "MAX_MEMO_LENGTH",
    "FollowUp",
    "account_village",
    "adjust",
    "award",
    "balance_as_of",
    "count_transactions",
    "export_chunks",
    "export_ledger",
    "get_transaction",
    "household_account",
    "household_balance",
    "household_balances",
    "household_history",
    "household_key",
    "household_movements",
    "household_village_and_balance",
    "list_transactions",
    "lock_village",
    "open_household_account",
    "open_shop_account",
    "open_village_accounts",
    "post",
    "redeem",
    "reverse",
    "shop_account_village",
    "shop_balance",
    "suspense_key",
    "transaction_by_key",
    "verify",
]
