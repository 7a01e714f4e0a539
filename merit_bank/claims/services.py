"""The claim workflow: 申报 (claim) → 审核 (review) → 公示 (public notice) → 入账 (posting).

Every change of a claim's state runs in one transaction that first locks the claim's row, so two
reviewers approving at once, or two `post-due` runs, see each other and the claim posts once. Posting
goes through `ledger.award` with a key derived from the claim (`claim:<id>`, or the claim's source key
such as `checkin:<event>:<member>`), so even a retry after a crash can never post twice.
Lock order, everywhere: claim row → household row (monthly cap) → the ledger's village chain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from ..auth import audit
from ..auth.models import User
from ..clock import local_date, local_today, local_zone
from ..database import adopt, is_sqlite, savepoint, transaction, utcnow
from ..errors import DomainError, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..households import services as household_services
from ..households.models import Household, Member
from ..i18n import request_gettext as _
from ..ledger import services as ledger
from ..rules import services as rule_services
from ..rules.models import RuleVersion
from ..villages.models import Village
from . import photos, policy
from .models import Claim, ClaimAction, Objection

MAX_QUANTITY = 1000
MAX_BATCH = 200
MAX_CLAIM_AGE_DAYS = 366


# --- time --------------------------------------------------------------------------------------------


def _month_bounds(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=local_zone())


def late_entry_days(village_id: int) -> int:
    """The village's grace window for deeds entered late (API.md v2: `late_entry_days`, default 3)."""
    village = db.session.get(Village, village_id)
    return 3 if village is None else village.late_entry_days


def is_late_entry(village_id: int, deed_day: date, entered_day: date | None = None) -> bool:
    """Whether a deed of `deed_day`, entered on `entered_day` (today), is a late entry (补录)."""
    entered_day = entered_day or local_today()
    if deed_day >= entered_day:
        return False  # late under no window: a check-in as it happens spends no statement on the village
    return policy.is_late(deed_day, entered_day, late_entry_days(village_id))


# --- reading -----------------------------------------------------------------------------------------


def get_claim(claim_id: int) -> Claim:
    """The claim with this id, whoever asks (callers check scope); NotFound when absent."""
    claim = db.session.get(Claim, claim_id)
    if claim is None:
        raise NotFound("not-found", _("No such claim."))
    return claim


def _scope(query: Select, actor: User) -> Select:
    return query.where(policy.visible_condition(actor))


def visible_claims(actor: User) -> Select:
    """Claims the actor may see: a villager their household's, a clerk their councils', an admin theirs."""
    return _scope(select(Claim), actor)


def claim_for_actor(actor: User, claim_id: int) -> Claim:
    """The claim, if the actor may see it; NotFound otherwise (no leak of existence)."""
    claim = db.session.scalar(visible_claims(actor).where(Claim.id == claim_id))
    if claim is None:
        raise NotFound("not-found", _("No such claim."))
    # A claim names the household and its member: a supervisor's look at it is a look at the household.
    audit.note_household_view(actor, claim.household_id)
    return claim


def list_claims(
    actor: User,
    *,
    status: str | Iterable[str] | None = None,
    council: str | None = None,
    household_id: int | None = None,
    village_id: int | None = None,
    rule_id: int | None = None,
) -> Select:
    """Claims in scope, newest first, filtered."""
    query = visible_claims(actor)
    if isinstance(status, str):
        query = query.where(Claim.status == status)
    elif status is not None:
        query = query.where(Claim.status.in_(list(status)))
    if council is not None:
        query = query.where(Claim.council == council)
    if household_id is not None:
        query = query.where(Claim.household_id == household_id)
    if village_id is not None:
        query = query.where(Claim.village_id == village_id)
    if rule_id is not None:
        query = query.where(Claim.rule_id == rule_id)
    return query.order_by(Claim.created_at.desc(), Claim.id.desc())


