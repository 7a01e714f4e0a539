"""Villages and their 村民小组 (villager groups)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .ordering import sort_groups


class Village(db.Model):
    __tablename__ = "villages"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    # What one point is worth when the shop is reimbursed, in fen (0.01 yuan).
    point_value_fen: Mapped[int] = mapped_column(Integer, default=10)
    # Whether the 红黑榜 appears on the public notice board.
    publish_rankings: Mapped[bool] = mapped_column(Boolean, default=False)
    # Days a deed may lie in the past and still post as usual (an offline scanner that syncs late);
    # older deeds are late entries (补录) that a second person must approve.
    late_entry_days: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # Points expiry (merit_bank/expiry): None means points never expire. Otherwise points earned more than
    # this many years before an expiry date and not spent by then expire on it.
    expiry_years: Mapped[int | None] = mapped_column(Integer)
    # The day of the year ("MM-DD") an announced expiry falls on unless the admin names another date.
    expiry_day: Mapped[str] = mapped_column(String(5), default="12-31", server_default="12-31")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    groups: Mapped[list[VillageGroup]] = relationship(
        back_populates="village", order_by="VillageGroup.id", cascade="all"
    )

    @property
    def ordered_groups(self) -> list[VillageGroup]:
        """The groups in the village's own order (see ordering.py), not in the order of character codes."""
        return sort_groups(self.groups)


class VillageGroup(db.Model):
    __tablename__ = "village_groups"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    # The group's place in the village's order; none: by its name, numbers read as numbers (一组 < 十组).
    position: Mapped[int | None] = mapped_column(Integer)

    village: Mapped[Village] = relationship(back_populates="groups")
