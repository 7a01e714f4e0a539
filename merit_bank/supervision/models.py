"""A raised flag, kept so that a supervisor's check (who, when, with what note) outlives the computation.

Flags are computed on request; each finding is upserted under a deterministic key (code, village, period,
subject), so the same finding computed again is the same row, with the same id and the same check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

FLAG_STATUSES = ("open", "checked")


class Flag(db.Model):
    __tablename__ = "supervision_flags"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'checked')", name="status"),
        Index("ix_supervision_flags_village_id_period", "village_id", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "<code>|<village>|<period>|<subject>": the finding's identity, whatever its figures are today.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str] = mapped_column(String(40))
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    # A month (YYYY-MM) for monthly findings, else "<from>..<to>" (local days) of the query.
    period: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(60))
    # The figures the reason is written from (rendered in the reader's language), and the evidence.
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str] = mapped_column(String(1000), default="")
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