def claim_details(claims: list[Claim]) -> list[dict[str, Any]]:
    """Claims as dicts with the names people read (household head, member, rule), in few queries."""
    if not claims:
        return []
    households = dict(
        db.session.execute(
            select(Household.id, Household.head_name).where(
                Household.id.in_({c.household_id for c in claims})
            )
        ).all()
    )
    member_ids = {c.member_id for c in claims if c.member_id}
    members = (
        dict(db.session.execute(select(Member.id, Member.name).where(Member.id.in_(member_ids))).all())
        if member_ids
        else {}
    )
    versions = {
        v.id: v
        for v in db.session.scalars(
            select(RuleVersion).where(RuleVersion.id.in_({c.rule_version_id for c in claims}))
        )
    }
    rows = []
    for claim in claims:
        version = versions[claim.rule_version_id]
        rows.append(
            {
                "claim": claim,
                "id": claim.id,
                "village_id": claim.village_id,
                "household_id": claim.household_id,
                "household_head": households.get(claim.household_id, ""),
                "member_id": claim.member_id,
                "member_name": members.get(claim.member_id) if claim.member_id else None,
                "rule_id": claim.rule_id,
                "rule_version": claim.rule_version,
                "rule_code": version.code,
                "rule_name": version.name,
                "unit": version.unit,
                "approvals_required": version.approvals_required,
                "path": version.path,
                "council": claim.council,
                "quantity": claim.quantity,
                "points": claim.points,
                "note": claim.note,
                "occurred_on": claim.occurred_on,
                "status": claim.status,
                "source": claim.source,
                "late_entry": claim.late_entry,
                "entered_by_id": claim.entered_by_id,
                "created_by_id": claim.created_by_id,
                "first_approver_id": claim.first_approver_id,
                "notice_ends_at": claim.notice_ends_at,
                "posted_at": claim.posted_at,
                "transaction_id": claim.transaction_id,
                "has_photo": bool(claim.photo_name),
                "created_at": claim.created_at,
            }
        )
    return rows


def claim_history(claim: Claim, viewer: User | None = None) -> list[dict[str, Any]]:
    """The claim's history, oldest first: who did what, when, with which comment (names as `viewer` sees)."""
    actions = list(
        db.session.scalars(
            select(ClaimAction).where(ClaimAction.claim_id == claim.id).order_by(ClaimAction.id)
        )
    )
    actor_ids = {a.actor_id for a in actions if a.actor_id}
    names = (
        {
            u.id: (audit.shown_name(viewer, u), u.role)
            for u in db.session.scalars(select(User).where(User.id.in_(actor_ids)))
        }
        if actor_ids
        else {}
    )
    return [
        {
            "id": a.id,
            "action": a.action,
            "actor_id": a.actor_id,
            "actor_name": names.get(a.actor_id, ("", ""))[0] if a.actor_id else None,
            "actor_role": names.get(a.actor_id, ("", ""))[1] if a.actor_id else None,
            "from_status": a.from_status,
            "to_status": a.to_status,
            "comment": a.comment,
            "created_at": a.created_at,
        }
        for a in actions
    ]


def claim_objections(claim: Claim) -> list[Objection]:
    return list(
        db.session.scalars(select(Objection).where(Objection.claim_id == claim.id).order_by(Objection.id))
    )


# --- creating ----------------------------------------------------------------------------------------


def _record(
    claim: Claim, action: str, actor_id: int | None, from_status: str | None, comment: str = ""
) -> None:
    db.session.add(
        ClaimAction(
            claim=claim,
            action=action,
            actor_id=actor_id,
            from_status=from_status,
            to_status=claim.status,
            comment=(comment or "")[:500],
            created_at=utcnow(),
        )
    )


def _check_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed(
            detail=_("The quantity must be between 1 and %(n)d.", n=MAX_QUANTITY),
            errors={"quantity": [_("Between 1 and %(n)d.", n=MAX_QUANTITY)]},
        )


