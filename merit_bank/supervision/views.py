"""Pages of supervision: the flags of the supervised villages, one flag with its evidence, a transaction."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from .. import web
from ..auth.models import User
from ..auth.read_only import open_to_read_only
from ..errors import DomainError
from ..inputs import parse_id
from ..reports.periods import parse_period
from . import policy, services

bp = Blueprint("supervision", __name__, url_prefix="/supervision")

# Where each kind of evidence opens (None: shown by name only).
EVIDENCE_ENDPOINTS = {
    "transaction": ("supervision.transaction", "transaction_id"),
    "claim": ("claims.claim_page", "claim_id"),
    "redemption": ("shop.receipt", "redemption_id"),
}
EVIDENCE_LABELS = {
    "transaction": _l("Transaction"),
    "claim": _l("Claim"),
    "redemption": _l("Redemption"),
    "user": _l("Person"),
    "household": _l("Household"),
}


def nav(user: User) -> list[dict[str, str]]:
    if not policy.supervises(user):
        return []
    return [{"url": url_for("supervision.flags"), "label": str(_l("Supervision"))}]


@bp.get("/")
@web.login_required(policy.supervises)
def flags():
    """The flags of the supervised villages (or one) for a period, grouped by village."""
    region_id = parse_id(request.args.get("region_id"))
    village_id = parse_id(request.args.get("village_id"))
    period = parse_period(
        request.args.get("from") or None,
        request.args.get("to") or None,
        request.args.get("month") or None,
        request.args.get("year") or None,
    )
    villages = services.query_villages(g.user, region_id, None)
    chosen = services.query_villages(g.user, region_id, village_id) if village_id else villages
    items = services.compute_flags(g.user, [v.id for v in chosen], period)
    by_village: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        by_village[item["village_id"]].append(item)
    groups = [(v, by_village[v.id]) for v in chosen if by_village.get(v.id)]
    return render_template(
        "supervision/flags.html",
        villages=villages,
        village_id=village_id,
        regions=services.regions_in_scope(g.user),
        region_id=region_id,
        period=period,
        groups=groups,
        total=len(items),
        open_count=sum(1 for i in items if i["status"] == "open"),
    )


def _flag_page(flag_id: int, errors: dict[str, list[str]] | None = None, status: int = 200):
    flag = services.get_flag(g.user, flag_id)
    item = services.describe([flag])[0]
    evidence = []
    for row in services.evidence_details(flag):
        target = EVIDENCE_ENDPOINTS.get(row["kind"])
        evidence.append(
            {
                **row,
                "kind_label": str(EVIDENCE_LABELS.get(row["kind"], row["kind"])),
                "url": url_for(target[0], **{target[1]: row["id"]}) if target else None,
            }
        )
    return render_template(
        "supervision/flag.html",
        flag=item,
        evidence=evidence,
        village=services.village_name(flag.village_id),
        may_check=policy.checks_flags(g.user),
        errors=errors or {},
    ), status


@bp.get("/flags/<int:flag_id>")
@web.login_required(policy.supervises)
def flag(flag_id: int):
    """One flag: why it was raised, its evidence (each opening to its page), and its check."""
    return _flag_page(flag_id)


@bp.post("/flags/<int:flag_id>/check")
@open_to_read_only
@web.login_required(policy.checks_flags)
def check(flag_id: int):
    try:
        services.check_flag(g.user, flag_id, request.form.get("note", "")[:2000])
    except DomainError as exc:
        if exc.status == 404:
            raise
        return _flag_page(flag_id, web.form_errors(exc), exc.status)
    return redirect(url_for("supervision.flag", flag_id=flag_id))


@bp.get("/transactions/<int:transaction_id>")
@web.login_required(policy.supervises)
def transaction(transaction_id: int):
    """One ledger transaction with its legs, read-only, for the evidence of a flag."""
    return render_template(
        "supervision/transaction.html", tx=services.transaction_details(g.user, transaction_id)
    )
