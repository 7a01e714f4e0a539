"""Logins, tokens, revocation, throttling and user accounts."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, g
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.exc import IntegrityError

from ..database import first_statement, transaction, utcnow
from ..errors import DomainError, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from . import policy, throttle
from .models import COUNCILS, ROLES, RevokedToken, User
from .policy import ensure_village, is_deployment_admin, require_role, visible_village_ids


def _hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=current_app.config.get("ARGON2_TIME_COST", 2),
        memory_cost=current_app.config.get("ARGON2_MEMORY_KIB", 19456),
        parallelism=1,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify_hash(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        # Hash anyway so a missing or inactive user takes as long as a wrong password.
        _hasher().hash(password)
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def login(username: str, password: str, address: str, *, card_code: str | None = None) -> User:
    """Check a username and password from a client address, within the bounds of `throttle`.

    Past the account's daily bound of failures the owner also gives the code printed on the household
    card (`card_code`); wrong or missing, the login fails as any wrong password does.
    """
    with transaction():
        reservation = throttle.reserve(username, address, with_second_proof=bool(card_code))
        user = db.session.scalar(select(User).where(User.username == username))
        password_hash = user.password_hash if user is not None and user.active else None
        expected_card = _card_code(user) if reservation.needs_second_proof and user is not None else None
    # Hashing is slow on purpose: it runs with no transaction open, so no writer waits for it.
    ok = _verify_hash(password_hash, password)
    if reservation.needs_second_proof:
        ok = (
            ok
            and expected_card is not None
            and hmac.compare_digest(expected_card.encode(), (card_code or "").strip().upper().encode())
        )
    if not ok:
        raise DomainError("invalid-credentials", _l("Wrong username or password."), status=401)
    with transaction():
        throttle.forget_after_success(username, address)
        user = db.session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def _card_code(user: User) -> str | None:
    """The short code printed on the card of the user's household, the second proof of a login."""
    from ..households.models import Household

    household_id = user.household_id
    household = db.session.get(Household, household_id) if household_id is not None else None
    return household.code if household is not None and household.active else None


def issue_tokens(user: User, *, access_expires: timedelta | None = None) -> dict[str, str]:
    """A refresh token and its access token, both of the user's current token generation.

    The access token names its refresh token (`rjti`), so a logout with the access token alone ends both.
    """
    claims = {"role": user.role, "gen": user.token_generation}
    config = current_app.config
    refresh_token = create_refresh_token(
        identity=str(user.id),
        additional_claims={**claims, **_stamped(config["JWT_REFRESH_TOKEN_EXPIRES"])},
    )
    lifetime = access_expires if access_expires is not None else config["JWT_ACCESS_TOKEN_EXPIRES"]
    # Read back without the expiry check: under a clock set in the past the fresh token may read as expired.
    refresh_jti = decode_token(refresh_token, allow_expired=True)["jti"]
    access_claims = {**claims, "rjti": refresh_jti, **_stamped(lifetime)}
    return {
        "access_token": create_access_token(identity=str(user.id), additional_claims=access_claims),
        "refresh_token": refresh_token,
    }


def _stamped(lifetime: timedelta) -> dict[str, datetime]:
    """A token's times from the app's clock (database.utcnow), not flask-jwt-extended's own, so that
    a session's age and its sliding renewal follow the same clock as everything else."""
    now = utcnow()
    return {"iat": now, "nbf": now, "exp": now + lifetime}


def _revoked_row(jti: str, user_id: int, expires_at: datetime) -> None:
    if db.session.get(RevokedToken, jti) is None:
        db.session.add(RevokedToken(jti=jti, user_id=user_id, expires_at=expires_at))


def revoke(jwt_payload: dict[str, Any]) -> None:
    """Revoke one token by its jti, and the refresh token it was issued with; revoking twice is harmless."""
    user_id = int(jwt_payload["sub"])
    with transaction():
        _revoked_row(jwt_payload["jti"], user_id, datetime.fromtimestamp(jwt_payload["exp"], UTC))
        paired = jwt_payload.get("rjti")
        if isinstance(paired, str) and 0 < len(paired) <= 64:
            # The refresh token's own expiry is not in the access token; its longest life bounds it.
            expires = (
                datetime.fromtimestamp(jwt_payload["iat"], UTC)
                + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
            )
            _revoked_row(paired, user_id, expires)