def create_claim(actor: User, data: dict[str, Any], photo: IO[bytes] | None = None) -> Claim:
    """File a claim: a villager for their own household, a clerk or admin for any household of the village.

    A claim filed by a person always waits for review, whatever the rule says: only a check-in (where the
    attendance itself is the evidence) may post without review.
    """
    policy.ensure_can_file(actor)
    household = household_services.get_household(actor, data["household_id"])
    rule = rule_services.rule_for_actor(actor, data["rule_id"])
    today = local_today()
    day = data.get("occurred_on") or today
    if day > today:
        raise ValidationFailed(errors={"occurred_on": [_("Cannot be in the future.")]})
    if day < today - timedelta(days=MAX_CLAIM_AGE_DAYS):
        raise ValidationFailed(errors={"occurred_on": [_("More than a year ago.")]})
    rule_services.ensure_usable(rule, household.village_id, day)
    policy.ensure_may_claim_rule(actor, rule.points, rule.council)
    member_id = data.get("member_id")
    if member_id is not None and member_id not in {m.id for m in household.members}:
        raise ValidationFailed(errors={"member_id": [_("Not a member of this household.")]})
    quantity = data.get("quantity") or 1
    _check_quantity(quantity)
    note = (data.get("note") or "").strip()
    if len(note) > 500:
        raise ValidationFailed(errors={"note": [_("At most 500 characters.")]})

    photo_name = photo_type = None
    if photo is not None:
        photo_name, photo_type = photos.save_photo(photo)
    try:
        with transaction():
            version = rule_services.current_version(rule)
            now = utcnow()
            claim = _new_claim(
                household,
                member_id,
                rule.id,
                version,
                quantity,
                day,
                now,
                note=note,
                source=policy.claim_source(actor),
                created_by_id=actor.id,
                entered_by_id=actor.id,
                late_entry=is_late_entry(household.village_id, day, today),
                photo_name=photo_name,
                photo_type=photo_type,
                created_at=now,
            )
            db.session.add(claim)
            _record(claim, "create", actor.id, None, note)
            db.session.flush()
    except BaseException:
        photos.delete_photo(photo_name)
        raise
    return claim


def _new_claim(
    household: Household,
    member_id: int | None,
    rule_id: int,
    version: Any,
    quantity: int,
    day: date,
    now: datetime,
    **fields: Any,
) -> Claim:
    """A pending claim under the rule's current version; the caller names its source and the rest."""
    return Claim(
        village_id=household.village_id,
        household_id=household.id,
        member_id=member_id,
        rule_id=rule_id,
        rule_version_id=version.id,
        rule_version=version.version,
        council=version.council,
        quantity=quantity,
        points=version.points * quantity,
        occurred_on=day,
        status="pending",
        updated_at=now,
        **fields,
    )


def _by_source_key(source_key: str) -> Claim | None:
    return db.session.scalars(select(Claim).where(Claim.source_key == source_key)).one_or_none()


def create_claim_for_checkin(
    *,
    household_id: int,
    member_id: int | None,
    rule_id: int,
    quantity: int,
    occurred_at: datetime,
    actor_id: int | None,
    source_key: str,
    own_race: bool = True,
    late: bool = False,
    entered_at: datetime | None = None,
) -> Claim:
    """The claim a check-in makes: posted at once when the rule needs no review, else pending review.

    A late entry (补录) never posts by itself: its deed (`occurred_at`) lies further in the past than the
    village's grace window, or the caller says so (`late`, e.g. a check-in of a back-dated event); it
    waits in review for a person other than `actor_id`. `entered_at`: when the scan reached the
    server, on the caller's clock (now by default).

    Idempotent on `source_key` (e.g. `checkin:<event>:<member>`): a second call returns the first claim.
    `own_race=False`: the caller settles a concurrent call with the same key itself (the IntegrityError
    rolls back its whole transaction), so no savepoint is spent on it.
    The ledger key of its posting is the source key. A check-in past the rule's monthly cap is kept as a
    rejected claim (the attendance is recorded, the points are not) rather than refused.
    """
    with transaction():
        # No look for the key first: the insert below finds an existing claim (IntegrityError) anyway.
        planned = plan_claim_for_checkin(
            household_id=household_id,
            member_id=member_id,
            rule_id=rule_id,
            quantity=quantity,
            occurred_at=occurred_at,
            actor_id=actor_id,
            source_key=source_key,
            late=late,
            entered_at=entered_at,
            judge_cap=False,
        )
        claim = planned.claim
        if own_race:
            try:
                # A concurrent check-in with the same key (PostgreSQL) loses here and returns the winner's.
                with savepoint():
                    db.session.add(claim)
                    db.session.flush()
            except IntegrityError:
                existing = _by_source_key(source_key)
                if existing is None:
                    raise
                return existing
        else:
            db.session.add(claim)
            db.session.flush()
        _record(claim, "create", actor_id, None)
        if planned.posts:
            try:
                _post(claim, planned.version, actor_id, claim.updated_at)
            except DomainError as exc:
                if exc.code != "monthly-cap-reached":
                    raise
                _refuse(claim, str(exc.detail or exc.code))
        db.session.flush()
    return claim


