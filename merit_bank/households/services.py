"""Households and members: creation, scoped reading, and the signed household QR card."""

from __future__ import annotations

import secrets
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..auth import audit
from ..auth.models import User
from ..database import is_sqlite, transaction
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..signing import mac, mac_matches
from ..villages.models import Village, VillageGroup
from . import identity, policy
from .models import Household, Member

# No 0/O, 1/I/L: a shopkeeper reads the code off a worn card and types it.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_LENGTH = 6
_CARD_PURPOSE = "household-card"


def _new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))


SEPARATORS = "、,，;；"


def split_tags(text: str) -> list[str]:
    """Tags typed in one cell or box: separated by 、 , ， ; or ；, blanks dropped."""
    for separator in SEPARATORS[1:]:
        text = text.replace(separator, SEPARATORS[0])
    return [part.strip() for part in text.split(SEPARATORS[0]) if part.strip()]


def unknown_tags(village: Village, tags: list[str]) -> list[str]:
    allowed = set(village.tag_list)
    return [tag for tag in dict.fromkeys(t.strip() for t in tags) if tag not in allowed]


def checked_tags(village: Village, tags: list[str] | None) -> list[str]:
    """Tags from the village's list, once each and in the list's order; any other is a 422 on `tags`."""
    tags = [t.strip() for t in tags or []]
    unknown = unknown_tags(village, tags)
    if unknown:
        message = _l(
            "Not among this village's tags: %(tags)s (allowed: %(allowed)s).",
            tags="、".join(unknown),
            allowed="、".join(village.tag_list),
        )
        raise ValidationFailed(detail=message, errors={"tags": [message]})
    chosen = set(tags)
    return [tag for tag in village.tag_list if tag in chosen]


def _member(household: Household, data: dict[str, Any]) -> Member:
    protected: dict[str, Any] = {}
    tags: list[str] = []
    if data.get("tags"):
        tags = checked_tags(household.village or db.session.get(Village, household.village_id), data["tags"])
    raw = data.get("id_number")
    if raw:
        number = identity.normalize(raw)
        if not identity.is_valid(number):
            raise ValidationFailed(
                errors={"id_number": [_l("Not a valid identity number (check the last digit).")]}
            )
        # Checked before the member joins the session, so autoflush cannot write a half-built row.
        # Every configured key's hash is tried: during a key rotation a number may be under either.
        known = select(Member.id).where(Member.id_number_hmac.in_(identity.fingerprints(number)))
        if db.session.scalar(known.limit(1)) is not None:
            raise DomainError(
                "duplicate-id-number",
                _l(
                    "Identity number %(masked)s is already registered to another member.",
                    masked=identity.mask(number),
                ),
            )
        protected = identity.protect(number)
    return Member(
        household=household,
        name=data["name"].strip(),
        phone=(data.get("phone") or None),
        relation=data.get("relation") or "",
        tags=tags,
        **protected,
    )


