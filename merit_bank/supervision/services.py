"""Supervision services: compute the flags of the supervised villages for a period, keep them, check them.

A flag's identity is its key (code, village, period, subject): computing the same finding again updates
the same row (its figures and evidence), so its id and a supervisor's check with its note survive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..auth.models import User
from ..claims.models import Claim
from ..clock import local_zone
from ..database import is_sqlite, transaction, utcnow
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..households.models import Household
from ..labels import CLAIM_STATUS_LABELS, council_label
from ..ledger.models import Account, Entry, Transaction
from ..reports.periods import Period
from ..reports.services import analytic_reads
from ..shop.models import Redemption, Shop
from ..villages.models import Region, Village
from . import detectors, policy
from .models import Flag
from .thresholds import Thresholds

MAX_NOTE = 1000
_CHUNK = 500


def thresholds() -> Thresholds:
    return Thresholds.from_config(current_app.config)


def villages_in_scope(actor: User, village_id: int | None = None) -> list[Village]:
    """The villages a supervision query covers: the actor's, narrowed to one if asked (else 404)."""
    ids = policy.supervised_village_ids(actor)
    query = select(Village).order_by(Village.name, Village.id)
    if ids is not None:
        query = query.where(Village.id.in_(ids))
    if village_id is not None:
        policy.ensure_supervises_village(actor, village_id)
        query = query.where(Village.id == village_id)
    villages = list(db.session.scalars(query))
    if village_id is not None and not villages:
        raise NotFound("not-found", _l("No such village."))
    return villages


def regions_in_scope(actor: User) -> list[Region]:
    """The regions the actor may pick on the flags page: every region, or the supervisor's and below."""
    query = select(Region).order_by(Region.kind, Region.name, Region.id)
    if not policy.supervises(actor):
        return []
    if policy.supervised_village_ids(actor) is not None:
        query = query.where(or_(Region.id == actor.region_id, Region.parent_id == actor.region_id))
    return list(db.session.scalars(query))


def village_name(village_id: int) -> str:
    village = db.session.get(Village, village_id)
    return village.name if village else ""


def query_villages(actor: User, region_id: int | None, village_id: int | None) -> list[Village]:
    """The villages of a flags query: one village, or a region's, or every village the actor supervises."""
    if region_id is None:
        return villages_in_scope(actor, village_id)
    ids = policy.ensure_supervises_region(actor, region_id)
    if village_id is not None:
        if village_id not in ids:
            raise NotFound("not-found", _l("No such village."))
        ids = [village_id]
    if not ids:
        return []
    return list(
        db.session.scalars(select(Village).where(Village.id.in_(ids)).order_by(Village.name, Village.id))
    )


def compute_flags(actor: User, village_ids: Sequence[int], period: Period) -> list[dict[str, Any]]:
    """Compute, keep and return the flags of some villages (already in the actor's scope) for a period."""
    policy.ensure_supervises(actor)
    analytic_reads()
    findings = detectors.run_all(list(village_ids), period, thresholds())
    with transaction():
        flags = _upsert(findings)
    return describe(flags)