@dataclass
class PlannedClaim:
    """A check-in's claim, judged but not yet written (see plan_claim_for_checkin)."""

    claim: Claim  # transient: every column but the id
    actions: list[dict[str, Any]]  # its history rows, without claim_id
    version: RuleVersion
    posts: bool  # a posting follows the insert (see post_planned_claim)


def plan_claim_for_checkin(
    *,
    household_id: int,
    member_id: int | None,
    rule_id: int,
    quantity: int,
    occurred_at: datetime,
    actor_id: int | None,
    source_key: str,
    late: bool = False,
    entered_at: datetime | None = None,
    judge_cap: bool = True,
) -> PlannedClaim:
    """Judge the claim a check-in makes without writing it, so that the caller can insert it in one
    statement with its own rows (events: the check-in and the scan's log) and then post it.

    With `judge_cap`, a rule's monthly cap is judged here, before the insert (under the household's row
    lock on PostgreSQL, as `_post` does): a check-in past the cap plans a rejected claim.
    Must run inside transaction(). See create_claim_for_checkin for the rules.
    """
    if not source_key or len(source_key) > 120:
        raise ValueError("source_key must be 1 to 120 characters")
    _check_quantity(quantity)
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound("not-found", _("No such household."))
    rule = rule_services.get_rule(rule_id)
    day = local_date(occurred_at)
    rule_services.ensure_usable(rule, household.village_id, day)
    version = rule_services.current_version(rule)
    now = utcnow()
    claim = _new_claim(
        household,
        member_id,
        rule.id,
        version,
        quantity,
        day,
        now,
        note="",
        source="checkin",
        source_key=source_key,
        created_by_id=actor_id,
        entered_by_id=actor_id,
        late_entry=late or is_late_entry(household.village_id, day, local_date(entered_at or now)),
        first_approver_id=None,
        notice_ends_at=None,
        posted_at=None,
        transaction_id=None,
        photo_name=None,
        photo_type=None,
        # The entry time decides the second month a late entry counts against (see `_cap_months`).
        created_at=entered_at or now,
    )
    actions = [_action("create", actor_id, None, "pending", now)]
    posts = not version.needs_review and not claim.late_entry
    if posts and judge_cap:
        try:
            _check_cap(claim, version)
        except DomainError as exc:
            if exc.code != "monthly-cap-reached":
                raise
            claim.status = "rejected"
            actions.append(_action("refuse", None, "pending", "rejected", now, str(exc.detail or exc.code)))
            posts = False
        else:
            claim.status = "posted"
            claim.posted_at = now
            actions.append(_action("post", actor_id, "pending", "posted", now))
    return PlannedClaim(claim, actions, version, posts)


def post_planned_claim(planned: PlannedClaim, claim_id: int) -> Claim:
    """The planned claim, written by the caller as row `claim_id`: post it (if it posts) and return it
    as a loaded row of the session (no read back)."""
    claim = planned.claim
    claim.id = claim_id
    adopt(claim)
    if planned.posts:
        # On PostgreSQL the posting's own statement records its id on the claim (ledger.FollowUp).
        stamp = ledger.FollowUp(ctes=_STAMP_CLAIM, params={"f_claim_id": claim_id})
        posting = _award(claim, planned.version, claim.created_by_id, follow_up=stamp)
        if posting.follow_up is None:
            db.session.connection().execute(_SET_TRANSACTION, {"id": claim_id, "transaction_id": posting.id})
        set_committed_value(claim, "transaction_id", posting.id)
    return claim


