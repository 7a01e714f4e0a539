"""Villages, their 村民小组 (villager groups) and the regions (county → township) above them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .ordering import sort_groups

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


# The tags (身份标签) a member may carry until a village's admin edits its own list.
DEFAULT_MEMBER_TAGS = ("党员", "村干部", "村民代表", "网格员", "志愿者")


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

    # The village's list of member tags, in its order; null: DEFAULT_MEMBER_TAGS.
    member_tags: Mapped[list[str] | None] = mapped_column(JSON)
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

    @property
    def tag_list(self) -> list[str]:
        """The tags its members may carry (the defaults until its admin edits them)."""
        return list(DEFAULT_MEMBER_TAGS if self.member_tags is None else self.member_tags)


class VillageGroup(db.Model):
    __tablename__ = "village_groups"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    # The group's place in the village's order; none: by its name, numbers read as numbers (一组 < 十组).
    position: Mapped[int | None] = mapped_column(Integer)

    village: Mapped[Village] = relationship(back_populates="groups")