def revoke_encoded(token: str, user: User) -> None:
    """Revoke a token given in a logout body (the refresh token), if it is the caller's own."""
    try:
        payload = decode_token(token, allow_expired=True)
    except Exception as exc:  # any malformed token is a client error, never a 500
        raise ValidationFailed(errors={"refresh_token": [_l("Not a valid token.")]}) from exc
    if payload.get("sub") != str(user.id):
        raise ValidationFailed(errors={"refresh_token": [_l("Not your token.")]})
    revoke(payload)


def end_every_token(user: User) -> None:
    """Log a user out everywhere: every token and browser session issued until now stops working."""
    with transaction():
        _bump_generation(user)


def _bump_generation(user: User) -> None:
    user.token_generation = (user.token_generation or 0) + 1


def replace_password(user: User, password_hash: str) -> None:
    """A new password or PIN (already hashed): earlier sessions end, and the day's failed logins are
    forgotten, since a reset is the owner's way back in past that bound. Call inside a transaction."""
    user.password_hash = password_hash
    _bump_generation(user)
    throttle.forget_account(user.username)


def is_revoked(jti: str) -> bool:
    return db.session.get(RevokedToken, jti) is not None


_LOOKED_UP = "merit_bank_token_user"
# Built once: every request runs one of these, and a statement built per request costs more CPU to build
# and to key for SQLAlchemy's cache than the database spends answering it.
_IS_REVOKED = exists().where(RevokedToken.jti == bindparam("jti"))
_REVOKED = select(_IS_REVOKED)
_USER_AND_REVOCATION = select(User, _IS_REVOKED).where(User.id == bindparam("user_id"))


def token_is_current(payload: dict[str, Any]) -> bool:
    """False when the token was logged out, or issued before its user's last password change,
    deactivation or logout everywhere.

    The user and the token's revocation are read in one query, the request's first; the user found is
    handed to the user lookup that flask-jwt-extended runs right after (load_active_user)."""
    key = _user_key(payload.get("sub"))
    jti = payload["jti"]
    if key is None:
        return not first_statement(lambda: db.session.scalar(_REVOKED, {"jti": jti}))
    params = {"user_id": key, "jti": jti}
    row = first_statement(lambda: db.session.execute(_USER_AND_REVOCATION, params).one_or_none())
    if row is None:
        # No such user: the user lookup answers "account-inactive", unless the token was revoked.
        g.pop(_LOOKED_UP, None)
        return not is_revoked(payload["jti"])
    user, is_revoked_token = row
    if is_revoked_token:
        return False
    g.setdefault(_LOOKED_UP, {})[key] = user
    if not user.active:
        return True  # the user lookup answers that one, as "account-inactive"
    return payload.get("gen", 0) == user.token_generation


def _user_key(user_id: Any) -> int | None:
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    return key if 0 < key < 2**31 else None


def load_active_user(user_id: Any) -> User | None:
    """The user behind a token, or None when they no longer exist or were deactivated."""
    key = _user_key(user_id)
    if key is None:
        return None
    # Just read with the token's revocation (token_is_current); taken once, so it is never stale.
    user = g.get(_LOOKED_UP, {}).pop(key, None)
    if user is None:
        user = db.session.get(User, key)
    return user if user is not None and user.active else None


# --- user accounts -----------------------------------------------------------------------------