def _check_unique_ids(members: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for index, data in enumerate(members):
        raw = data.get("id_number")
        if raw:
            number = identity.normalize(raw)
            if number in seen:
                raise DomainError(
                    "duplicate-id-number",
                    _l(
                        "Member %(n)s repeats identity number %(masked)s.",
                        n=index + 1,
                        masked=identity.mask(number),
                    ),
                )
            seen.add(number)


def create_household(actor: User, data: dict[str, Any]) -> Household:
    """Register a household with its members and open its points account."""
    from ..ledger import services as ledger

    village_id = data["village_id"]
    policy.ensure_keeps_register(actor, village_id)
    if db.session.get(Village, village_id) is None:
        raise NotFound("not-found", _l("No such village."))
    group_id = _resolve_group(village_id, data.get("group"))
    _check_unique_ids(data["members"])
    try:
        with transaction():
            code = _new_code()
            while db.session.scalar(select(Household.id).where(Household.code == code)) is not None:
                code = _new_code()
            household = Household(
                village_id=village_id,
                code=code,
                head_name=data["head_name"].strip(),
                group_id=group_id,
                address=data.get("address") or "",
            )
            db.session.add(household)
            for member_data in data["members"]:
                db.session.add(_member(household, member_data))
            db.session.flush()
            ledger.open_household_account(village_id=village_id, household_id=household.id)
    except IntegrityError as exc:
        # Two clerks registering the same person at the same moment: the unique index decides.
        raise DomainError("duplicate-id-number", _l("An identity number is already registered.")) from exc
    return household


def _resolve_group(village_id: int, name: str | None) -> int | None:
    if not name:
        return None
    group = db.session.scalar(
        select(VillageGroup).where(VillageGroup.village_id == village_id, VillageGroup.name == name.strip())
    )
    if group is None:
        raise ValidationFailed(errors={"group": [_l("No group named %(name)s in this village.", name=name)]})
    return group.id


def add_member(actor: User, household_id: int, data: dict[str, Any]) -> Member:
    household = get_household(actor, household_id)
    policy.ensure_keeps_register(actor, household.village_id)
    try:
        with transaction():
            member = _member(household, data)
            db.session.add(member)
            db.session.flush()
    except IntegrityError as exc:
        raise DomainError("duplicate-id-number", _l("That identity number is already registered.")) from exc
    return member


def _household_member(household: Household, member_id: int) -> Member:
    member = next((m for m in household.members if m.id == member_id), None)
    if member is None:
        raise NotFound("not-found", _l("No such member in this household."))
    return member


def update_member(actor: User, household_id: int, member_id: int, data: dict[str, Any]) -> Member:
    """Change a member's tags (the only field changed this way so far)."""
    household = get_household(actor, household_id)
    member = _household_member(household, member_id)
    if "tags" in data:
        policy.ensure_tags_members(actor, household.village_id)
        tags = checked_tags(household.village, data["tags"])
        with transaction():
            member.tags = tags
    return member


def set_household_tags(actor: User, household_id: int, tags: dict[int, list[str]]) -> Household:
    """The tags of several members of one household at once (the household page's checkboxes)."""
    household = get_household(actor, household_id)
    policy.ensure_tags_members(actor, household.village_id)
    checked = {
        _household_member(household, member_id).id: checked_tags(household.village, chosen)
        for member_id, chosen in tags.items()
    }
    with transaction():
        for member in household.members:
            if member.id in checked:
                member.tags = checked[member.id]
    return household


def visible_households(actor: User) -> Select:
    """Households the actor may see: a villager only their own, staff their village's."""
    query = select(Household).options(selectinload(Household.members), selectinload(Household.group))
    return query.where(policy.visible_condition(actor))


def search_households(actor: User, village_id: int | None = None, q: str | None = None) -> Select:
    query = visible_households(actor).order_by(Household.id)
    if village_id is not None:
        query = query.where(Household.village_id == village_id)
    if q:
        like = f"%{q.strip()}%"
        member_match = select(Member.household_id).where(or_(Member.name.like(like), Member.phone.like(like)))
        query = query.where(
            or_(
                Household.head_name.like(like),
                Household.code == q.strip().upper(),
                Household.id.in_(member_match),
            )
        )
    return query


def get_household(actor: User, household_id: int) -> Household:
    household = db.session.scalar(visible_households(actor).where(Household.id == household_id))
    if household is None:
        raise NotFound("not-found", _l("No such household."))
    audit.note_household_view(actor, household.id)
    return household


def household_by_code(code: str, among: Select | None = None) -> Household | None:
    """The household a typed or printed code names (spaces and case ignored), within `among` if given.

    The one lookup by code: each caller keeps its own scope, through `among` or its policy afterwards.
    """
    query = among if among is not None else select(Household)
    return db.session.scalar(query.where(Household.code == code.strip().upper()))


def find_by_code(actor: User, code: str) -> Household:
    household = household_by_code(code, among=visible_households(actor))
    if household is None:
        raise NotFound("not-found", _l("No household with that code."))
    audit.note_household_view(actor, household.id)
    return household


def views_of(actor: User, household_id: int) -> Select:
    """Who of the supervisors looked at the household: for those who may see the household."""
    household = get_household(actor, household_id)
    return audit.household_views(household.id)


def with_balances(households: list[Household], actor: User | None = None) -> list[dict[str, Any]]:
    """Households as dicts with balance and earned_total, read in one query, and their members as the
    actor may see them (a supervisor: phones masked, no identity numbers)."""
    from ..ledger import services as ledger

    balances = ledger.household_balances([h.id for h in households])
    rows = []
    for household in households:
        balance, earned = balances.get(household.id, (0, 0))
        members: list[Any] = list(household.members)
        if actor is not None:
            members = [member_view(actor, m) for m in members]
        rows.append({"household": household, "members": members, "balance": balance, "earned_total": earned})
    return rows


def member_view(actor: User, member: Member) -> dict[str, Any]:
    """A member as this actor may see them: a supervisor never an identity number, and phones masked."""
    return {
        "id": member.id,
        "name": member.name,
        "relation": member.relation,
        "phone": member.phone if policy.sees_contact_details(actor) else audit.mask_phone(member.phone),
        "id_number_masked": member.id_number_masked if policy.sees_identity_numbers(actor) else None,
        "tag_list": member.tag_list,
    }


# --- the household QR card -------------------------------------------------------------------------


def card_token(household: Household) -> str:
    """`H<id>.<version>.<mac>`: upper-case so the QR stays in alphanumeric mode at a low version."""
    message = f"H{household.id}.{household.card_version}"
    return f"{message}.{mac(_CARD_PURPOSE, message)}"


def card_household_id(token: str) -> int | None:
    """The household id a card's token names, read before the card is checked (household_from_card), so
    that a scan can load the household with what it needs in one query; None when it names none."""
    head = (token or "").strip().split(".", 1)[0]
    if not (head[:1].upper() == "H" and head[1:].isdigit() and len(head) <= 12):
        return None
    return int(head[1:])


def household_from_card(token: str) -> Household:
    """The household a scanned card belongs to; a forged, malformed or replaced card is refused."""
    token = (token or "").strip().upper()
    parts = token.split(".")
    if (
        len(parts) != 3
        or not parts[0].startswith("H")
        or not parts[0][1:].isdigit()
        or not parts[1].isdigit()
    ):
        raise DomainError("invalid-token", _l("This is not a household card."), status=400)
    if (
        len(parts[0]) > 12
        or len(parts[1]) > 9
        or not mac_matches(_CARD_PURPOSE, f"{parts[0]}.{parts[1]}", parts[2])
    ):
        raise DomainError("invalid-token", _l("This card is not valid."), status=400)
    household = db.session.get(Household, int(parts[0][1:]))
    if household is None or household.card_version != int(parts[1]) or not household.active:
        raise DomainError("invalid-token", _l("This card was replaced by a newer one."), status=400)
    return household


def card_household(actor: User, household_id: int) -> Household:
    """A household whose card the actor may print: its own villagers and the village's staff."""
    household = get_household(actor, household_id)
    if not policy.prints_card(actor):
        raise NotFound("not-found", _l("No such household."))
    return household


def reissue_card(actor: User, household_id: int) -> Household:
    """A new card; the old one stops working at once (a lost card cannot be spent by a finder)."""
    household = get_household(actor, household_id)
    policy.ensure_keeps_register(actor, household.village_id)
    with transaction():
        household.card_version += 1
    return household


# --- identity-number key rotation ------------------------------------------------------------------------


def rotate_identity_keys(batch_size: int = 500) -> dict[str, Any]:
    """Re-encrypt and re-hash every stored identity number under the newest key, one batch per transaction.

    Idempotent: numbers already under the newest key are only counted. A number under a key id that is not
    configured (or that its key no longer decrypts) is counted in `unreadable` by key id and left as it is, so
    the caller can report every missing key at once; nothing is ever rewritten from a failed decryption.
    """
    ring = identity.keyring()
    current = ring.current.key_id
    counts: dict[str, Any] = {"key_id": current, "rotated": 0, "already_current": 0, "unreadable": {}}
    last_id = 0
    while True:
        with transaction():
            query = (
                select(Member)
                .where(Member.id > last_id, Member.id_number_encrypted.is_not(None))
                .order_by(Member.id)
                .limit(batch_size)
            )
            if not is_sqlite():
                # A member saved meanwhile is written under the newest key already; lock only this batch.
                query = query.with_for_update()
            members = db.session.scalars(query).all()
            for member in members:
                key_id = (
                    member.id_number_key_id if member.id_number_key_id is not None else identity.LEGACY_KEY_ID
                )
                if key_id == current and member.id_number_key_id is not None:
                    counts["already_current"] += 1
                    continue
                try:
                    number = identity.decrypt(member.id_number_encrypted or "", key_id)
                except identity.IdentityKeyError:
                    counts["unreadable"][key_id] = counts["unreadable"].get(key_id, 0) + 1
                    continue
                for column, value in identity.protect(number).items():
                    setattr(member, column, value)
                counts["rotated"] += 1
        if len(members) < batch_size:
            return counts
        last_id = members[-1].id
