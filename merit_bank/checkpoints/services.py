"""Making, listing and checking checkpoints, and the public (no login, no personal data) views of a chain.

A checkpoint is made by cron (`flask --app merit_bank checkpoint`, one per village whose head moved since
its last checkpoint) and at every shop month close. The deployment never signs a head whose chain does not
pass through the village's previous checkpoint: a chain rewritten under an old checkpoint is refused and
reported instead of being blessed with a fresh signature.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import local_now
from ..database import is_sqlite, transaction, utcnow
from ..errors import DomainError, NotFound
from ..extensions import db
from ..ledger import services as ledger
from ..ledger.models import ChainHead, Transaction
from ..villages.models import Village
from . import signing
from .models import Checkpoint

log = logging.getLogger(__name__)


class ChainRewritten(DomainError):
    """The chain no longer passes through a checkpoint this deployment signed."""

    status = 409
    code = "chain-rewritten"


# --- keys --------------------------------------------------------------------------------------------


def signing_key() -> Ed25519PrivateKey:
    config = current_app.config
    key, _configured = signing.load_private_key(
        config.get("CHECKPOINT_SIGNING_KEY", ""),
        config.get("CHECKPOINT_SIGNING_KEY_FILE", ""),
        config["SECRET_KEY"],
    )
    return key


def public_key() -> str:
    """The base64 of the 32 raw bytes of the deployment's Ed25519 public key."""
    return signing.public_key_b64(signing_key())


# --- villages and chains -----------------------------------------------------------------------------


def village_by_code(code: str) -> Village:
    village = db.session.scalar(select(Village).where(Village.code == code.strip().upper()[:32]))
    if village is None:
        raise NotFound("not-found", _("No such village."))
    return village


def village_code(village_id: int) -> str | None:
    return db.session.scalar(select(Village.code).where(Village.id == village_id))


def public_villages() -> list[dict[str, str]]:
    """Every village's code and name: what a witness needs to find the checkpoints."""
    rows = db.session.execute(select(Village.code, Village.name).order_by(Village.code))
    return [{"code": code, "name": name} for code, name in rows]


def chain_head(village_id: int) -> tuple[int, str]:
    """(seq, head hash) of the village's chain; (0, 64 zeros) before its first posting."""
    row = db.session.execute(
        select(ChainHead.seq, ChainHead.head_hash).where(ChainHead.village_id == village_id)
    ).one_or_none()
    return (row.seq, row.head_hash) if row else (0, "0" * 64)


def chain_hashes(village_id: int, seqs: Iterable[int]) -> dict[int, str]:
    """The stored hash of each of these sequence numbers that the chain has."""
    wanted = sorted(set(seqs))
    found: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            db.session.execute(
                select(Transaction.seq, Transaction.hash).where(
                    Transaction.village_id == village_id, Transaction.seq.in_(chunk)
                )
            ).all()
        )
    return found


# --- making checkpoints ------------------------------------------------------------------------------


def _local_now() -> str:
    return local_now().isoformat(timespec="seconds")


def latest(village_id: int) -> Checkpoint | None:
    return db.session.scalar(
        select(Checkpoint).where(Checkpoint.village_id == village_id).order_by(Checkpoint.seq.desc()).limit(1)
    )


def latest_by(village_id: int, moment: datetime) -> Checkpoint | None:
    """The village's last checkpoint signed at or before `moment` (an annual statement's year end)."""
    return db.session.scalar(
        select(Checkpoint)
        .where(Checkpoint.village_id == village_id, Checkpoint.created_at <= moment)
        .order_by(Checkpoint.seq.desc())
        .limit(1)
    )


def make_checkpoint(village_id: int, reason: str) -> Checkpoint | None:
    """Sign the village's chain head, unless it has not moved since the last checkpoint (then None).

    Raises ChainRewritten when the chain no longer passes through the village's last checkpoint.
    Joins the caller's transaction (a shop month close makes its checkpoint in its own transaction).
    """
    with transaction():
        village = db.session.get(Village, village_id)
        if village is None:
            raise NotFound("not-found", _("No such village."))
        seq, head_hash = chain_head(village_id)
        last = latest(village_id)
        if last is not None:
            if seq < last.seq:
                raise ChainRewritten(
                    detail=f"village {village.code}: the chain ends at seq {seq}, "
                    f"but checkpoint seq {last.seq} ({last.at}) was signed"
                )
            now_hash = head_hash if seq == last.seq else chain_hashes(village_id, [last.seq]).get(last.seq)
            if now_hash != last.hash:
                raise ChainRewritten(
                    detail=f"village {village.code}: checkpoint seq {last.seq} ({last.at}) signed hash "
                    f"{last.hash}, the chain now has {now_hash}"
                )
            if seq == last.seq:
                return None
        if seq == 0:
            return None
        at = _local_now()
        values = {
            "village_id": village_id,
            "village_code": village.code,
            "seq": seq,
            "hash": head_hash,
            "at": at,
            "signature": signing.sign(signing_key(), village.code, seq, head_hash, at),
            "reason": reason,
            "created_at": utcnow(),
        }
        # Two runs at once may sign the same head; the first one stays (one hash per seq, ever).
        dialect_insert = sqlite.insert if is_sqlite() else postgresql.insert
        db.session.execute(
            dialect_insert(Checkpoint)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["village_id", "seq"])
        )
        return db.session.scalar(
            select(Checkpoint).where(Checkpoint.village_id == village_id, Checkpoint.seq == seq)
        )


