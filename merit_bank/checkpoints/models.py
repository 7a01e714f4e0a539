"""Checkpoints: a village's chain head (seq, hash) at a moment, signed by the deployment's Ed25519 key.

Append-only like the ledger (migration 0008 adds triggers that refuse UPDATE and DELETE). `at` and
`village_code` are kept exactly as they were signed, as text, so the signature can be checked from the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class Checkpoint(db.Model):
    __tablename__ = "checkpoints"
    __table_args__ = (
        # One signed hash per sequence number: the deployment itself can never equivocate in its own table.
        UniqueConstraint("village_id", "seq"),
        CheckConstraint("reason IN ('daily', 'month_close')", name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    village_code: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    # ISO 8601 with the offset, e.g. 2026-11-30T23:00:05+08:00: the very text that was signed.
    at: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