_STAMP_CLAIM = (
    ", stamp AS (UPDATE claims SET transaction_id = tx.id FROM tx WHERE claims.id = %(f_claim_id)s::int)"
)
_SET_TRANSACTION = text("UPDATE claims SET transaction_id = :transaction_id WHERE id = :id")


def _action(
    action: str,
    actor_id: int | None,
    from_status: str | None,
    to_status: str,
    at: datetime,
    comment: str = "",
) -> dict[str, Any]:
    return {
        "action": action,
        "actor_id": actor_id,
        "from_status": from_status,
        "to_status": to_status,
        "comment": comment[:500],
        "created_at": at,
    }


# --- reviewing ---------------------------------------------------------------------------------------


def _lock_claim(claim_id: int) -> Claim:
    query = select(Claim).where(Claim.id == claim_id).execution_options(populate_existing=True)
    if not is_sqlite():
        query = query.with_for_update()
    claim = db.session.scalar(query)
    if claim is None:
        raise NotFound("not-found", _("No such claim."))
    return claim


def _ensure_reviewable(claim: Claim) -> None:
    if not policy.is_reviewable(claim.status):
        raise DomainError(
            "invalid-state",
            _("This claim is %(status)s and can no longer be reviewed.", status=claim.status),
            claim_status=claim.status,
        )


def _cap_used(claim: Claim, month: date) -> int:
    """Points of the claim's rule posted to its household in `month`, other than this claim's.

    A late entry (补录) counts against the month of its deed and the month it was entered in, so that
    back-dating never opens a fresh cap.
    """
    start, end = _month_bounds(month)
    entered_from, entered_to = _local_midnight(start), _local_midnight(end)
    in_month = (Claim.occurred_on >= start) & (Claim.occurred_on < end)
    entered_in_month = Claim.late_entry & (Claim.created_at >= entered_from) & (Claim.created_at < entered_to)
    return (
        db.session.scalar(
            select(func.coalesce(func.sum(func.abs(Claim.points)), 0)).where(
                Claim.household_id == claim.household_id,
                Claim.rule_id == claim.rule_id,
                Claim.status == "posted",
                in_month | entered_in_month,
                Claim.id != claim.id,
            )
        )
        or 0
    )


def _cap_months(claim: Claim) -> list[date]:
    """The months whose cap a claim counts against: its deed's, and for a late entry also its entry's."""
    months = [claim.occurred_on.replace(day=1)]
    if claim.late_entry:
        entered = local_date(claim.created_at).replace(day=1)
        if entered not in months:
            months.append(entered)
    return months


def _ledger_key(claim: Claim) -> str:
    return claim.source_key or f"claim:{claim.id}"


def _post(claim: Claim, version: RuleVersion, actor_id: int | None, now: datetime) -> None:
    """Post the claim to the ledger under the version it was judged under, within the monthly cap."""
    _check_cap(claim, version)
    posting = _award(claim, version, actor_id)
    previous = claim.status
    claim.status = "posted"
    claim.posted_at = claim.updated_at = now
    claim.transaction_id = posting.id
    _record(claim, "post", actor_id, previous)


def _check_cap(claim: Claim, version: RuleVersion) -> None:
    """Refuse a posting that would take the household past the rule's monthly cap."""
    if version.monthly_cap is None:
        return
    if not is_sqlite():
        # Serializes postings for one household, so two claims cannot both slip under the cap.
        db.session.execute(
            select(Household.id).where(Household.id == claim.household_id).with_for_update(key_share=True)
        )
    # The fuller of the months the claim counts against decides.
    used = max(_cap_used(claim, month) for month in _cap_months(claim))
    if used + abs(claim.points) > version.monthly_cap:
        raise DomainError(
            "monthly-cap-reached",
            _(
                "This household already has %(used)d of the %(cap)d points this rule allows in a month.",
                used=used,
                cap=version.monthly_cap,
            ),
            cap=version.monthly_cap,
            used=used,
        )


