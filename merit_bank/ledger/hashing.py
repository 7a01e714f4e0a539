"""The canonical encoding of a ledger transaction and its SHA-256 hash (documented in docs/ledger.md).

Kept free of Flask and SQLAlchemy on purpose: an outside auditor's script needs only what is here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

ENCODING_VERSION = 1

# The encoded object: each field and its JSON type, in the order JCS writes them (sorted by name). The one
# definition of the encoding: canonical_bytes writes exactly these fields (a test holds it to this table)
# and the PostgreSQL posting statement's encoding is generated from it (ledger/posting.py, HASH_SQL).
FIELDS: dict[str, str] = {
    "actor_id": "integer or null",
    "created_at": "time",  # format_time: UTC, microseconds, "Z"
    "entries": "entries",  # [[account_id, amount, balance_after], ...] sorted by account_id
    "idempotency_key": "string",
    "kind": "string",
    "memo": "string",
    "prev_hash": "string",
    "reverses_id": "integer or null",
    "rule_id": "integer or null",
    "rule_version": "integer or null",
    "seq": "integer",
    "v": "version",  # ENCODING_VERSION
    "village_id": "integer",
}


def format_time(value: datetime) -> str:
    """UTC, microseconds, 'Z': 2024-05-01T08:00:00.000000Z (the form used in hashes and exports)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(
    *,
    village_id: int,
    seq: int,
    prev_hash: str,
    kind: str,
    idempotency_key: str,
    actor_id: int | None,
    rule_id: int | None,
    rule_version: int | None,
    reverses_id: int | None,
    memo: str,
    created_at: str,
    entries: Iterable[tuple[int, int, int]],
) -> bytes:
    """The bytes that are hashed: RFC 8785 (JCS) JSON of the transaction, UTF-8.

    For the values used here (integers below 2**53, strings, null, arrays) JCS is exactly Python's
    json.dumps with sorted keys, no whitespace and ensure_ascii=False. Entries are
    [account_id, amount, balance_after] triples sorted by account_id.
    """
    body: Mapping[str, Any] = {
        "v": ENCODING_VERSION,
        "village_id": village_id,
        "seq": seq,
        "prev_hash": prev_hash,
        "kind": kind,
        "idempotency_key": idempotency_key,
        "actor_id": actor_id,
        "rule_id": rule_id,
        "rule_version": rule_version,
        "reverses_id": reverses_id,
        "memo": memo,
        "created_at": created_at,
        "entries": sorted([list(e) for e in entries]),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def transaction_hash(**fields: Any) -> str:
    """SHA-256, lowercase hex, of canonical_bytes(**fields)."""
    return hashlib.sha256(canonical_bytes(**fields)).hexdigest()


def request_digest(payload: Mapping[str, Any]) -> str:
    """A stable hash of a posting's parameters: what "the same request" means by default."""
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
