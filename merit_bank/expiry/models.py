"""Expiry announcements: a run for a date needs one made at least 30 days before that date."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class ExpiryAnnouncement(db.Model):
    """An announced expiry date of one village; the run records itself on the same row."""

    __tablename__ = "expiry_announcements"
    __table_args__ = (UniqueConstraint("village_id", "expires_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    # Local calendar days. Points earned before the local day `cutoff` began, and unspent, expire.
    expires_on: Mapped[date] = mapped_column(Date)
    # The village's expiry_years when announced: what was announced is what runs, whatever the
    # setting says later.
    years: Mapped[int] = mapped_column(Integer)
    cutoff: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_by_id: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    points: Mapped[int | None] = mapped_column(BigInteger)
