"""Claims (积分申报): a household's request for points under a rule, and its reviewed history.

States: pending → approved (first of two approvals) → in_notice (公示) → posted (入账);
rejected at review; disputed when a neighbour objects during the notice (back to review).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

STATUSES = ("pending", "approved", "in_notice", "posted", "rejected", "disputed")
# Claims a reviewer may still decide on.
REVIEWABLE = ("pending", "approved", "disputed")


class Claim(db.Model):
    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'in_notice', 'posted', 'rejected', 'disputed')",
            name="status",
        ),
        CheckConstraint("source IN ('villager', 'clerk', 'checkin')", name="source"),
        CheckConstraint("quantity > 0", name="quantity"),
        # The review queue and the post-due sweep read by status first.
        Index("ix_claims_status_notice_ends_at", "status", "notice_ends_at"),
        Index("ix_claims_household_id_rule_id", "household_id", "rule_id"),
        # Supervision reads a township's claims of a period (late entries, filing times).
        Index("ix_claims_village_id_created_at", "village_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id"))
    # The version of the rule the claim is judged under, and a copy of the terms that matter.
    rule_version_id: Mapped[int] = mapped_column(ForeignKey("rule_versions.id"))
    rule_version: Mapped[int] = mapped_column(Integer)
    council: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    points: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    occurred_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    source: Mapped[str] = mapped_column(String(16))
    # Makes a claim from an outside event idempotent, e.g. "checkin:<event>:<member>".
    source_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Back-dating (补录): the deed lies further in the past than the village's grace window when entered.
    # Such a claim never posts by itself; a person other than `entered_by_id` (the clerk who scanned,
    # the villager or clerk who filed) must approve it, and it counts against two months' caps.
    late_entry: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A user id without a foreign key: migration 0010 adds it in place on SQLite (see there); on every
    # path it is the user of `created_by_id`, which has one.
    entered_by_id: Mapped[int | None] = mapped_column(Integer)
    # The first approval of a rule that needs two (cleared when a dispute reopens review).
    first_approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    # Evidence photo: a file name under UPLOAD_FOLDER/claims, never the image in the database.
    photo_name: Mapped[str | None] = mapped_column(String(80))
    photo_type: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actions: Mapped[list[ClaimAction]] = relationship(
        back_populates="claim", order_by="ClaimAction.id", cascade="all"
    )


class ClaimAction(db.Model):
    """One step of a claim's history: who did what, when, from which state to which, and why."""

    __tablename__ = "claim_actions"
    # Supervision reads a period's approvals by their time (speed, night, bulk, who approves whom).
    __table_args__ = (Index("ix_claim_actions_action_created_at", "action", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    # None for the system (post-due).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="actions")


class Objection(db.Model):
    """A neighbour's objection to a claim during its public notice (公示异议)."""

    __tablename__ = "claim_objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
