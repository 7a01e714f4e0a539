"""Events and check-in: creating events, judging every scan by one rule, and auditing each of them.

Every way of checking in — a villager's phone reading the event code, a clerk scanning a household
card online, or a clerk's offline queue synced later — ends in `_admit`, which runs under a lock on
the event row, so online and offline scans cannot disagree and capacity and "once per member" hold
under any concurrency. The unique (event, member) constraint backs the lock up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, selectinload

from ..auth.models import User
from ..auth.scope import ensure_manages_village, visible_village_ids
from ..database import adopt, driver_rows, is_sqlite, transaction, utcnow
from ..errors import DomainError, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..households import services as household_services
from ..households.models import Household, Member
from ..i18n import request_gettext as _
from ..villages.models import Village
from . import policy, tokens
from .models import Checkin, Event, ScanLog

# An event longer than this is a typo in a date, not a river clean-up.
MAX_EVENT_DAYS = 31
# A synced offline scan may not claim to come from the future (beyond clock drift between phone and server).
MAX_CLOCK_DRIFT = timedelta(minutes=5)
MAX_BATCH = 500
AWAITING_CHECKOUT = "awaiting-checkout"
NO_POINTS = "no-points"


# --- rules and claims (the claims engineer's interface) --------------------------------------------


def _get_rule(rule_id: int):
    from ..rules import services as rules

    return rules.get_rule(rule_id)


def _claim_for_checkin(**kwargs: Any):
    from ..claims import services as claims

    return claims.create_claim_for_checkin(**kwargs)


def _backdated(event: Event) -> bool:
    """An event created with its start further in the past than the village's grace window: every
    check-in of it is a late entry (补录), whenever it is scanned."""
    from ..claims import services as claims

    return claims.is_late_entry(
        event.village_id, claims.local_date(event.starts_at), claims.local_date(event.created_at)
    )


def _claim(claim_id: int | None):
    if claim_id is None:
        return None
    from ..claims.models import Claim

    return db.session.get(Claim, claim_id)


# --- events -----------------------------------------------------------------------------------------


def _checked_rule(actor: User, rule_id: int, village_id: int):
    try:
        rule = _get_rule(rule_id)
    except NotFound:
        rule = None
    if rule is None or (rule.village_id is not None and rule.village_id != village_id):
        raise ValidationFailed(errors={"rule_id": [_("No such rule in this village.")]})
    if not rule.active:
        raise ValidationFailed(errors={"rule_id": [_("This rule is retired.")]})
    if rule.points <= 0:
        raise ValidationFailed(errors={"rule_id": [_("An event needs a rule that gives points.")]})
    policy.ensure_may_use_rule(actor, rule.council)
    return rule


def create_event(actor: User, data: dict[str, Any]) -> Event:
    """Create an event of a village (its admins and the clerks of the rule's council)."""
    village_id = data["village_id"]
    ensure_manages_village(actor, village_id)
    if db.session.get(Village, village_id) is None:
        raise NotFound("not-found", _("No such village."))
    starts_at, ends_at = data["starts_at"], data["ends_at"]
    if ends_at <= starts_at:
        raise ValidationFailed(errors={"ends_at": [_("The end must be after the start.")]})
    if ends_at - starts_at > timedelta(days=MAX_EVENT_DAYS):
        raise ValidationFailed(errors={"ends_at": [_("An event lasts at most 31 days.")]})
    rule = _checked_rule(actor, data["rule_id"], village_id)
    with transaction():
        event = Event(
            village_id=village_id,
            title=data["title"].strip(),
            rule_id=rule.id,
            starts_at=starts_at,
            ends_at=ends_at,
            location=(data.get("location") or "").strip(),
            capacity=data.get("capacity"),
            rotating=bool(data.get("rotating", False)),
            created_by=actor.id,
            # On the events clock, like the scans: whether the event is back-dated is judged against it.
            created_at=tokens.now(),
        )
        db.session.add(event)
        db.session.flush()
    return event


def visible_events(actor: User) -> Select:
    query = select(Event)
    ids = visible_village_ids(actor)
    if ids is not None:
        query = query.where(Event.village_id.in_(ids))
    return query


def list_events(actor: User, village_id: int | None = None, current: bool = False) -> Select:
    """Events in scope, newest first; `current` keeps those that have not ended."""
    query = visible_events(actor).order_by(Event.starts_at.desc(), Event.id.desc())
    if village_id is not None:
        query = query.where(Event.village_id == village_id)
    if current:
        query = query.where(Event.ends_at >= tokens.now())
    return query


# The event reads of every scan, built once: a statement built per request costs more CPU to build and to
# key for SQLAlchemy's statement cache than the database spends answering it (docs/benchmarks.md).
_EVENT = select(Event).where(Event.id == bindparam("event_id"))
_EVENT_IN_VILLAGES = _EVENT.where(Event.village_id.in_(bindparam("village_ids", expanding=True)))


def get_event(actor: User, event_id: int) -> Event:
    ids = visible_village_ids(actor)
    if ids is None:
        event = db.session.scalar(_EVENT, {"event_id": event_id})
    else:
        event = db.session.scalar(_EVENT_IN_VILLAGES, {"event_id": event_id, "village_ids": ids})
    if event is None:
        raise NotFound("not-found", _("No such event."))
    return event


def can_manage(actor: User, event: Event) -> bool:
    """The event's clerks: admins and clerks of its village."""
    return policy.can_manage(actor, event)


def managed_event(actor: User, event_id: int) -> Event:
    """An event the actor runs; others get 404 (villagers) or 403 (other staff of the village)."""
    event = get_event(actor, event_id)
    policy.ensure_manages(actor, event)
    return event


def read_event(actor: User, event_id: int) -> Event:
    """An event whose check-ins and scans the actor reads: its clerks, and supervisors of its region."""
    event = get_event(actor, event_id)
    if not policy.sees_event(actor, event):
        policy.ensure_manages(actor, event)
    return event


def current_token(event: Event) -> str:
    """The token the event's code carries right now."""
    return tokens.rotating_token(event.id) if event.rotating else tokens.static_token(event.id)


def code_for(actor: User, event_id: int) -> tuple[Event, str]:
    """The event and its current token, for the event's clerks only (a code is a way in)."""
    event = managed_event(actor, event_id)
    return event, current_token(event)


def seconds_left(event: Event) -> int | None:
    """Seconds until a rotating code changes; None for a static code."""
    if not event.rotating:
        return None
    at = tokens.now()
    return int((tokens.step_start(tokens.step_at(at) + 1) - at).total_seconds()) or tokens.STEP_SECONDS


def checkin_counts(event_ids: list[int]) -> dict[int, int]:
    if not event_ids:
        return {}
    rows = db.session.execute(
        select(Checkin.event_id, func.count())
        .where(Checkin.event_id.in_(event_ids))
        .group_by(Checkin.event_id)
    )
    return {event_id: count for event_id, count in rows}


def rule_of(event: Event):
    return _get_rule(event.rule_id)


# --- the one rule every scan is judged by ---------------------------------------------------------


@dataclass
class Result:
    """The outcome of one accepted scan: the check-in and whether this scan created it."""

    checkin: Checkin
    created: bool


def _lock_event(event_id: int) -> Event:
    query = select(Event).where(Event.id == event_id).execution_options(populate_existing=True)
    if not is_sqlite():
        # SQLite already holds the database's write lock (BEGIN IMMEDIATE); PostgreSQL locks the row.
        query = query.with_for_update()
    event = db.session.scalar(query)
    if event is None:
        raise tokens.invalid()
    return event


@dataclass
class _Locked:
    """The event, locked, with what judging a scan at it reads: the member's check-in and the rule."""

    event: Event
    found: Checkin | None
    held: tuple[Any, ...]  # the rule and its current version, kept in the session for _admit


@cache
def _event_with_checkin_and_rule() -> Select:
    """The event, the member's check-in at it, the event's rule and the rule's current version (built
    once, on first use: rules' models import later than events')."""
    from ..rules.models import Rule, RuleVersion

    return (
        select(Event, Checkin, Rule, RuleVersion)
        .outerjoin(Checkin, and_(Checkin.event_id == Event.id, Checkin.member_id == bindparam("member_id")))
        .outerjoin(Rule, Rule.id == Event.rule_id)
        .outerjoin(RuleVersion, and_(RuleVersion.rule_id == Rule.id, RuleVersion.version == Rule.version))
        .where(Event.id == bindparam("event_id"))
        .execution_options(populate_existing=True)
    )


@cache
def _event_with_checkin_and_rule_locked() -> Select:
    return _event_with_checkin_and_rule().with_for_update(of=Event)


def _lock_event_for(event_id: int, member_id: int) -> _Locked:
    """The event, the member's check-in at it and the event's rule, in one round trip; the event's row
    is locked only when the event has a capacity.

    Only the capacity needs the lock (counting the check-ins and adding one must not interleave); it is
    fixed when the event is created, and the event is already in the session (every scan reads it
    first). Once per member needs no lock: a second check-in of the member is refused by the unique
    (event, member) index and its claim by the unique source key (the second insert waits for the
    first transaction and fails when it commits), and _run then answers with the first check-in.
    The check-in read here may likewise miss one committed meanwhile.
    """
    known = db.session.get(Event, event_id)
    locks = not is_sqlite() and (known is None or known.capacity is not None)
    query = _event_with_checkin_and_rule_locked() if locks else _event_with_checkin_and_rule()
    row = db.session.execute(query, {"event_id": event_id, "member_id": member_id}).first()
    if row is None:
        raise tokens.invalid()
    return _Locked(row.Event, row.Checkin, (row.Rule, row.RuleVersion))


def _existing(event_id: int, member_id: int) -> Checkin | None:
    return db.session.scalar(
        select(Checkin)
        .where(Checkin.event_id == event_id, Checkin.member_id == member_id)
        .execution_options(populate_existing=True)
    )


def _admit(
    event: Event,
    household: Household,
    member: Member,
    *,
    at: datetime,
    scan: Scan,
    found: Checkin | None,
) -> Result:
    """Judge one scan at time `at`, record the check-in and log the scan; the single rule for online
    and offline.

    The caller has read the event (locked when it has a capacity) and the member's check-in, if any
    (see `_run`).
    """
    method, actor = scan.method, scan.actor
    if found is not None:
        # Repeated taps and re-scans are answered, not refused: the member is checked in.
        _log(scan, "already", checkin=found)
        return Result(found, created=False)
    if household.village_id != event.village_id or not household.active:
        raise DomainError("not-your-village", _("This event is for another village."), status=403)
    if at < event.starts_at:
        raise DomainError(
            "event-not-open", _("Check-in has not opened yet."), reason="not-started", status=409
        )
    if at > event.ends_at:
        raise DomainError("event-not-open", _("This event has ended."), reason="ended", status=409)
    if event.capacity is not None:
        taken = db.session.scalar(select(func.count()).where(Checkin.event_id == event.id)) or 0
        if taken >= event.capacity:
            raise DomainError("event-full", _("This event is full."), status=409)
    rule = _get_rule(event.rule_id)
    if rule is None or not rule.active:
        raise DomainError("rule-retired", _("The rule of this event was retired."), status=409)
    if not is_sqlite():
        return Result(_write_checkin(event, household, member, rule, at=at, scan=scan), created=True)
    claim_id = None
    if rule.unit != "hour":
        # The claim first, so that the check-in row is written once, with it (no UPDATE after). A second
        # check-in of the member racing this one fails on the unique index and rolls all of it back.
        claim_id = _claim_for_checkin(
            **_checkin_claim(event, household, member, rule, actor, at),
            own_race=False,  # the unique (event, member) check-in settles a race: see _run
        ).id
    checkin = Checkin(
        event_id=event.id,
        member_id=member.id,
        household_id=household.id,
        method=method,
        actor_id=actor.id,
        checked_in_at=at,
        claim_id=claim_id,
    )
    db.session.add(checkin)
    db.session.flush()
    _log(scan, "created", checkin=checkin)
    return Result(checkin, created=True)


def _checkin_claim(
    event: Event, household: Household, member: Member, rule: Any, actor: User, at: datetime
) -> dict[str, Any]:
    """The claim a check-in makes, as both write paths (SQLite's rows, PostgreSQL's statement) ask
    claims for it."""
    return {
        "household_id": household.id,
        "member_id": member.id,
        "rule_id": rule.id,
        "quantity": 1,
        "occurred_at": at,
        "actor_id": actor.id,
        "source_key": f"checkin:{event.id}:{member.id}",
        "late": _backdated(event),
        "entered_at": tokens.now(),
    }


# The check-in's writes on PostgreSQL, one round trip: its claim (when the rule counts check-ins) with the
# claim's history, the check-in and the scan's log. Then the claim's posting, which stamps its id on the
# claim in the same statement, and COMMIT: the village's ledger chain is held across two round trips.
# Run on the driver (database.driver_rows), hence psycopg's %(name)s parameters.
_WRITE_CHECKIN = """
WITH claim AS (
    INSERT INTO claims (village_id, household_id, member_id, rule_id, rule_version_id, rule_version,
        council, quantity, points, note, occurred_on, status, source, source_key, created_by_id,
        entered_by_id, late_entry, posted_at, created_at, updated_at)
    SELECT %(c_village_id)s, %(c_household_id)s, %(c_member_id)s, %(c_rule_id)s, %(c_rule_version_id)s,
        %(c_rule_version)s, %(c_council)s, %(c_quantity)s, %(c_points)s, %(c_note)s, %(c_occurred_on)s,
        %(c_status)s, %(c_source)s, %(c_source_key)s, %(c_created_by_id)s, %(c_entered_by_id)s,
        %(c_late_entry)s, %(c_posted_at)s, %(c_created_at)s, %(c_updated_at)s
    WHERE %(with_claim)s
    RETURNING id
), actions AS (
    INSERT INTO claim_actions (claim_id, action, actor_id, from_status, to_status, comment, created_at)
    SELECT claim.id, a.action, a.actor_id, a.from_status, a.to_status, a.comment, a.created_at
    FROM claim, unnest(CAST(%(a_action)s AS varchar[]), CAST(%(a_actor_id)s AS integer[]),
        CAST(%(a_from_status)s AS varchar[]), CAST(%(a_to_status)s AS varchar[]),
        CAST(%(a_comment)s AS varchar[]), CAST(%(a_created_at)s AS timestamptz[]))
        AS a(action, actor_id, from_status, to_status, comment, created_at)
), checkin AS (
    INSERT INTO event_checkins (event_id, member_id, household_id, method, actor_id, checked_in_at, claim_id,
        created_at)
    VALUES (%(event_id)s, %(member_id)s, %(household_id)s, %(method)s, %(actor_id)s, %(checked_in_at)s,
        (SELECT id FROM claim), %(created_at)s)
    RETURNING id, claim_id
), scan AS (
    INSERT INTO event_scans (event_id, token, method, household_id, member_id, outcome, detail, checkin_id,
        actor_id, device, nonce, scanned_at, created_at)
    SELECT %(event_id)s, %(s_token)s, %(method)s, %(household_id)s, %(member_id)s, 'created', '', checkin.id,
        %(actor_id)s, %(s_device)s, %(s_nonce)s, %(s_scanned_at)s, %(created_at)s
    FROM checkin
)
SELECT id, claim_id FROM checkin
"""


def _write_checkin(
    event: Event, household: Household, member: Member, rule: Any, *, at: datetime, scan: Scan
) -> Checkin:
    """PostgreSQL: the check-in, its claim and the scan's log in one statement, then the claim's posting.

    A second check-in of the member racing this one waits at the claim's (or the check-in's) unique
    index and fails there when this one commits, before it reaches the ledger; _run answers it with
    this check-in.
    """
    from ..claims import services as claims

    actor = scan.actor
    planned = None
    if rule.unit != "hour":
        planned = claims.plan_claim_for_checkin(**_checkin_claim(event, household, member, rule, actor, at))
    claim = planned.claim if planned is not None else None
    actions = planned.actions if planned is not None else []
    now = utcnow()
    params: dict[str, Any] = {
        "with_claim": claim is not None,
        **{f"c_{column}": getattr(claim, column, None) for column in _CLAIM_COLUMNS},
        **{f"a_{field}": [a[field] for a in actions] for field in _ACTION_FIELDS},
        "event_id": event.id,
        "member_id": member.id,
        "household_id": household.id,
        "method": scan.method,
        "actor_id": actor.id,
        "checked_in_at": at,
        "created_at": now,
        "s_token": scan.token[:80],
        "s_device": (scan.device or "")[:200],
        "s_nonce": scan.nonce,
        "s_scanned_at": scan.scanned_at,
    }
    ((checkin_id, claim_id),) = driver_rows(_WRITE_CHECKIN, params)
    if planned is not None:
        claims.post_planned_claim(planned, claim_id)
    checkin = Checkin(
        id=checkin_id,
        event_id=event.id,
        member_id=member.id,
        household_id=household.id,
        method=scan.method,
        actor_id=actor.id,
        checked_in_at=at,
        checked_out_at=None,
        minutes=None,
        claim_id=claim_id,
        created_at=now,
    )
    return adopt(checkin)


_CLAIM_COLUMNS = (
    "village_id", "household_id", "member_id", "rule_id", "rule_version_id", "rule_version", "council",
    "quantity", "points", "note", "occurred_on", "status", "source", "source_key", "created_by_id",
    "entered_by_id", "late_entry", "posted_at", "created_at", "updated_at",
)  # fmt: skip
_ACTION_FIELDS = ("action", "actor_id", "from_status", "to_status", "comment", "created_at")


@dataclass
class Scan:
    """What is known about one scan, for judging it and for the audit log."""

    method: str
    actor: User
    device: str = ""
    token: str = ""
    event_id: int | None = None
    household_id: int | None = None
    member_id: int | None = None
    nonce: str | None = None
    scanned_at: datetime | None = None


def _log(scan: Scan, outcome: str, detail: str = "", checkin: Checkin | None = None) -> ScanLog:
    row = ScanLog(
        event_id=scan.event_id,
        token=scan.token[:80],
        method=scan.method,
        household_id=scan.household_id,
        member_id=scan.member_id,
        outcome=outcome[:40],
        detail=(detail or "")[:300],
        checkin_id=checkin.id if checkin is not None else None,
        actor_id=scan.actor.id,
        device=(scan.device or "")[:200],
        nonce=scan.nonce,
        scanned_at=scan.scanned_at,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _log_refusal(scan: Scan, exc: DomainError) -> None:
    """Keep a refused scan; it is written in its own transaction since the scan's own rolled back."""
    if scan.event_id is not None and db.session.get(Event, scan.event_id) is None:
        scan.event_id = None  # a forged token may name an event that does not exist
    try:
        with transaction():
            _log(scan, exc.code, exc.detail or "")
    except IntegrityError:
        # The same offline scan is being synced by another request at this moment: theirs is the record
        # (transaction() has rolled ours back).
        pass


class _Replayed(Exception):
    """A synced scan whose nonce was judged before: its first answer is the answer."""

    def __init__(self, row: ScanLog) -> None:
        super().__init__(row.nonce)
        self.row = row


def _run(
    scan: Scan,
    judge: Callable[[], tuple[Household, Member, datetime]],
    context: _ScanContext | None = None,
) -> Result:
    """Judge a scan in one transaction under the event's lock and audit it, accepted or refused.

    `context`, read with the event before judging, spares the read of the member's check-in and the
    rule when the event needs no lock (see _lock_event_for)."""
    try:
        with transaction():
            household, member, at = judge()
            scan.household_id, scan.member_id = household.id, member.id
            if context is not None and context.suffices():
                locked = _Locked(context.event, context.checkins.get(member.id), held=())
            else:
                locked = _lock_event_for(scan.event_id or 0, member.id)
            event = locked.event
            if scan.nonce is not None:
                previous = _replayed(event.id, scan.nonce)
                if previous is not None:
                    raise _Replayed(previous)
            result = _admit(event, household, member, at=at, scan=scan, found=locked.found)
        return result
    except IntegrityError:
        # Only a race past the row lock (a unique constraint fired): the other request's check-in stands.
        # transaction() has rolled ours back, so what follows starts afresh.
        found = _existing(scan.event_id or 0, scan.member_id or 0)
        if found is None or scan.nonce is not None:
            raise
        with transaction():
            _log(scan, "already", checkin=found)
        return Result(found, created=False)
    except DomainError as exc:
        _log_refusal(scan, exc)
        raise


# --- villagers: the event code --------------------------------------------------------------------


def _villager_member(actor: User) -> tuple[Household, Member]:
    if not policy.checks_in_self(actor) or actor.member_id is None:
        raise Forbidden("not-a-villager", _("Only villagers check in with the event code; staff scan cards."))
    member = db.session.get(Member, actor.member_id)
    if member is None:
        raise Forbidden("not-a-villager", _("Your login is not linked to a household member."))
    return member.household, member


def validate_token(token: str, at: datetime | None = None) -> Event:
    """The event a token belongs to, if the token is genuine and (for rotating codes) fresh at `at`."""
    parsed = tokens.parse(token)
    event = db.session.get(Event, parsed.event_id)
    if event is None:
        raise tokens.invalid()
    tokens.check_fresh(parsed, rotating=event.rotating, at=at or tokens.now())
    return event


def check_in_with_token(
    actor: User, token: str, *, device: str = "", seen_at: datetime | None = None
) -> Result:
    """A villager checks in as their own member with the event code they scanned.

    `seen_at` is when the token was validated on the landing page before a login (from a signed
    cookie): the code must have been fresh then, not after the time it took to type a PIN.
    """
    scan = Scan(method="self", actor=actor, device=device, token=(token or "")[:80])

    def judge() -> tuple[Household, Member, datetime]:
        scan.event_id = tokens.parse(token).event_id
        household, member = _villager_member(actor)
        scan.household_id, scan.member_id = household.id, member.id
        validate_token(token, seen_at)
        return household, member, tokens.now()

    return _run(scan, judge)


# --- clerks: household cards, online and offline ---------------------------------------------------


def _household_for_scan(event: Event, card_token: str | None, household_code: str | None) -> Household:
    if card_token:
        held = _with_members(card_token)  # noqa: F841 - kept in the session for household_from_card
        return household_services.household_from_card(card_token)
    code = (household_code or "").strip()
    household = household_services.household_by_code(code) if code else None
    if household is None or household.village_id != event.village_id:
        raise DomainError("unknown-household", _("No household with that code in this village."), status=404)
    return household


def _with_members(card_token: str) -> Household | None:
    """Load the household a card names with its members in one query (the card is checked after)."""
    household_id = household_services.card_household_id(card_token)
    if household_id is None:
        return None
    return db.session.scalars(_HOUSEHOLD_WITH_MEMBERS, {"household_id": household_id}).unique().first()


_HOUSEHOLD_WITH_MEMBERS = (
    select(Household)
    .outerjoin(Household.members)
    .options(contains_eager(Household.members))
    .where(Household.id == bindparam("household_id"))
)


@dataclass
class _ScanContext:
    """What judging a card scan reads, in one round trip: the event (in the actor's scope), its rule and
    the rule's current version, the card's household with its members, and their check-ins at the event.
    The rows stay in the session, where household_from_card and _admit find them."""

    event: Event
    checkins: dict[int, Checkin]  # member id -> check-in at the event
    held: tuple[Any, ...]

    def suffices(self) -> bool:
        """True when no lock is needed, so that these rows stand for _lock_event_for's (its docstring
        says why only an event with a capacity is locked)."""
        return self.event.capacity is None


def _read_scan_context(actor: User, event_id: int, card_token: str) -> _ScanContext:
    """The event as get_event reads it (NotFound outside the actor's scope), with what a card scan at it
    needs; the card itself is checked after, by household_from_card."""
    params: dict[str, Any] = {
        "event_id": event_id,
        "household_id": household_services.card_household_id(card_token),
    }
    ids = visible_village_ids(actor)
    if ids is None:
        result = db.session.execute(_scan_context_query(), params)
    else:
        result = db.session.execute(_scan_context_query(scoped=True), {**params, "village_ids": ids})
    rows = result.unique().all()
    if not rows:
        raise NotFound("not-found", _("No such event."))
    first = rows[0]
    checkins = {row.Checkin.member_id: row.Checkin for row in rows if row.Checkin is not None}
    return _ScanContext(first.Event, checkins, held=(first.Rule, first.RuleVersion, first.Household))


@cache
def _scan_context_query(scoped: bool = False) -> Select:
    from ..rules.models import Rule, RuleVersion

    query = (
        select(Event, Rule, RuleVersion, Household, Checkin)
        .outerjoin(Rule, Rule.id == Event.rule_id)
        .outerjoin(RuleVersion, and_(RuleVersion.rule_id == Rule.id, RuleVersion.version == Rule.version))
        .outerjoin(Household, Household.id == bindparam("household_id"))
        .outerjoin(Household.members)
        .outerjoin(Checkin, and_(Checkin.event_id == Event.id, Checkin.member_id == Member.id))
        .options(contains_eager(Household.members))
        .where(Event.id == bindparam("event_id"))
    )
    if scoped:
        query = query.where(Event.village_id.in_(bindparam("village_ids", expanding=True)))
    return query


def _member_of(household: Household, member_id: int | None) -> Member:
    if member_id is None:
        if len(household.members) == 1:
            return household.members[0]
        raise DomainError(
            "member-required",
            _("Choose which member of the household is here."),
            status=422,
            errors={"member_id": [_("Required: this household has several members.")]},
            members=[{"id": m.id, "name": m.name} for m in household.members],
        )
    for member in household.members:
        if member.id == member_id:
            return member
    raise DomainError(
        "member-not-in-household",
        _("That person is not a member of this household."),
        status=422,
        errors={"member_id": [_("Not a member of this household.")]},
    )


def check_in_with_card(
    actor: User,
    event_id: int,
    *,
    card_token: str | None = None,
    household_code: str | None = None,
    member_id: int | None = None,
    device: str = "",
) -> Result:
    """A clerk checks in a member of the household whose card was scanned (or code typed)."""
    # PostgreSQL: one read before the transaction's writes. SQLite ends its read transaction for BEGIN
    # IMMEDIATE, which expires what was read, so it reads under the write lock instead.
    context = _read_scan_context(actor, event_id, card_token) if card_token and not is_sqlite() else None
    if context is None:
        event = managed_event(actor, event_id)
    else:
        event = context.event
        policy.ensure_manages(actor, event)
    scan = Scan(
        method="card" if card_token else "code",
        actor=actor,
        device=device,
        token=(card_token or household_code or "")[:80],
        event_id=event.id,
        member_id=member_id,
    )

    def judge() -> tuple[Household, Member, datetime]:
        if context is not None and card_token:
            household = household_services.household_from_card(card_token)  # read with the context
        else:
            household = _household_for_scan(event, card_token, household_code)
        scan.household_id = household.id
        policy.ensure_can_check_in(actor, household.id)
        return household, _member_of(household, member_id), tokens.now()

    return _run(scan, judge, context)


def _replayed(event_id: int, nonce: str) -> ScanLog | None:
    return db.session.scalar(
        select(ScanLog)
        .where(ScanLog.event_id == event_id, ScanLog.nonce == nonce)
        .execution_options(populate_existing=True)
    )


def _from_log(row: ScanLog) -> dict[str, Any]:
    checkin = db.session.get(Checkin, row.checkin_id) if row.checkin_id else None
    ok = row.outcome in ("created", "already")
    return {
        "outcome": row.outcome if ok else "refused",
        "code": None if ok else row.outcome,
        "detail": row.detail,
        "checkin": checkin,
        "replayed": True,
    }


def sync_batch(actor: User, event_id: int, scans: list[dict[str, Any]], *, device: str = "") -> list[dict]:
    """Judge a clerk's offline queue; each scan on its own, at its own scan time, once per nonce.

    A nonce seen before is answered from the audit log (first write wins), so a batch sent twice
    posts nothing twice. One bad scan never fails the others.
    """
    event = managed_event(actor, event_id)
    if len(scans) > MAX_BATCH:
        raise ValidationFailed(errors={"scans": [_("At most 500 scans per batch.")]})
    results = []
    for item in scans:
        nonce = item["nonce"]
        previous = _replayed(event.id, nonce)
        if previous is not None:
            results.append({"nonce": nonce, **_from_log(previous)})
            continue
        scanned_at = item["scanned_at"]
        card_token, household_code, member_id = (
            item.get("card_token"),
            item.get("household_code"),
            item.get("member_id"),
        )
        scan = Scan(
            method="card" if card_token else "code",
            actor=actor,
            device=device,
            token=(card_token or household_code or "")[:80],
            event_id=event.id,
            member_id=member_id,
            nonce=nonce,
            scanned_at=scanned_at,
        )

        def judge(
            scan: Scan = scan,
            card_token: str | None = card_token,
            household_code: str | None = household_code,
            member_id: int | None = member_id,
            scanned_at: datetime = scanned_at,
        ) -> tuple[Household, Member, datetime]:
            if not card_token and not household_code:
                raise ValidationFailed(errors={"card_token": [_("Send a card token or a household code.")]})
            if scanned_at > tokens.now() + MAX_CLOCK_DRIFT:
                raise DomainError(
                    "scan-time-in-future", _("The scan time is in the future; check the phone's clock.")
                )
            household = _household_for_scan(event, card_token, household_code)
            scan.household_id = household.id
            # Refused per scan, recorded like any other refused scan; the rest of the batch goes on.
            policy.ensure_can_check_in(actor, household.id)
            return household, _member_of(household, member_id), scanned_at

        try:
            result = _run(scan, judge)
        except _Replayed as replay:
            results.append({"nonce": nonce, **_from_log(replay.row)})
            continue
        except DomainError as exc:
            previous = _replayed(event.id, nonce)
            if previous is not None and previous.outcome != exc.code:
                # Another sync of this very scan was recorded first; its answer is the answer.
                results.append({"nonce": nonce, **_from_log(previous)})
                continue
            results.append(
                {
                    "nonce": nonce,
                    "outcome": "refused",
                    "code": exc.code,
                    "detail": exc.detail or "",
                    "checkin": None,
                    "replayed": False,
                }
            )
            continue
        except IntegrityError:
            # The nonce's audit row was written by a concurrent sync of the same batch (and _run's
            # transaction was rolled back).
            previous = _replayed(event.id, nonce)
            if previous is None:
                raise
            results.append({"nonce": nonce, **_from_log(previous)})
            continue
        results.append(
            {
                "nonce": nonce,
                "outcome": "created" if result.created else "already",
                "code": None,
                "detail": "",
                "checkin": result.checkin,
                "replayed": False,
            }
        )
    return results


# --- check-out for hour-based rules ---------------------------------------------------------------


def _hours(minutes: int) -> int:
    """Whole hours, rounded half up: a claim's quantity is an integer."""
    return (minutes + 30) // 60


def _check_out(event_id: int, checkin_id: int, actor: User) -> Checkin:
    event = _lock_event(event_id)
    checkin = db.session.scalar(
        select(Checkin)
        .where(Checkin.id == checkin_id, Checkin.event_id == event.id)
        .execution_options(populate_existing=True)
    )
    if checkin is None:
        raise NotFound("not-found", _("No such check-in."))
    # The check-out decides the hours, so a clerk's check-out of his own household is an award like a scan.
    policy.ensure_can_check_in(actor, checkin.household_id)
    if checkin.checked_out_at is not None:
        return checkin
    rule = _get_rule(event.rule_id)
    if rule is None or rule.unit != "hour":
        raise DomainError("not-hour-based", _("This event's rule does not count hours."), status=409)
    at = min(tokens.now(), event.ends_at)
    start = max(checkin.checked_in_at, event.starts_at)
    minutes = max(0, int((at - start).total_seconds() // 60))
    checkin.checked_out_at = max(at, checkin.checked_in_at)
    checkin.minutes = minutes
    hours = _hours(minutes)
    if hours > 0:
        claim = _claim_for_checkin(
            household_id=checkin.household_id,
            member_id=checkin.member_id,
            rule_id=rule.id,
            quantity=hours,
            occurred_at=checkin.checked_in_at,
            actor_id=actor.id,
            source_key=f"checkin:{event.id}:{checkin.member_id}",
            late=_backdated(event),
            entered_at=tokens.now(),
        )
        checkin.claim_id = claim.id
    db.session.flush()
    return checkin


def check_out(actor: User, event_id: int, checkin_id: int) -> Checkin:
    """End a member's attendance; the hours present become a claim on the event's hour-based rule."""
    event = managed_event(actor, event_id)
    with transaction():
        return _check_out(event.id, checkin_id, actor)


def check_out_with_token(actor: User, token: str) -> Checkin:
    """A villager checks out by scanning the event's code again as they leave."""
    _household, member = _villager_member(actor)
    event = validate_token(token)
    found = _existing(event.id, member.id)
    if found is None:
        raise DomainError("not-checked-in", _("You have not checked in to this event."), status=409)
    with transaction():
        return _check_out(event.id, found.id, actor)


# --- reading ----------------------------------------------------------------------------------------


def checkin_views(checkins: list[Checkin]) -> list[dict[str, Any]]:
    """Many check-ins at once: their claims are loaded in one query first."""
    from ..claims.models import Claim

    ids = [c.claim_id for c in checkins if c.claim_id is not None]
    if ids:
        db.session.scalars(select(Claim).where(Claim.id.in_(ids))).all()  # fills the identity map
    return [checkin_view(c) for c in checkins]


def checkin_view(checkin: Checkin) -> dict[str, Any]:
    """A check-in as the API and pages show it, with its claim's status and points."""
    claim = _claim(checkin.claim_id)
    late = claim is not None and claim.late_entry
    if claim is not None:
        status, points = claim.status, claim.points
    else:
        status, points = (NO_POINTS if checkin.checked_out_at is not None else AWAITING_CHECKOUT), None
    return {
        "id": checkin.id,
        "event_id": checkin.event_id,
        "member_id": checkin.member_id,
        "member_name": checkin.member.name,
        "household_id": checkin.household_id,
        "household_code": checkin.household.code,
        "claim_id": checkin.claim_id,
        "status": status,
        "points": points,
        "late_entry": late,
        "method": checkin.method,
        "checked_in_at": checkin.checked_in_at,
        "checked_out_at": checkin.checked_out_at,
        "minutes": checkin.minutes,
    }


def list_checkins(actor: User, event_id: int, since_id: int | None = None) -> Select:
    """An event's check-ins, oldest first (its clerks); `since_id` gives only newer ones."""
    event = read_event(actor, event_id)
    query = (
        select(Checkin)
        .where(Checkin.event_id == event.id)
        .options(selectinload(Checkin.member), selectinload(Checkin.household))
        .order_by(Checkin.id)
    )
    if since_id:
        query = query.where(Checkin.id > since_id)
    return query


def household_checkins(household_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """A household's latest check-ins with their events' titles, for the villager's home page."""
    rows = db.session.execute(
        select(Checkin, Event.title)
        .join(Event, Event.id == Checkin.event_id)
        .where(Checkin.household_id == household_id)
        .order_by(Checkin.id.desc())
        .limit(limit)
    ).all()
    views = checkin_views([checkin for checkin, _title in rows])
    for view, (_checkin, title) in zip(views, rows, strict=True):
        view["event_title"] = title
    return views


def my_checkin(actor: User, event: Event) -> Checkin | None:
    """The villager's own check-in at an event, if any."""
    if not policy.checks_in_self(actor) or actor.member_id is None:
        return None
    return _existing(event.id, actor.member_id)


def list_scans(actor: User, event_id: int, household_id: int | None = None) -> Select:
    """Every scan at an event, newest first, refused ones included (its clerks); or one household's."""
    event = read_event(actor, event_id)
    query = select(ScanLog).where(ScanLog.event_id == event.id).order_by(ScanLog.id.desc())
    if household_id is not None:
        query = query.where(ScanLog.household_id == household_id)
    return query


def scan_views(rows: list[ScanLog]) -> list[dict[str, Any]]:
    """Scans with the names a clerk reads (member, household code), loaded in two queries."""
    members = {
        m.id: m
        for m in db.session.scalars(
            select(Member).where(Member.id.in_([r.member_id for r in rows if r.member_id]))
        )
    }
    households = {
        h.id: h
        for h in db.session.scalars(
            select(Household).where(Household.id.in_([r.household_id for r in rows if r.household_id]))
        )
    }
    views = []
    for row in rows:
        member = members.get(row.member_id) if row.member_id else None
        household = households.get(row.household_id) if row.household_id else None
        views.append(
            {
                "id": row.id,
                "event_id": row.event_id,
                "method": row.method,
                "household_id": row.household_id,
                "household_code": household.code if household else None,
                "member_id": row.member_id,
                "member_name": member.name if member else None,
                "outcome": row.outcome,
                "detail": row.detail,
                "checkin_id": row.checkin_id,
                "actor_id": row.actor_id,
                "device": row.device,
                "nonce": row.nonce,
                "scanned_at": row.scanned_at,
                "created_at": row.created_at,
            }
        )
    return views


def roster(actor: User, event_id: int) -> list[dict[str, Any]]:
    """The village's households and members, for the scan page to choose a member while offline."""
    event = managed_event(actor, event_id)
    households = db.session.scalars(
        select(Household)
        .where(Household.village_id == event.village_id, Household.active.is_(True))
        .options(selectinload(Household.members))
        .order_by(Household.id)
    ).all()
    return [
        {
            "id": h.id,
            "code": h.code,
            "head_name": h.head_name,
            "members": [{"id": m.id, "name": m.name} for m in h.members],
        }
        for h in households
    ]