def checkpoint_all(*, verify_first: bool = True) -> dict[str, Any]:
    """The cron run: a checkpoint for each village whose head moved. Each village is checked first.

    Returns {made: [Checkpoint], unchanged: [code], refused: [(code, reason)]}.
    """
    made: list[Checkpoint] = []
    unchanged: list[str] = []
    refused: list[tuple[str, str]] = []
    for village_id, code in db.session.execute(select(Village.id, Village.code).order_by(Village.code)).all():
        if verify_first:
            result = ledger.verify(village_ids=[village_id])
            if not result["ok"]:
                refused.append((code, f"the ledger does not verify: {result['reason']}"))
                continue
        try:
            checkpoint = make_checkpoint(village_id, "daily")
        except ChainRewritten as exc:
            refused.append((code, str(exc.detail)))
            continue
        if checkpoint is None:
            unchanged.append(code)
        else:
            made.append(checkpoint)
    return {"made": made, "unchanged": unchanged, "refused": refused}


def checkpoint_at_month_close(village_id: int) -> None:
    """Called inside a shop's month close; a refusal is logged loudly but does not stop the close."""
    try:
        make_checkpoint(village_id, "month_close")
    except ChainRewritten as exc:
        log.error("no checkpoint at month close: %s", exc.detail)


# --- reading -----------------------------------------------------------------------------------------


def dump(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "village_code": checkpoint.village_code,
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "at": checkpoint.at,
        "signature": checkpoint.signature,
    }


def checkpoints_of(village_id: int) -> list[Checkpoint]:
    return list(
        db.session.scalars(
            select(Checkpoint).where(Checkpoint.village_id == village_id).order_by(Checkpoint.seq)
        )
    )


def _day_of(at: str) -> date:
    return datetime.fromisoformat(at).date()


def fingerprint_of(checkpoint: Checkpoint) -> dict[str, Any]:
    """What the notice board prints: seq, 16 base32 characters of the hash, and the day it was signed."""
    text = signing.fingerprint(checkpoint.hash)
    return {
        "seq": checkpoint.seq,
        "fingerprint": text,
        "grouped": signing.grouped(text),
        "day": _day_of(checkpoint.at),
        "at": checkpoint.at,
        "hash": checkpoint.hash,
        "reason": checkpoint.reason,
    }


def board_fingerprint(village_id: int) -> dict[str, Any] | None:
    checkpoint = latest(village_id)
    return fingerprint_of(checkpoint) if checkpoint is not None else None


def verification_summary(village: Village) -> dict[str, Any]:
    """What the public verification page shows: the chain's length and head, and every checkpoint."""
    seq, head_hash = chain_head(village.id)
    return {
        "seq": seq,
        "head_hash": head_hash,
        "head_fingerprint": signing.grouped(signing.fingerprint(head_hash)),
        "checkpoints": [fingerprint_of(c) for c in reversed(checkpoints_of(village.id))],
        "public_key": public_key(),
    }


def public_export(village: Village) -> Iterator[str]:
    """The public JSON-lines export of a village's chain, in pieces (docs/ledger.md, "The public export")."""
    return ledger.export_chunks(village.id, "jsonl", public=True, chain_extra={"village_code": village.code})


# --- checking a chain against remembered checkpoints -----------------------------------------------


def check_remembered(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether today's chains pass through every remembered checkpoint ({village_code, seq, hash, at}).

    Checkpoints are taken village by village (by code), lowest seq first, and the first one the chain no
    longer matches is named: {ok: False, village_code, seq, at, remembered, now, reason}. Otherwise
    {ok: True, checked}.
    """
    by_village: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_village.setdefault(str(item["village_code"]), []).append(item)
    checked = 0
    for code in sorted(by_village):
        remembered = sorted(by_village[code], key=lambda c: c["seq"])
        village = db.session.scalar(select(Village).where(Village.code == code))
        first = remembered[0]
        if village is None:
            return {
                "ok": False,
                "village_code": code,
                "seq": first["seq"],
                "at": first.get("at"),
                "remembered": first["hash"],
                "now": None,
                "reason": f"village {code} is no longer in this deployment",
            }
        seq, _head = chain_head(village.id)
        now = chain_hashes(village.id, [c["seq"] for c in remembered])
        for checkpoint in remembered:
            current = now.get(checkpoint["seq"])
            if current != checkpoint["hash"]:
                reason = (
                    f"the chain now ends at seq {seq}"
                    if checkpoint["seq"] > seq
                    else f"the chain now has {current} at seq {checkpoint['seq']}"
                )
                return {
                    "ok": False,
                    "village_code": code,
                    "seq": checkpoint["seq"],
                    "at": checkpoint.get("at"),
                    "remembered": checkpoint["hash"],
                    "now": current,
                    "reason": reason,
                }
            checked += 1
    return {"ok": True, "checked": checked}
