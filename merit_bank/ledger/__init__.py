"""The ledger: double-entry, append-only, hash-chained, idempotent points accounts (see docs/ledger.md)."""
