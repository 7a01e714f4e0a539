"""Scoring rules (积分细则): the village's rulebook, each edit kept as a numbered version.

A `Rule` row carries the rule's stable id and its current terms; every version of those terms,
the current one included, is also kept in `rule_versions`. Claims and ledger entries name the
version they were judged under, so a later edit never rewrites what was decided before it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .paths import RulePath, rule_path

UNITS = ("each", "hour")

# The terms that make up one version of a rule (what PATCH may change).
VERSIONED_FIELDS = (
    "code",
    "name",
    "council",
    "points",
    "unit",
    "monthly_cap",
    "needs_review",
    "notice_days",
    "approvals_required",
    "effective_from",
    "effective_to",
)


class _Terms:
    """Columns shared by a rule and each of its versions."""

    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    council: Mapped[str] = mapped_column(String(32))
    # Per unit; negative for a deduction under the covenant.
    points: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(8), default="each")
    # Most points (absolute) one household may get under this rule in one month; None = no cap.
    monthly_cap: Mapped[int | None] = mapped_column(Integer)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=True)
    notice_days: Mapped[int] = mapped_column(Integer, default=3)
    approvals_required: Mapped[int] = mapped_column(Integer, default=1)
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)

    @property
    def path(self) -> RulePath:
        """What happens to points claimed under these terms (see rules/paths.py)."""
        return rule_path(self)


class Rule(_Terms, db.Model):
    """A scoring rule; `version` counts its edits, and a used rule is retired, never deleted."""

    __tablename__ = "rules"
    __table_args__ = (
        CheckConstraint("unit IN ('each', 'hour')", name="unit"),
        CheckConstraint("approvals_required IN (1, 2)", name="approvals_required"),
        CheckConstraint("notice_days >= 0", name="notice_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: a deployment-wide rule that every village may use.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[RuleVersion]] = relationship(
        back_populates="rule", order_by="RuleVersion.version", cascade="all"
    )

    @property
    def retired(self) -> bool:
        return not self.active

    def effective_on(self, day: date) -> bool:
        """Whether the rule's effective dates include `day`."""
        if self.effective_from is not None and day < self.effective_from:
            return False
        return not (self.effective_to is not None and day > self.effective_to)


class RuleVersion(_Terms, db.Model):
    """One version of a rule's terms, as it stood from `created_at` on; never changed afterwards."""

    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    rule: Mapped[Rule] = relationship(back_populates="versions")
