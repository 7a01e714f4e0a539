"""Star settings per village, and publications: a fixed, append-only snapshot of one year's ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

# Points earned in the year for 1, 2, 3, 4 and 5 stars, and the councils whose deductions cap the rating.
DEFAULT_THRESHOLDS = [10, 30, 60, 100, 150]
DEFAULT_CAPS = {"anti_drug_gambling": 0}
MAX_STARS = 5


class StarSettings(db.Model):
    """A village's own thresholds and caps; a village without a row uses the defaults."""

    __tablename__ = "star_settings"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True, autoincrement=False)
    # Ascending points for 1..n stars (n ≤ 5).
    thresholds: Mapped[list[int]] = mapped_column(JSON)
    # {council code: the most stars a household with a net deduction of that council may get}.
    caps: Mapped[dict[str, int]] = mapped_column(JSON)
    updated_by_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StarPublication(db.Model):
    """One publication of a village's year; a correction is the next version. Append-only (triggers)."""

    __tablename__ = "star_publications"
    __table_args__ = (UniqueConstraint("village_id", "year", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    published_by_id: Mapped[int] = mapped_column(Integer)
    published_by_name: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The thresholds and caps the ratings were computed with, as they were then.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Why a correction was made (empty on a first publication).
    reason: Mapped[str] = mapped_column(String(500), default="")

    ratings: Mapped[list[StarRating]] = relationship(order_by="StarRating.position", viewonly=True)


class StarRating(db.Model):
    """One household's rating as published: names and figures copied, so later changes never alter it."""

    __tablename__ = "star_ratings"
    __table_args__ = (UniqueConstraint("publication_id", "household_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("star_publications.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[int] = mapped_column(Integer)
    household_code: Mapped[str] = mapped_column(String(32))
    head_name: Mapped[str] = mapped_column(String(100))
    group_name: Mapped[str | None] = mapped_column(String(50))
    earned: Mapped[int] = mapped_column(BigInteger)
    stars: Mapped[int] = mapped_column(Integer)
    # The council whose deduction capped the rating, if one did.
    capped_by: Mapped[str | None] = mapped_column(String(32))
