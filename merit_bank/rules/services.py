"""Scoring rules: the rulebook in scope, and versioned edits by admins.

Rules are judged by version: an edit makes a new version and keeps the old one; a rule that was used
is retired, never deleted, so every claim and ledger entry can still name the terms it was judged under.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.exc import IntegrityError

from ..auth.models import COUNCILS, User
from ..auth.scope import visible_village_ids
from ..database import is_sqlite, transaction, utcnow
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import request_gettext as _
from ..villages.models import Village
from . import policy
from .models import UNITS, VERSIONED_FIELDS, Rule, RuleVersion

MAX_POINTS = 10_000
MAX_CAP = 1_000_000
MAX_NOTICE_DAYS = 30


# --- reading -----------------------------------------------------------------------------------------


def get_rule(rule_id: int) -> Rule:
    """The rule with this id, whoever asks (callers check scope); NotFound when absent."""
    rule = db.session.get(Rule, rule_id)
    if rule is None:
        raise NotFound("not-found", _("No such rule."))
    return rule


def visible_rules(actor: User) -> Select:
    """Rules the actor may see: deployment-wide ones and those of the villages in scope."""
    query = select(Rule)
    ids = visible_village_ids(actor)
    if ids is not None:
        query = query.where(or_(Rule.village_id.is_(None), Rule.village_id.in_(ids)))
    return query


def rule_for_actor(actor: User, rule_id: int) -> Rule:
    """The rule, if the actor may see it; NotFound otherwise (no leak of other villages' rules)."""
    rule = db.session.scalar(visible_rules(actor).where(Rule.id == rule_id))
    if rule is None:
        raise NotFound("not-found", _("No such rule."))
    return rule


def list_rules(
    actor: User,
    *,
    council: str | None = None,
    active: bool | None = None,
    village_id: int | None = None,
    positive_only: bool = False,
) -> Select:
    """Rules in scope, filtered; `village_id` keeps that village's rules and the deployment-wide ones."""
    query = visible_rules(actor)
    if council is not None:
        query = query.where(Rule.council == council)
    if active is not None:
        query = query.where(Rule.active.is_(active))
    if village_id is not None:
        query = query.where(or_(Rule.village_id.is_(None), Rule.village_id == village_id))
    if positive_only:
        query = query.where(Rule.points > 0)
    return query.order_by(Rule.council, Rule.code, Rule.id)


def rule_versions(rule: Rule) -> list[RuleVersion]:
    """Every version of the rule, oldest first."""
    return list(
        db.session.scalars(
            select(RuleVersion).where(RuleVersion.rule_id == rule.id).order_by(RuleVersion.version)
        )
    )


def current_version(rule: Rule) -> RuleVersion:
    """The version row that holds the rule's current terms."""
    for key, row in db.session.identity_map.items():
        # Often read already, with the rule (e.g. by a check-in under its event's lock).
        if key[0] is RuleVersion and row.rule_id == rule.id and row.version == rule.version:
            return row
    return db.session.scalars(
        select(RuleVersion).where(RuleVersion.rule_id == rule.id, RuleVersion.version == rule.version)
    ).one()


def ensure_usable(rule: Rule, village_id: int, day: date) -> None:
    """Refuse a claim on a rule that is another village's, retired, or not in force on `day`."""
    if rule.village_id is not None and rule.village_id != village_id:
        raise NotFound("not-found", _("No such rule."))
    if not rule.active:
        raise DomainError("rule-retired", _("This rule has been retired."))
    if not rule.effective_on(day):
        raise DomainError("rule-not-effective", _("This rule is not in force on %(day)s.", day=day))


# --- writing -----------------------------------------------------------------------------------------


def _may_manage(actor: User, village_id: int | None) -> None:
    """Admins manage their village's rules; only a deployment admin manages deployment-wide ones."""
    policy.ensure_can_manage_rule(actor, village_id)


def _validate(terms: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if terms["council"] not in COUNCILS:
        errors["council"] = [_("Unknown council.")]
    if terms["unit"] not in UNITS:
        errors["unit"] = [_("Must be each or hour.")]
    points = terms["points"]
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or abs(points) > MAX_POINTS:
        errors["points"] = [_("A non-zero whole number of at most %(n)d.", n=MAX_POINTS)]
    cap = terms.get("monthly_cap")
    if cap is not None and not 1 <= cap <= MAX_CAP:
        errors["monthly_cap"] = [_("Between 1 and %(n)d, or empty for no cap.", n=MAX_CAP)]
    if not 0 <= terms["notice_days"] <= MAX_NOTICE_DAYS:
        errors["notice_days"] = [_("Between 0 and %(n)d.", n=MAX_NOTICE_DAYS)]
    if terms["approvals_required"] not in (1, 2):
        errors["approvals_required"] = [_("Must be 1 or 2.")]
    start, end = terms.get("effective_from"), terms.get("effective_to")
    if start is not None and end is not None and end < start:
        errors["effective_to"] = [_("Must not be before effective_from.")]
    if not (terms.get("name") or "").strip():
        errors["name"] = [_("Required.")]
    if errors:
        raise ValidationFailed(detail=_("Some fields are invalid; see errors."), errors=errors)


def _ensure_code_free(code: str, village_id: int | None, rule_id: int | None = None) -> None:
    # Codes are unique among a scope's active rules, so a retired rule's code can be reused by its successor.
    query = select(Rule.id).where(Rule.code == code, Rule.active.is_(True))
    query = query.where(Rule.village_id.is_(None) if village_id is None else Rule.village_id == village_id)
    if rule_id is not None:
        query = query.where(Rule.id != rule_id)
    if db.session.scalar(query) is not None:
        raise DomainError(
            "duplicate-code", _("Another active rule already has the code %(code)s.", code=code)
        )


def _snapshot(rule: Rule, actor_id: int | None) -> RuleVersion:
    return RuleVersion(
        rule=rule,
        version=rule.version,
        created_by_id=actor_id,
        **{field: getattr(rule, field) for field in VERSIONED_FIELDS},
    )


def create_rule(actor: User, data: dict[str, Any]) -> Rule:
    """Add a rule (version 1) to a village's rulebook, or a deployment-wide one."""
    village_id = data.get("village_id", actor.village_id)
    _may_manage(actor, village_id)
    if village_id is not None and db.session.get(Village, village_id) is None:
        raise NotFound("not-found", _("No such village."))
    terms = {
        "code": data["code"].strip(),
        "name": data["name"].strip(),
        "council": data["council"],
        "points": data["points"],
        "unit": data.get("unit", "each"),
        "monthly_cap": data.get("monthly_cap"),
        "needs_review": data.get("needs_review", True),
        "notice_days": data.get("notice_days", 3),
        "approvals_required": data.get("approvals_required", 1),
        "effective_from": data.get("effective_from"),
        "effective_to": data.get("effective_to"),
    }
    _validate(terms)
    with transaction():
        _ensure_code_free(terms["code"], village_id)
        now = utcnow()
        rule = Rule(
            village_id=village_id,
            version=1,
            active=True,
            created_by_id=actor.id,
            created_at=now,
            updated_at=now,
            **terms,
        )
        db.session.add(rule)
        db.session.add(_snapshot(rule, actor.id))
        db.session.flush()
    return rule


def _lock_rule(rule_id: int) -> Rule:
    query = select(Rule).where(Rule.id == rule_id).execution_options(populate_existing=True)
    if not is_sqlite():
        query = query.with_for_update()
    rule = db.session.scalar(query)
    if rule is None:
        raise NotFound("not-found", _("No such rule."))
    return rule


def update_rule(actor: User, rule_id: int, data: dict[str, Any]) -> Rule:
    """Change a rule's terms as a new version; the old version stays as it was."""
    rule_for_actor(actor, rule_id)
    with transaction():
        rule = _lock_rule(rule_id)
        _may_manage(actor, rule.village_id)
        if not rule.active:
            raise DomainError("rule-retired", _("A retired rule cannot be changed."))
        terms = {field: getattr(rule, field) for field in VERSIONED_FIELDS}
        changes = {k: v for k, v in data.items() if k in VERSIONED_FIELDS}
        if "code" in changes:
            changes["code"] = changes["code"].strip()
        if "name" in changes:
            changes["name"] = changes["name"].strip()
        terms.update(changes)
        _validate(terms)
        if terms == {field: getattr(rule, field) for field in VERSIONED_FIELDS}:
            return rule  # nothing changed: no new version
        if terms["code"] != rule.code:
            _ensure_code_free(terms["code"], rule.village_id, rule.id)
        for field, value in terms.items():
            setattr(rule, field, value)
        rule.version += 1
        rule.updated_at = utcnow()
        db.session.add(_snapshot(rule, actor.id))
        db.session.flush()
    return rule


def retire_rule(actor: User, rule_id: int) -> Rule:
    """Stop a rule from taking new claims; claims already made keep going through review."""
    rule_for_actor(actor, rule_id)
    with transaction():
        rule = _lock_rule(rule_id)
        _may_manage(actor, rule.village_id)
        if rule.active:
            rule.active = False
            rule.retired_at = rule.updated_at = utcnow()
    return rule


def rule_is_used(rule_id: int) -> bool:
    """Whether any claim or ledger transaction names the rule."""
    from ..claims.models import Claim
    from ..ledger.models import Transaction

    return bool(
        db.session.scalar(select(exists().where(Claim.rule_id == rule_id)))
        or db.session.scalar(select(exists().where(Transaction.rule_id == rule_id)))
    )


def delete_rule(actor: User, rule_id: int) -> None:
    """Delete a rule that was never used (a typo); a used rule must be retired instead."""
    rule_for_actor(actor, rule_id)
    try:
        with transaction():
            rule = _lock_rule(rule_id)
            _may_manage(actor, rule.village_id)
            if rule_is_used(rule_id):
                raise DomainError("rule-in-use", _("This rule has been used; retire it instead."))
            db.session.delete(rule)
            db.session.flush()
    except IntegrityError as exc:
        # Something else (an event) still points at the rule.
        raise DomainError("rule-in-use", _("This rule is in use; retire it instead.")) from exc


def import_rulebook(actor: User, village_id: int) -> list[Rule]:
    """Copy the default rulebook into a village, skipping codes it already has; returns the new rules."""
    from .rulebook import DEFAULT_RULEBOOK

    _may_manage(actor, village_id)
    if db.session.get(Village, village_id) is None:
        raise NotFound("not-found", _("No such village."))
    created: list[Rule] = []
    with transaction():
        existing = set(
            db.session.scalars(select(Rule.code).where(Rule.village_id == village_id, Rule.active.is_(True)))
        )
        for entry in DEFAULT_RULEBOOK:
            if entry["code"] in existing:
                continue
            created.append(create_rule(actor, {**entry, "village_id": village_id}))
    return created