def _award(
    claim: Claim, version: RuleVersion, actor_id: int | None, follow_up: ledger.FollowUp | None = None
):
    memo = version.name if claim.quantity == 1 else f"{version.name} ×{claim.quantity}"
    return ledger.award(
        village_id=claim.village_id,
        household_id=claim.household_id,
        council=claim.council,
        points=claim.points,
        idempotency_key=_ledger_key(claim),
        actor_id=actor_id,
        rule_id=claim.rule_id,
        rule_version=claim.rule_version,
        memo=memo[:500],
        follow_up=follow_up,
    )


def _refuse(claim: Claim, reason: str) -> None:
    previous = claim.status
    claim.status = "rejected"
    claim.updated_at = utcnow()
    _record(claim, "refuse", None, previous, reason)


def approve_claim(actor: User, claim_id: int, comment: str = "", *, now: datetime | None = None) -> Claim:
    """Approve a claim: the first of two approvals waits; the last starts the notice, or posts at once.

    A claim approved again after a dispute posts at once: its notice was served and the objection heard.
    """
    if len(comment or "") > 500:
        raise ValidationFailed(errors={"comment": [_("At most 500 characters.")]})
    claim_for_actor(actor, claim_id)
    with transaction():
        claim = _lock_claim(claim_id)
        # Asked first, so that whoever entered a late entry hears why they may not approve it.
        policy.ensure_can_approve_late(actor, claim)
        policy.ensure_reviewer(actor, claim)
        _ensure_reviewable(claim)
        version = db.session.get_one(RuleVersion, claim.rule_version_id)
        now = now or utcnow()
        previous = claim.status
        if version.approvals_required == 2 and claim.first_approver_id is None:
            claim.first_approver_id = actor.id
            claim.status = "approved"
            claim.updated_at = now
            _record(claim, "approve", actor.id, previous, comment)
            return claim
        if claim.first_approver_id == actor.id:
            raise DomainError(
                "second-approver-required",
                _("This rule needs a second approval from a different person."),
            )
        # The history shows the approval, then what followed it (the notice, or the posting).
        claim.status = "approved"
        _record(claim, "approve", actor.id, previous, comment)
        if claim.notice_ends_at is not None or version.notice_days == 0:
            _post(claim, version, actor.id, now)
        else:
            claim.status = "in_notice"
            claim.notice_ends_at = now + timedelta(days=version.notice_days)
            claim.updated_at = now
            _record(claim, "notice", actor.id, "approved")
        db.session.flush()
    return claim


