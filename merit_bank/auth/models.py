"""Users, their roles and scopes, revoked tokens and failed logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db
from ..labels import COUNCILS as COUNCILS  # the councils a clerk can belong to

ROLES = ("admin", "clerk", "shopkeeper", "villager")


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # Null for a deployment-wide admin; every other role belongs to one village.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True)
    # A supervisor's county or township; null for every other role.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    councils: Mapped[list[str]] = mapped_column(JSON, default=list)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every token carries the generation it was issued under; bumping it (password or PIN change,
    # reset, deactivation, logout everywhere) ends all earlier tokens for good, even after re-activation.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def household_id(self) -> int | None:
        from ..households.models import Member  # households depends on auth for scopes, not the reverse

        if self.member_id is None:
            return None
        member = db.session.get(Member, self.member_id)
        return member.household_id if member else None


class RevokedToken(db.Model):
    """A JWT that was logged out before it expired; kept in the database so every process sees it."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginFailure(db.Model):
    """One failed (or still running) login; counting recent rows throttles guessing across all processes.

    Rows are counted per client address (across usernames), per address and username, and per username
    across all addresses (a day's bound, past which the owner needs a second proof).
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(45), default="", server_default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActivationCode(db.Model):
    """A one-time code a clerk hands a villager on paper, to activate (or reset) their login.

    Only a hash is kept: the code is shown once, when it is made.
    """

    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