def _upsert(findings: list[detectors.Finding]) -> list[Flag]:
    if not findings:
        return []
    now = utcnow()
    by_key = {f.key: f for f in findings}
    keys = list(by_key)
    rows = [
        {
            "key": f.key,
            "code": f.code,
            "village_id": f.village_id,
            "period": f.period,
            "subject": f.subject,
            "figures": f.figures,
            "evidence": f.evidence,
            "status": "open",
            "note": "",
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for f in findings
    ]
    insert = sqlite_insert if is_sqlite() else pg_insert
    for start in range(0, len(rows), _CHUNK):
        # Two supervisors computing the same finding at once: the second insert gives way to the first.
        db.session.execute(
            insert(Flag).values(rows[start : start + _CHUNK]).on_conflict_do_nothing(index_elements=["key"])
        )
    flags: list[Flag] = []
    for start in range(0, len(keys), _CHUNK):
        flags += db.session.scalars(select(Flag).where(Flag.key.in_(keys[start : start + _CHUNK])))
    for flag in flags:
        finding = by_key[flag.key]
        if flag.figures != finding.figures or flag.evidence != finding.evidence:
            seen = {(e["kind"], e["id"]) for e in flag.evidence or []}
            if flag.status == "checked" and any((e["kind"], e["id"]) not in seen for e in finding.evidence):
                # A check covers the evidence it looked at: new evidence opens the flag again (the earlier
                # note, checker and time stay, so the reader sees what was already looked at).
                flag.status = "open"
            flag.figures = finding.figures
            flag.evidence = finding.evidence
            flag.last_seen_at = now
    order = {key: n for n, key in enumerate(keys)}
    flags.sort(key=lambda f: order[f.key])
    db.session.flush()
    return flags


def get_flag(actor: User, flag_id: int) -> Flag:
    """One kept flag, if the actor supervises its village (else 404)."""
    policy.ensure_supervises(actor)
    flag = db.session.get(Flag, flag_id)
    if flag is None or not policy.supervises_village(actor, flag.village_id):
        raise NotFound("not-found", _l("No such flag."))
    return flag


def check_flag(actor: User, flag_id: int, note: str) -> Flag:
    """Mark a flag checked, with the supervisor's note of what they found; kept with who and when.

    Checking again replaces the note (the latest look is the one that counts) and records the new checker.
    """
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(detail=_("A note is required."), errors={"note": [_("Required.")]})
    if len(note) > MAX_NOTE:
        raise ValidationFailed(errors={"note": [_("At most %(n)d characters.", n=MAX_NOTE)]})
    get_flag(actor, flag_id)
    if not policy.checks_flags(actor):
        raise NotFound("not-found", _l("No such flag."))
    with transaction():
        flag = db.session.get_one(Flag, flag_id)
        flag.status = "checked"
        flag.note = note
        flag.checked_by_id = actor.id
        flag.checked_at = utcnow()
        db.session.flush()
    return flag


# --- reading flags -----------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def reason(flag: Flag, names: dict[str, dict[int, str]]) -> str:
    """Why the flag was raised, with its figures, in the reader's language."""
    f = flag.figures or {}
    users = names.get("user", {})
    households = names.get("household", {})

    def user(key: str = "user_id") -> str:
        uid = f.get(key)
        return users.get(uid, f"#{uid}") if uid is not None else _("(unknown)")

    def household(key: str = "household_id") -> str:
        hid = f.get(key)
        return households.get(hid, f"#{hid}")

    code = flag.code
    if code == "staff_share":
        return _(
            "The households of the village's staff (%(staff)d of %(households)d households, %(share_h)s) "
            "received %(staff_points)d of the village's %(points)d points (%(share_p)s).",
            staff=f["staff_households"],
            households=f["households"],
            share_h=_pct(f["share_households"]),
            staff_points=f["staff_points"],
            points=f["points"],
            share_p=_pct(f["share_points"]),
        )
    if code == "staff_colleague_approved":
        approvers = "、".join(users.get(u, f"#{u}") for u in f.get("approver_ids", []))
        return _(
            "The household of staff member %(staff)s (%(household)s) received %(n)d postings (%(points)d "
            "points) approved by colleagues: %(approvers)s.",
            staff=user("staff_user_id"),
            household=household(),
            n=f["postings"],
            points=f["points"],
            approvers=approvers,
        )
    if code == "reciprocal_approvals":
        return _(
            "%(a)s approved %(ab)d of the %(b_claims)d approved claims of %(b)s's household, and %(b)s "
            "approved %(ba)d of the %(a_claims)d of %(a)s's: they approve each other's.",
            a=user("user_a"),
            b=user("user_b"),
            ab=f["a_for_b"],
            b_claims=f["b_claims"],
            ba=f["b_for_a"],
            a_claims=f["a_claims"],
        )
    if code == "approval_fast":
        return _(
            "%(user)s approved %(fast)d of %(total)d claims less than %(seconds)d seconds after they "
            "were filed.",
            user=user(),
            fast=f["fast"],
            total=f["approvals"],
            seconds=f["seconds"],
        )
    if code == "approval_bulk":
        return _(
            "%(user)s approved %(total)d claims in %(windows)d bursts of %(minutes)d minutes "
            "(at most %(largest)d in one).",
            user=user(),
            total=f["approvals"],
            windows=f["windows"],
            minutes=f["minutes"],
            largest=f["largest"],
        )
    if code == "approval_night":
        return _(
            "%(user)s approved %(night)d of %(total)d claims at night (%(start)d:00–%(end)d:00 local time).",
            user=user(),
            night=f["night"],
            total=f["approvals"],
            start=f["from_hour"],
            end=f["to_hour"],
        )
    if code == "approval_dominant":
        return _(
            "%(user)s approved %(n)d of the %(total)d claims (%(share)s) of the %(council)s, although "
            "%(others)d other reviewers could.",
            user=user(),
            n=f["approved"],
            total=f["claims"],
            share=_pct(f["share"]),
            council=council_label(f["council"]),
            others=f["other_reviewers"],
        )
    if code == "late_entries":
        return _(
            "%(user)s entered %(n)d late entries (补录) in %(month)s.",
            user=user(),
            n=f["count"],
            month=f["month"],
        )
    if code == "adjustments":
        return _(
            "%(user)s made %(n)d adjustments moving %(points)d points in %(month)s.",
            user=user(),
            n=f["count"],
            points=f["points"],
            month=f["month"],
        )
    if code == "voids_by_person":
        return _(
            "%(user)s voided %(n)d redemptions in %(month)s, against %(made)d they made (%(rate)s).",
            user=user(),
            n=f["voids"],
            month=f["month"],
            made=f["redemptions"],
            rate=_pct(f["rate"]),
        )
    if code == "voids_soon":
        return _(
            "%(user)s voided %(n)d redemptions within %(minutes)d minutes of handing the goods out "
            "in %(month)s.",
            user=user(),
            n=f["soon"],
            minutes=f["minutes"],
            month=f["month"],
        )
    if code == "household_jump":
        return _(
            "The household %(household)s earned %(points)d points in %(month)s; the village's median was "
            "%(median)s among %(n)d households that earned, and the bar %(bar)s.",
            household=household(),
            points=f["points"],
            month=f["month"],
            median=f["median"],
            n=f["households"],
            bar=f["bar"],
        )
    return code


CODE_LABELS = {
    "staff_share": _l("Points to staff households"),
    "staff_colleague_approved": _l("Staff household, approved by a colleague"),
    "reciprocal_approvals": _l("Reciprocal approvals"),
    "approval_fast": _l("Approvals in seconds"),
    "approval_bulk": _l("Approvals in bulk"),
    "approval_night": _l("Approvals at night"),
    "approval_dominant": _l("One reviewer for most of a council"),
    "late_entries": _l("Late entries"),
    "adjustments": _l("Adjustments"),
    "voids_by_person": _l("Voids"),
    "voids_soon": _l("Voids soon after redemption"),
    "household_jump": _l("Household far above its village"),
}


def _names(flags: Sequence[Flag]) -> dict[str, dict[int, str]]:
    """Display names of the users and households the flags mention (figures and evidence), in two reads."""
    user_ids: set[int] = set()
    household_ids: set[int] = set()
    for flag in flags:
        for item in flag.evidence or []:
            if item["kind"] == "user":
                user_ids.add(item["id"])
            elif item["kind"] == "household":
                household_ids.add(item["id"])
        figures = flag.figures or {}
        for key in ("user_id", "user_a", "user_b", "staff_user_id"):
            if isinstance(figures.get(key), int):
                user_ids.add(figures[key])
        user_ids.update(u for u in figures.get("approver_ids", []) if isinstance(u, int))
        if isinstance(figures.get("household_id"), int):
            household_ids.add(figures["household_id"])
    users = {}
    if user_ids:
        for uid, name, username in db.session.execute(
            select(User.id, User.display_name, User.username).where(User.id.in_(user_ids))
        ):
            users[uid] = name or username
    households = {}
    if household_ids:
        for hid, head, code in db.session.execute(
            select(Household.id, Household.head_name, Household.code).where(Household.id.in_(household_ids))
        ):
            households[hid] = f"{head}（{code}）"
    return {"user": users, "household": households}


def describe(flags: Sequence[Flag]) -> list[dict[str, Any]]:
    names = _names(flags)
    checkers = names["user"]
    missing = {f.checked_by_id for f in flags if f.checked_by_id and f.checked_by_id not in checkers}
    if missing:
        for uid, name, username in db.session.execute(
            select(User.id, User.display_name, User.username).where(User.id.in_(missing))
        ):
            checkers[uid] = name or username
    return [
        {
            "id": flag.id,
            "code": flag.code,
            "title": str(CODE_LABELS.get(flag.code, flag.code)),
            "village_id": flag.village_id,
            "period": flag.period,
            "subject": flag.subject,
            "reason": reason(flag, names),
            "figures": flag.figures,
            "evidence": [{"kind": e["kind"], "id": e["id"]} for e in flag.evidence or []],
            "status": flag.status,
            "note": flag.note or None,
            "checked_by": (
                {"id": flag.checked_by_id, "name": checkers.get(flag.checked_by_id, "")}
                if flag.checked_by_id
                else None
            ),
            "checked_at": flag.checked_at.isoformat() if flag.checked_at else None,
        }
        for flag in flags
    ]


TRANSACTION_KIND_LABELS = {
    "award": _l("Award"),
    "deduction": _l("Deduction"),
    "redemption": _l("Redemption"),
    "reversal": _l("Reversal"),
    "adjustment": _l("Adjustment"),
}


def local_time(moment: Any) -> str:
    return moment.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def evidence_details(flag: Flag) -> list[dict[str, Any]]:
    """Each evidence item with a line saying what it is, read in one query per kind."""
    by_kind: dict[str, list[int]] = {}
    for item in flag.evidence or []:
        by_kind.setdefault(item["kind"], []).append(item["id"])
    labels: dict[tuple[str, int], str] = {}
    names = _names([flag])
    for uid, name in names["user"].items():
        labels[("user", uid)] = name
    for hid, name in names["household"].items():
        labels[("household", hid)] = name
    if by_kind.get("transaction"):
        rows = db.session.execute(
            select(Transaction.id, Transaction.kind, Transaction.memo, Transaction.created_at).where(
                Transaction.id.in_(by_kind["transaction"])
            )
        )
        for tid, kind, memo, at in rows:
            kind_label = TRANSACTION_KIND_LABELS.get(kind, kind)
            labels[("transaction", tid)] = f"{local_time(at)} · {kind_label} · {memo}"
    if by_kind.get("claim"):
        rows = db.session.execute(
            select(Claim.id, Claim.council, Claim.points, Claim.status, Claim.created_at).where(
                Claim.id.in_(by_kind["claim"])
            )
        )
        for cid, council, points, status, at in rows:
            status_label = CLAIM_STATUS_LABELS.get(status, status)
            labels[("claim", cid)] = (
                f"{local_time(at)} · {council_label(council)} · {points} · {status_label}"
            )
    if by_kind.get("redemption"):
        rows = db.session.execute(
            select(Redemption.id, Redemption.shop_id, Redemption.total_points, Redemption.created_at).where(
                Redemption.id.in_(by_kind["redemption"])
            )
        )
        for rid, shop_id, points, at in rows:
            labels[("redemption", rid)] = f"{shop_id:03d}-{rid:07d} · {local_time(at)} · {points}"
    return [
        {"kind": item["kind"], "id": item["id"], "label": labels.get((item["kind"], item["id"]), "")}
        for item in flag.evidence or []
    ]


def transaction_details(actor: User, transaction_id: int) -> dict[str, Any]:
    """One ledger transaction, its legs named, and the claim that posted it: for a supervisor's evidence."""
    policy.ensure_supervises(actor)
    tx = db.session.get(Transaction, transaction_id)
    if tx is None or not policy.supervises_village(actor, tx.village_id):
        raise NotFound("not-found", _l("No such transaction."))
    legs = db.session.execute(
        select(
            Entry.amount,
            Entry.balance_after,
            Account.kind,
            Account.household_id,
            Account.shop_id,
            Account.council,
        )
        .join(Account, Account.id == Entry.account_id)
        .where(Entry.transaction_id == tx.id)
        .order_by(Entry.id)
    ).all()
    household_ids = [leg.household_id for leg in legs if leg.household_id]
    heads = dict(
        db.session.execute(
            select(Household.id, Household.head_name).where(Household.id.in_(household_ids or [0]))
        ).all()
    )
    shop_ids = [leg.shop_id for leg in legs if leg.shop_id]
    shops = dict(db.session.execute(select(Shop.id, Shop.name).where(Shop.id.in_(shop_ids or [0]))).all())
    entries = []
    for leg in legs:
        if leg.kind == "household":
            account = _("Household %(name)s", name=heads.get(leg.household_id, f"#{leg.household_id}"))
        elif leg.kind == "shop":
            account = _("Shop %(name)s", name=shops.get(leg.shop_id, f"#{leg.shop_id}"))
        elif leg.kind == "issuing":
            account = _("Issued by the %(council)s", council=council_label(leg.council or ""))
        else:
            account = _("Suspense (corrections)")
        entries.append(
            {"account": account, "amount": int(leg.amount), "balance_after": int(leg.balance_after)}
        )
    claim_id = db.session.scalar(select(Claim.id).where(Claim.transaction_id == tx.id))
    actor_name = None
    if tx.actor_id is not None:
        user = db.session.get(User, tx.actor_id)
        actor_name = (user.display_name or user.username) if user else f"#{tx.actor_id}"
    village = db.session.get(Village, tx.village_id)
    return {
        "id": tx.id,
        "village": village.name if village else "",
        "village_id": tx.village_id,
        "seq": tx.seq,
        "kind": tx.kind,
        "kind_label": str(TRANSACTION_KIND_LABELS.get(tx.kind, tx.kind)),
        "memo": tx.memo,
        "created_at": local_time(tx.created_at),
        "actor": actor_name,
        "reverses_id": tx.reverses_id,
        "claim_id": claim_id,
        "hash": tx.hash,
        "entries": entries,
    }