def reject_claim(actor: User, claim_id: int, reason: str) -> Claim:
    """Reject a claim under review; a reason is required and shown to the household."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(detail=_("A reason is required."), errors={"reason": [_("Required.")]})
    if len(reason) > 500:
        raise ValidationFailed(errors={"reason": [_("At most 500 characters.")]})
    claim_for_actor(actor, claim_id)
    with transaction():
        claim = _lock_claim(claim_id)
        policy.ensure_reviewer(actor, claim)
        _ensure_reviewable(claim)
        previous = claim.status
        claim.status = "rejected"
        claim.updated_at = utcnow()
        _record(claim, "reject", actor.id, previous, reason)
    return claim


def batch_review(actor: User, claim_ids: list[int], decision: str, text: str = "") -> list[dict[str, Any]]:
    """Approve or reject many claims at once; each is decided (and recorded) on its own.

    Returns one result per claim id, in order: {id, ok: true, status} or
    {id, ok: false, error: {type, detail}}.
    One refused claim never undoes the others.
    """
    if decision not in ("approve", "reject"):
        raise ValidationFailed(errors={"decision": [_("Must be approve or reject.")]})
    if decision == "reject" and not (text or "").strip():
        raise ValidationFailed(detail=_("A reason is required."), errors={"reason": [_("Required.")]})
    if not claim_ids or len(claim_ids) > MAX_BATCH:
        raise ValidationFailed(errors={"claim_ids": [_("Between 1 and %(n)d claims.", n=MAX_BATCH)]})
    results: list[dict[str, Any]] = []
    for claim_id in dict.fromkeys(claim_ids):  # a repeated id is decided once
        try:
            if decision == "approve":
                claim = approve_claim(actor, claim_id, text)
            else:
                claim = reject_claim(actor, claim_id, text)
        except DomainError as exc:
            results.append(
                {"id": claim_id, "ok": False, "error": {"type": exc.code, "detail": exc.detail or ""}}
            )
        else:
            results.append({"id": claim_id, "ok": True, "status": claim.status})
    return results


# --- public notice -------------------------------------------------------------------------------------


def object_to_claim(actor: User, claim_id: int, reason: str, *, now: datetime | None = None) -> Objection:
    """A neighbour objects to a claim during its notice: the claim becomes disputed and returns to review."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(detail=_("A reason is required."), errors={"reason": [_("Required.")]})
    if len(reason) > 500:
        raise ValidationFailed(errors={"reason": [_("At most 500 characters.")]})
    with transaction():
        claim = _lock_claim(claim_id)
        in_village = policy.objects_in_village(actor, claim.village_id)
        may_see = db.session.scalar(visible_claims(actor).where(Claim.id == claim_id)) is not None
        # A claim that has been under notice was public to the village; any other claim is only known
        # to those who may see it.
        was_public = claim.status == "in_notice" or claim.notice_ends_at is not None
        if not in_village or not (was_public or may_see):
            raise NotFound("not-found", _("No such claim."))
        if claim.status != "in_notice":
            raise DomainError(
                "not-in-notice", _("This claim is not under public notice."), claim_status=claim.status
            )
        now = now or utcnow()
        if claim.notice_ends_at is not None and now >= claim.notice_ends_at:
            raise DomainError("notice-ended", _("The public notice of this claim has ended."))
        objection = Objection(claim_id=claim.id, user_id=actor.id, reason=reason, created_at=now)
        db.session.add(objection)
        claim.status = "disputed"
        claim.first_approver_id = None  # the dispute is reviewed afresh
        claim.updated_at = now
        _record(claim, "object", actor.id, "in_notice", reason)
        db.session.flush()
    return objection


def _due(query: Select, now: datetime, village_ids: list[int] | None) -> Select:
    """Claims whose public notice ended unopposed, waiting for `post_due`."""
    query = query.where(Claim.status == "in_notice", Claim.notice_ends_at <= now)
    return query if village_ids is None else query.where(Claim.village_id.in_(village_ids))


def count_due(village_ids: list[int] | None, *, now: datetime | None = None) -> int:
    """How many claims the next `post_due` would post (or refuse over a cap), in these villages."""
    return db.session.scalar(_due(select(func.count(Claim.id)), now or utcnow(), village_ids)) or 0


def post_due(
    *, now: datetime | None = None, limit: int = 1000, village_ids: list[int] | None = None
) -> dict[str, list[Any]]:
    """Post every claim whose notice ended unopposed; safe to run from cron, and twice at once.

    Each claim posts in its own transaction under its row lock, so concurrent runs post it once and one
    failing claim does not hold back the others. A claim that would pass its monthly cap is rejected
    with that reason (the sweep must not retry it forever). Returns {posted, refused, failed}.
    """
    now = now or utcnow()
    query = _due(select(Claim.id), now, village_ids)
    due = list(db.session.scalars(query.order_by(Claim.notice_ends_at, Claim.id).limit(limit)))
    result: dict[str, list[Any]] = {"posted": [], "refused": [], "failed": []}
    for claim_id in due:
        try:
            with transaction():
                claim = _lock_claim(claim_id)
                if claim.status != "in_notice" or claim.notice_ends_at is None or claim.notice_ends_at > now:
                    continue  # another run posted it, or a neighbour objected meanwhile
                version = db.session.get_one(RuleVersion, claim.rule_version_id)
                try:
                    _post(claim, version, None, now)
                except DomainError as exc:
                    if exc.code != "monthly-cap-reached":
                        raise
                    _refuse(claim, str(exc.detail or exc.code))
                    result["refused"].append({"id": claim_id, "type": exc.code, "detail": exc.detail or ""})
                    continue
            result["posted"].append(claim_id)
        except DomainError as exc:
            result["failed"].append({"id": claim_id, "type": exc.code, "detail": exc.detail or ""})
    return result


