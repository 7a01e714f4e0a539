"""Logins, tokens, revocation, throttling and user accounts."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import delete, func, select, text

from ..database import is_sqlite, transaction, utcnow
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from .models import COUNCILS, ROLES, LoginFailure, RevokedToken, User
from .scope import ensure_village, is_deployment_admin, require_role, visible_village_ids


def _hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=current_app.config.get("ARGON2_TIME_COST", 2),
        memory_cost=current_app.config.get("ARGON2_MEMORY_KIB", 19456),
        parallelism=1,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify_password(user: User | None, password: str) -> bool:
    if user is None:
        # Hash anyway so a missing username takes as long as a wrong password.
        _hasher().hash(password)
        return False
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _lock_username(username: str) -> None:
    """Serialize logins of one username so concurrent guesses cannot all slip under the limit."""
    if not is_sqlite():  # SQLite's BEGIN IMMEDIATE already serializes every writer
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(username.encode())})


def login(username: str, password: str) -> User:
    """Check a username and password, with at most N failures per username in the window."""
    max_failures = current_app.config["LOGIN_MAX_FAILURES"]
    window = timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    with transaction():
        _lock_username(username)
        since = utcnow() - window
        failures = db.session.scalar(
            select(func.count()).where(LoginFailure.username == username, LoginFailure.at > since)
        )
        if failures >= max_failures:
            raise DomainError(
                "too-many-attempts",
                _l("Too many failed logins for this user; try again in 15 minutes."),
                status=429,
            )
        user = db.session.scalar(select(User).where(User.username == username))
        if not _verify_password(user, password) or user is None or not user.active:
            db.session.add(LoginFailure(username=username))
            failed = True
        else:
            db.session.execute(delete(LoginFailure).where(LoginFailure.username == username))
            failed = False
    if failed:
        raise DomainError("invalid-credentials", _l("Wrong username or password."), status=401)
    return user


def issue_tokens(user: User, *, access_expires: timedelta | None = None) -> dict[str, str]:
    claims = {"role": user.role}
    access_kwargs: dict[str, Any] = {"additional_claims": claims}
    if access_expires is not None:
        access_kwargs["expires_delta"] = access_expires
    return {
        "access_token": create_access_token(identity=str(user.id), **access_kwargs),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims=claims),
    }


def revoke(jwt_payload: dict[str, Any]) -> None:
    """Revoke one token by its jti; revoking twice is harmless."""
    with transaction():
        if db.session.get(RevokedToken, jwt_payload["jti"]) is None:
            db.session.add(
                RevokedToken(
                    jti=jwt_payload["jti"],
                    user_id=int(jwt_payload["sub"]),
                    expires_at=datetime.fromtimestamp(jwt_payload["exp"], UTC),
                )
            )


def revoke_encoded(token: str, user: User) -> None:
    """Revoke a token given in a logout body (the refresh token), if it is the caller's own."""
    try:
        payload = decode_token(token, allow_expired=True)
    except Exception as exc:  # any malformed token is a client error, never a 500
        raise ValidationFailed(errors={"refresh_token": [_l("Not a valid token.")]}) from exc
    if payload.get("sub") != str(user.id):
        raise ValidationFailed(errors={"refresh_token": [_l("Not your token.")]})
    revoke(payload)


def is_revoked(jti: str) -> bool:
    return db.session.get(RevokedToken, jti) is not None


def load_active_user(user_id: str) -> User | None:
    """The user behind a token, or None when they no longer exist or were deactivated."""
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.active else None


# --- user accounts -----------------------------------------------------------------------------


def _check_password_policy(role: str, password: str) -> None:
    if role == "villager":
        if not (password.isdigit() and len(password) >= 6):
            raise ValidationFailed(errors={"password": [_l("A villager's PIN is at least 6 digits.")]})
    elif len(password) < 8:
        raise ValidationFailed(errors={"password": [_l("At least 8 characters.")]})