def check_password_policy(role: str, password: str) -> None:
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
    if role == "supervisor" or data.get("region_id") is not None:
        return _create_supervisor(actor, data)
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
    check_password_policy(role, data["password"])
    password_hash = hash_password(data["password"])
    with transaction():
        if db.session.scalar(select(User.id).where(User.username == data["username"])) is not None:
            raise DomainError("username-taken", _l("That username is already in use."))
        if member_id is not None and _member_has_login(member_id):
            raise _member_taken()
        user = User(
            username=data["username"],
            password_hash=password_hash,
            role=role,
            village_id=village_id,
            shop_id=data.get("shop_id"),
            member_id=member_id,
            councils=councils if role == "clerk" else [],
            display_name=data.get("display_name") or "",
        )
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError as exc:  # two admins linking the same member at once: the index decides
            if member_id is not None and "member" in str(exc.orig).lower():
                raise _member_taken() from exc
            raise DomainError("username-taken", _l("That username is already in use.")) from exc
    return user


def _create_supervisor(actor: User, data: dict[str, Any]) -> User:
    """A read-only login over a county or township: no village, household, shop or council of its own."""
    from ..villages.models import Region

    if not policy.creates_supervisors(actor):
        raise Forbidden("forbidden", _l("Only a deployment-wide admin names supervisors."))
    if data["role"] != "supervisor":
        raise ValidationFailed(errors={"region_id": [_l("Only a supervisor belongs to a region.")]})
    region_id = data.get("region_id")
    if region_id is None:
        raise ValidationFailed(errors={"region_id": [_l("A supervisor oversees a county or a township.")]})
    if db.session.get(Region, region_id) is None:
        raise ValidationFailed(errors={"region_id": [_l("No such region.")]})
    for field in ("village_id", "shop_id", "member_id"):
        if data.get(field) is not None:
            raise ValidationFailed(errors={field: [_l("A supervisor belongs to a region, not a village.")]})
    if data.get("councils"):
        raise ValidationFailed(errors={"councils": [_l("Only a clerk has councils, from the six codes.")]})
    check_password_policy("supervisor", data["password"])
    password_hash = hash_password(data["password"])
    with transaction():
        if db.session.scalar(select(User.id).where(User.username == data["username"])) is not None:
            raise DomainError("username-taken", _l("That username is already in use."))
        user = User(
            username=data["username"],
            password_hash=password_hash,
            role="supervisor",
            region_id=region_id,
            councils=[],
            display_name=data.get("display_name") or "",
        )
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError as exc:
            raise DomainError("username-taken", _l("That username is already in use.")) from exc
    return user


def _member_has_login(member_id: int) -> bool:
    return db.session.scalar(select(User.id).where(User.member_id == member_id)) is not None


def _member_taken() -> ValidationFailed:
    return ValidationFailed(errors={"member_id": [_l("This member already has a login.")]})


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
    if user is None or not policy.sees_user(actor, user):
        raise NotFound("not-found", _l("No such user."))
    return user


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
    if "password" in data:
        check_password_policy(user.role, data["password"])
        # Hashed before the transaction, so no writer waits for Argon2.
        data = {**data, "password_hash": hash_password(data["password"])}
    with transaction():
        if "active" in data and data["active"] != user.active:
            user.active = data["active"]
            if not data["active"]:
                _bump_generation(user)
        if "password" in data:
            replace_password(user, data["password_hash"])
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


def reset_password(username: str, password: str) -> None:
    """The operator's reset from the command line (e.g. for the only admin, past the day's bound)."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("not-found", _l("No such user."))
    check_password_policy(user.role, password)
    password_hash = hash_password(password)
    with transaction():
        replace_password(user, password_hash)


def create_admin(username: str, password: str) -> User:
    """The first deployment-wide admin, made from the command line."""
    check_password_policy("admin", password)
    password_hash = hash_password(password)
    with transaction():
        if db.session.scalar(select(User.id).where(User.username == username)) is not None:
            raise DomainError("username-taken", _l("That username is already in use."))
        user = User(username=username, password_hash=password_hash, role="admin", councils=[])
        db.session.add(user)
    return user


def purge_expired(now: datetime | None = None) -> int:
    """Drop revocations and failures that can no longer matter; safe from cron."""
    now = now or utcnow()
    window = max(timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"]), throttle.DAY)
    with transaction():
        n = db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now)).rowcount
        n += throttle.purge_before(now - window)
    return n