_LONG_DIGITS = re.compile(r"\d[\d\s-]{5,}[\dXx]")


def public_text(text: str) -> str:
    """A note fit for the public board: long digit runs (phone or identity numbers) are masked."""
    return _LONG_DIGITS.sub("****", text or "")


def name_deed_doers(items: list[dict[str, Any]]) -> None:
    """Give each history row of a claim's posting (or of its reversal) the member whose deed it was."""
    wanted = {i["id"] for i in items} | {i["reverses_id"] for i in items if i.get("reverses_id")}
    if not wanted:
        return
    names = dict(
        db.session.execute(
            select(Claim.transaction_id, Member.name)
            .join(Member, Member.id == Claim.member_id)
            .where(Claim.transaction_id.in_(wanted))
        ).all()
    )
    for item in items:
        item["member_name"] = names.get(item["id"]) or names.get(item.get("reverses_id"))


def notice_board(village_code: str, *, now: datetime | None = None) -> tuple[Village, list[dict[str, Any]]]:
    """The village and its claims under public notice, soonest ending first, as the board shows them."""
    village = db.session.scalar(select(Village).where(Village.code == village_code.strip().upper()))
    if village is None:
        raise NotFound("not-found", _("No such village."))
    now = now or utcnow()
    claims = list(
        db.session.scalars(
            select(Claim)
            .where(Claim.village_id == village.id, Claim.status == "in_notice", Claim.notice_ends_at > now)
            .order_by(Claim.notice_ends_at, Claim.id)
        )
    )
    rows = []
    for row in claim_details(claims):
        ends = row["notice_ends_at"].astimezone(local_zone())
        rows.append(
            {
                "id": row["id"],
                "household_head": row["household_head"],
                # The member who did the deed: points are earned by persons, kept by households.
                "member_name": row["member_name"],
                "rule_name": row["rule_name"],
                "council": row["council"],
                "points": row["points"],
                "quantity": row["quantity"],
                "reason": public_text(row["note"]),
                "occurred_on": row["occurred_on"],
                "late_entry": row["late_entry"],
                "notice_ends_at": row["notice_ends_at"],
                "notice_ends_on": ends.date(),
                "notice_ends_local": ends.strftime("%Y-%m-%d %H:%M"),
            }
        )
    return village, rows


def attach_photo(actor: User, claim_id: int, stream: IO[bytes]) -> Claim:
    """Add or replace the evidence photo of a claim still under review; only its creator or its reviewers."""
    claim = claim_for_actor(actor, claim_id)
    if not policy.can_attach_photo(actor, claim):
        raise Forbidden(
            "not-your-claim", _("Only the person who filed the claim or a reviewer adds its photo.")
        )
    if not policy.is_reviewable(claim.status):
        raise DomainError(
            "invalid-state", _("This claim is %(status)s and can no longer be reviewed.", status=claim.status)
        )
    name, mimetype = photos.save_photo(stream)
    previous = claim.photo_name
    try:
        with transaction():
            claim = db.session.get_one(Claim, claim_id, with_for_update=True)
            claim.photo_name, claim.photo_type = name, mimetype
            claim.updated_at = utcnow()
            _record(claim, "photo", actor.id, claim.status)
    except BaseException:
        photos.delete_photo(name)
        raise
    photos.delete_photo(previous)
    return claim


def photo_for_actor(actor: User, claim_id: int) -> tuple[str, str]:
    """The stored photo of a claim the actor may see: (file name, mimetype); NotFound otherwise."""
    claim = claim_for_actor(actor, claim_id)
    if not claim.photo_name or photos.photo_path(claim.photo_name) is None:
        raise NotFound("not-found", _("This claim has no photo."))
    return claim.photo_name, claim.photo_type or photos.mimetype_of(claim.photo_name)
