"""Villages, their 村民小组 (villager groups) and the regions (county → township) above them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

# A county holds townships (乡镇); a township holds villages. A deployment may hold several counties.
COUNTY = "county"
TOWNSHIP = "township"
REGION_KINDS = (COUNTY, TOWNSHIP)


class Region(db.Model):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    # A township's county; null for a county.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    # The township (乡镇) the village belongs to; null until an admin places it.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    groups: Mapped[list[VillageGroup]] = relationship(
        back_populates="village", order_by="VillageGroup.name", cascade="all"
    )


class VillageGroup(db.Model):
    __tablename__ = "village_groups"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))

    village: Mapped[Village] = relationship(back_populates="groups")
