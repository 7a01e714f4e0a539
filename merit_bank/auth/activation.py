"""Villagers activate their own login: phone number from the roster, a proof the village handed out, a PIN.

The proof is one of: the code printed on the household card, the last six characters of the member's
identity number (where the roster had one), or a one-time activation code a clerk printed for them. A wrong
proof and a phone number the roster does not know look the same to the caller (401 `activation-failed`), and
attempts are throttled like logins, per address and per phone number. An activation code also resets the PIN
of a login that exists already (the way a forgotten PIN is replaced), ending its earlier sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..database import transaction, utcnow
from ..errors import DomainError, NotFound
from ..extensions import db
from . import throttle
from .models import ActivationCode, User
from .policy import ensure_manages_village
from .services import check_password_policy, hash_password, replace_password

# The household card's alphabet: no 0/O, 1/I/L, so a code read off paper is typed right the first time.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_LENGTH = 8


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    name: str = ""
    phone: str = ""


def _throttle_key(phone: str) -> str:
    # Activation attempts are counted apart from logins: guessing a proof is not guessing a PIN.
    return f"activate:{phone}"[:64]


def _code_hash(code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"activation-code:" + code.encode(), hashlib.sha256).hexdigest()


def _normal(text: str | None) -> str:
    return (text or "").strip().upper().replace(" ", "")


def issue_code(actor: User, household_id: int, member_id: int) -> IssuedCode:
    """A new one-time code for a member (clerks and admins of the village); earlier unused ones end."""
    from ..households.models import Household, Member

    member = db.session.get(Member, member_id)
    household = db.session.get(Household, household_id)
    if member is None or household is None or member.household_id != household.id:
        raise NotFound("not-found", _l("No such member."))
    ensure_manages_village(actor, household.village_id)
    if not member.phone:
        raise DomainError(
            "member-has-no-phone",
            _l("Add the member's phone number first: it becomes the login."),
            status=409,
        )
    code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    now = utcnow()
    expires_at = now + timedelta(days=current_app.config["ACTIVATION_CODE_DAYS"])
    with transaction():
        db.session.execute(
            update(ActivationCode)
            .where(ActivationCode.member_id == member.id, ActivationCode.used_at.is_(None))
            .values(used_at=now)
        )
        db.session.add(
            ActivationCode(
                member_id=member.id, code_hash=_code_hash(code), expires_at=expires_at, created_by=actor.id
            )
        )
    return IssuedCode(code=code, expires_at=expires_at, name=member.name, phone=member.phone)


def _proof_holds(member: Any, household: Any, proof: dict[str, str], now: datetime) -> ActivationCode | bool:
    """True (or the matching code row) when the proof belongs to this member."""
    from ..households import identity

    if proof.get("card_code"):
        return household.active and hmac.compare_digest(
            household.code.encode(), _normal(proof["card_code"]).encode()
        )
    if proof.get("id_last6"):
        if not member.id_number_encrypted:
            return False
        number = identity.decrypt(member.id_number_encrypted, member.id_number_key_id)
        return hmac.compare_digest(number[-6:].encode(), _normal(proof["id_last6"]).encode())
    if proof.get("activation_code"):
        wanted = _code_hash(_normal(proof["activation_code"]))
        row = db.session.scalar(
            select(ActivationCode).where(
                ActivationCode.member_id == member.id,
                ActivationCode.code_hash == wanted,
                ActivationCode.used_at.is_(None),
                ActivationCode.expires_at > now,
            )
        )
        return row if row is not None else False
    return False


def activate(phone: str, pin: str, proof: dict[str, str], address: str) -> User:
    """Create (or, with an activation code, reset) the villager login of the member with this phone."""
    from ..households.models import Household, Member

    phone = phone.strip()
    check_password_policy("villager", pin)
    failed = DomainError("activation-failed", _l("The phone number and proof do not match."), status=401)
    with transaction():
        throttle.reserve(_throttle_key(phone), address, with_second_proof=False, second_proof_allowed=False)
        now = utcnow()
        candidates = db.session.execute(
            select(Member, Household)
            .join(Household, Household.id == Member.household_id)
            .where(Member.phone == phone, Household.active.is_(True))
            .order_by(Member.id)
        ).all()
        matched = [(m, h, held) for m, h in candidates if (held := _proof_holds(m, h, proof, now))]
    if len(matched) != 1:
        # Nobody, or a proof that fits two members sharing a phone (a card code names a household, not a
        # person): the villager asks the clerk for an activation code, which names one member.
        raise failed
    member, household, held = matched[0]
    existing = db.session.scalar(select(User).where(User.member_id == member.id))
    taken = db.session.scalar(select(User).where(User.username == phone))
    by_code = isinstance(held, ActivationCode)
    if (existing is not None or taken is not None) and not by_code:
        raise _already_activated()
    if taken is not None and taken.id != (existing.id if existing else None):
        raise DomainError(
            "already-activated", _l("This phone number is another login's already."), status=409
        )
    # The PIN is hashed with no transaction open, as at login, so no writer waits for Argon2.
    pin_hash = hash_password(pin)
    with transaction():
        throttle.forget_after_success(_throttle_key(phone), address)
        if by_code:
            claimed = db.session.execute(
                update(ActivationCode)
                .where(ActivationCode.id == held.id, ActivationCode.used_at.is_(None))
                .values(used_at=utcnow())
            ).rowcount
            if claimed != 1:  # the same code used twice at once: only one of them activates
                raise failed
        user = db.session.scalar(select(User).where(User.member_id == member.id))
        if user is None:
            user = User(
                username=phone,
                password_hash=pin_hash,
                role="villager",
                village_id=household.village_id,
                member_id=member.id,
                councils=[],
                display_name=member.name,
            )
            db.session.add(user)
        else:
            replace_password(user, pin_hash)
        try:
            db.session.flush()
        except IntegrityError as exc:  # the same member activated twice at once: the unique index decides
            raise _already_activated() from exc
    return user


def _already_activated() -> DomainError:
    return DomainError(
        "already-activated", _l("This member has a login already; log in with it."), status=409
    )


@dataclass(frozen=True)
class MemberStatus:
    member_id: int
    name: str
    phone: str | None
    household_id: int
    household_code: str
    group: str
    activated: bool


@dataclass
class GroupCount:
    group: str
    members: int = 0
    with_phone: int = 0
    activated: int = 0


def overview(actor: User, q: str | None = None) -> tuple[list[GroupCount], list[MemberStatus]]:
    """Who has activated, per village group (counts) and per member (rows matching `q`), in scope."""
    from ..households import services as households
    from ..households.models import Household, Member
    from ..villages.models import VillageGroup
    from ..villages.ordering import group_key

    visible = households.visible_households(actor).with_only_columns(Household.id).scalar_subquery()
    rows = db.session.execute(
        select(Member, Household.code, VillageGroup.name, VillageGroup.position, User.id)
        .join(Household, Household.id == Member.household_id)
        .outerjoin(VillageGroup, VillageGroup.id == Household.group_id)
        .outerjoin(User, User.member_id == Member.id)
        .where(Household.id.in_(visible), Household.active.is_(True))
        .order_by(Household.code, Member.id)
    ).all()
    # Groups in the village's own order (一组 before 十组), as on every other page that lists them.
    rows.sort(key=lambda row: group_key(row.name, row.position))
    counts: dict[str, GroupCount] = {}
    members: list[MemberStatus] = []
    needle = (q or "").strip()
    for member, code, group, _position, user_id in rows:
        group_name = group or ""
        count = counts.setdefault(group_name, GroupCount(group_name))
        count.members += 1
        count.with_phone += 1 if member.phone else 0
        count.activated += 1 if user_id is not None else 0
        status = MemberStatus(
            member.id, member.name, member.phone, member.household_id, code, group_name, user_id is not None
        )
        if not needle or needle in member.name or needle == (member.phone or "") or needle.upper() == code:
            members.append(status)
    return list(counts.values()), members