def create_user(actor: User, data: dict[str, Any]) -> User:
    """Create a login within the actor's scope; a village admin cannot create deployment admins."""
    from ..households.models import Household, Member

    require_role(actor, "admin")
    role = data["role"]
    if role not in ROLES:
        raise ValidationFailed(errors={"role": [_l("One of %(roles)s.", roles=", ".join(ROLES))]})
    village_id = data.get("village_id")
    member_id = data.get("member_id")
    councils = data.get("councils") or []
    bad = [c for c in councils if c not in COUNCILS]
    if bad:
        raise ValidationFailed(errors={"councils": [_l("Unknown council: %(codes)s.", codes=", ".join(bad))]})
    if role == "villager" and member_id is None:
        raise ValidationFailed(errors={"member_id": [_l("A villager login belongs to a household member.")]})
    if member_id is not None:
        # Staff who live in the village are linked to their own household too, so that nobody reviews
        # or redeems for their own family; a deployment-wide admin belongs to no village.
        member = db.session.get(Member, member_id)
        if member is None:
            raise ValidationFailed(errors={"member_id": [_l("No such member.")]})
        household = db.session.get(Household, member.household_id)
        assert household is not None
        if village_id is not None and village_id != household.village_id:
            raise ValidationFailed(errors={"village_id": [_l("The member lives in another village.")]})
        if role in ("villager", "clerk", "shopkeeper") or village_id is not None:
            village_id = household.village_id
        else:
            raise ValidationFailed(
                errors={"member_id": [_l("A deployment-wide admin belongs to no household.")]}
            )
    if role == "shopkeeper":
        if data.get("shop_id") is None:
            raise ValidationFailed(errors={"shop_id": [_l("A shopkeeper belongs to a shop.")]})
        if village_id is None:
            village_id = _shop_village(data["shop_id"])
    elif data.get("shop_id") is not None:
        raise ValidationFailed(errors={"shop_id": [_l("Only shopkeepers belong to a shop.")]})
    if role != "admin" and village_id is None:
        raise ValidationFailed(errors={"village_id": [_l("This role belongs to one village.")]})
    if village_id is None and not is_deployment_admin(actor):
        raise NotFound("not-found", _l("No such village."))
    if village_id is not None:
        _ensure_village_exists(actor, village_id)
    if role == "clerk" and not councils:
        raise ValidationFailed(errors={"councils": [_l("A clerk reviews for at least one council.")]})
    if role == "shopkeeper":
        _check_shop(village_id, data["shop_id"])
    _check_password_policy(role, data["password"])
    with transaction():
        if db.session.scalar(select(User.id).where(User.username == data["username"])) is not None:
            raise DomainError("username-taken", _l("That username is already in use."))
        user = User(
            username=data["username"],
            password_hash=hash_password(data["password"]),
            role=role,
            village_id=village_id,
            shop_id=data.get("shop_id"),
            member_id=member_id,
            councils=councils if role == "clerk" else [],
            display_name=data.get("display_name") or "",
        )
        db.session.add(user)
        db.session.flush()
    return user


def _ensure_village_exists(actor: User, village_id: int) -> None:
    from ..villages.models import Village

    ensure_village(actor, village_id)
    if db.session.get(Village, village_id) is None:
        raise NotFound("not-found", _l("No such village."))


def _shop_village(shop_id: int) -> int | None:
    from ..shop.models import Shop

    shop = db.session.get(Shop, shop_id)
    return shop.village_id if shop is not None else None


def _check_shop(village_id: int | None, shop_id: int) -> None:
    """A shopkeeper's shop must exist in their village."""
    from ..shop.models import Shop

    shop = db.session.get(Shop, shop_id)
    if shop is None or shop.village_id != village_id:
        raise ValidationFailed(errors={"shop_id": [_l("No such shop in this village.")]})


def get_user(actor: User, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or actor.role != "admin" or (actor.id != user.id and not _sees_user(actor, user)):
        raise NotFound("not-found", _l("No such user."))
    return user


def _sees_user(actor: User, user: User) -> bool:
    ids = visible_village_ids(actor)
    return ids is None or (user.village_id is not None and user.village_id in ids)


def list_users(actor: User, village_id: int | None = None):
    require_role(actor, "admin")
    query = select(User).order_by(User.id)
    ids = visible_village_ids(actor)
    if ids is not None:
        query = query.where(User.village_id.in_(ids))
    if village_id is not None:
        query = query.where(User.village_id == village_id)
    return query


def update_user(actor: User, user_id: int, data: dict[str, Any]) -> User:
    user = get_user(actor, user_id)
    if user.id == actor.id and data.get("active") is False:
        raise DomainError("cannot-deactivate-self", _l("You cannot deactivate your own login."))
    with transaction():
        if "active" in data:
            user.active = data["active"]
        if "password" in data:
            _check_password_policy(user.role, data["password"])
            user.password_hash = hash_password(data["password"])
        if "councils" in data:
            bad = [c for c in data["councils"] if c not in COUNCILS]
            if bad or user.role != "clerk":
                raise ValidationFailed(
                    errors={"councils": [_l("Only a clerk has councils, from the six codes.")]}
                )
            user.councils = list(data["councils"])
        if "display_name" in data:
            user.display_name = data["display_name"]
    return user


def create_admin(username: str, password: str) -> User:
    """The first deployment-wide admin, made from the command line."""
    _check_password_policy("admin", password)
    with transaction():
        if db.session.scalar(select(User.id).where(User.username == username)) is not None:
            raise DomainError("username-taken", _l("That username is already in use."))
        user = User(username=username, password_hash=hash_password(password), role="admin", councils=[])
        db.session.add(user)
    return user


def purge_expired(now: datetime | None = None) -> int:
    """Drop revocations and failures that can no longer matter; safe from cron."""
    now = now or utcnow()
    window = timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    with transaction():
        n = db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now)).rowcount
        n += db.session.execute(delete(LoginFailure).where(LoginFailure.at < now - window)).rowcount
    return n
