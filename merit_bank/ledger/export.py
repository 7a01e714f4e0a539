"""The ledger's export: a village's chain as CSV or JSON lines, complete enough to recompute every hash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from ..i18n import request_gettext as _
from .hashing import format_time
from .models import Account, ChainHead, Entry, Transaction
from .queries import stream

EXPORT_FIELDS = (
    "id", "village_id", "seq", "kind", "idempotency_key", "actor_id", "rule_id", "rule_version",
    "reverses_id", "memo", "created_at", "prev_hash", "hash",
)  # fmt: skip
CSV_COLUMNS = (*EXPORT_FIELDS, "account_id", "account_key", "amount", "balance_after")


def export_ledger(
    village_id: int,
    fmt: str,
    out: IO[str],
    *,
    public: bool = False,
    chain_extra: dict[str, Any] | None = None,
) -> int:
    """Write a village's chain to `out` as CSV (one row per entry) or JSON lines; returns transactions.

    The export carries every field the hash covers (docs/ledger.md), so an auditor can recompute the
    chain without this code. It stops at the chain head read first, so it is a consistent prefix even
    while postings continue. `public=True` (JSON lines only) is the export anyone may download: account
    records keep their opaque id and kind but lose the key and the household id that would name a
    household; `chain_extra` adds fields (the village's code) to the chain record.
    """
    counter = [0]
    for chunk in export_chunks(village_id, fmt, public=public, chain_extra=chain_extra, counter=counter):
        out.write(chunk)
    return counter[0]


def export_chunks(
    village_id: int,
    fmt: str,
    *,
    public: bool = False,
    chain_extra: dict[str, Any] | None = None,
    counter: list[int] | None = None,
) -> Iterator[str]:
    """export_ledger's text in pieces, for a streamed response; `counter[0]` ends as the transactions.

    The format and the village are checked here, before the first piece, so that a refusal is an
    ordinary error rather than a broken stream.
    """
    if fmt not in ("csv", "jsonl"):
        raise ValueError("format must be csv or jsonl")
    if public and fmt != "jsonl":
        raise ValueError("the public export is JSON lines")
    head = db.session.execute(
        select(ChainHead.seq, ChainHead.head_hash).where(ChainHead.village_id == village_id)
    ).one_or_none()
    if head is None:
        raise NotFound("ledger-not-open", _("This village has no ledger yet."))
    return _export_pieces(
        village_id, fmt, tuple(head), public, chain_extra, counter if counter is not None else [0]
    )


def _export_pieces(
    village_id: int,
    fmt: str,
    head: tuple[int, str],
    public: bool,
    chain_extra: dict[str, Any] | None,
    counter: list[int],
) -> Iterator[str]:
    import io
    import json

    from ..spreadsheets import SafeCsvWriter

    out = io.StringIO()

    def piece() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    keys = dict(
        db.session.execute(select(Account.id, Account.key).where(Account.village_id == village_id)).all()
    )
    t, e = Transaction.__table__.c, Entry.__table__.c
    query = (
        select(*(getattr(t, f) for f in EXPORT_FIELDS), e.account_id, e.amount, e.balance_after)
        .select_from(Transaction.__table__.outerjoin(Entry.__table__, e.transaction_id == t.id))
        .where(t.village_id == village_id, t.seq <= head[0])
        .order_by(t.seq, e.account_id)
    )
    writer = SafeCsvWriter(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    else:
        accounts = db.session.execute(
            select(
                Account.id, Account.key, Account.kind, Account.household_id, Account.shop_id, Account.council
            )
            .where(Account.village_id == village_id)
            .order_by(Account.id)
        )
        out.write(
            json.dumps(
                {
                    "record": "chain",
                    "village_id": village_id,
                    **(chain_extra or {}),
                    "seq": head[0],
                    "head_hash": head[1],
                    "encoding": 1,
                }
            )
            + "\n"
        )
        for a in accounts:
            if public:
                # Which household owns an account is not published; issuing accounts and shops are public.
                record: dict[str, Any] = {"record": "account", "id": a[0], "kind": a[2]}
                if a[2] == "issuing":
                    record["council"] = a[5]
                if a[2] == "shop":
                    record["shop_id"] = a[4]
                out.write(json.dumps(record) + "\n")
                continue
            out.write(
                json.dumps(
                    {
                        "record": "account",
                        "id": a[0],
                        "key": a[1],
                        "kind": a[2],
                        "household_id": a[3],
                        "shop_id": a[4],
                        "council": a[5],
                    }
                )
                + "\n"
            )
    count = 0
    current: dict[str, Any] | None = None

    def flush(record: dict[str, Any]) -> None:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")

    n = len(EXPORT_FIELDS)
    for number, row in enumerate(stream(query), 1):
        if number % 2000 == 0:
            yield piece()
        fields = dict(zip(EXPORT_FIELDS, row[:n], strict=True))
        fields["created_at"] = format_time(fields["created_at"])
        if writer is not None:
            writer.writerow([*fields.values(), row[n], keys.get(row[n], ""), row[n + 1], row[n + 2]])
            if current is None or current["id"] != fields["id"]:
                count += 1
                current = fields
            continue
        if current is None or current["id"] != fields["id"]:
            if current is not None:
                flush(current)
            count += 1
            current = {"record": "transaction", **fields, "entries": []}
        if row[n] is not None:
            current["entries"].append([row[n], row[n + 1], row[n + 2]])
    if writer is None and current is not None:
        flush(current)
    counter[0] = count
    yield piece()
