"""Households (户), the unit that holds a points account, and their members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from ..villages.models import Village, VillageGroup


class Household(db.Model):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    # Short, unambiguous and printable: typed by a shopkeeper when a card will not scan.
    code: Mapped[str] = mapped_column(String(12), unique=True)
    head_name: Mapped[str] = mapped_column(String(50))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("village_groups.id"), index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    # Bumped when a card is reissued; tokens of older versions stop being accepted.
    card_version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    village: Mapped[Village] = relationship()
    group: Mapped[VillageGroup | None] = relationship()
    members: Mapped[list[Member]] = relationship(
        back_populates="household", order_by="Member.id", cascade="all"
    )


class Member(db.Model):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    relation: Mapped[str] = mapped_column(String(20), default="")
    # The identity number is never stored in plain text: a keyed hash finds duplicates,
    # an encrypted copy serves the rare lawful need, and the masked form is what anyone sees.
    id_number_hmac: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_number_encrypted: Mapped[str | None] = mapped_column(String(255))
    id_number_masked: Mapped[str | None] = mapped_column(String(32))
    # Which identity key (see identity.py) made both the ciphertext and the hash; rotate-keys moves it.
    id_number_key_id: Mapped[int | None] = mapped_column(Integer)
    # Tags (身份标签) from the village's list, e.g. 党员; null or [] when none.
    tags: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    household: Mapped[Household] = relationship(back_populates="members")

    @property
    def tag_list(self) -> list[str]:
        return list(self.tags or [])
