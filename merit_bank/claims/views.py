"""HTML pages of claims: 申报积分 form, my claims, the review queue with bulk review, the public board."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import func, select

from .. import web
from ..auth.models import User
from ..auth.scope import visible_village_ids
from ..clock import local_today
from ..errors import DomainError
from ..extensions import db
from ..households import services as household_services
from ..households.models import Household
from ..inputs import parse_id
from ..labels import HISTORY_KIND_LABELS, claim_status_label
from ..ledger import services as ledger
from ..paging import count as count_rows
from ..paging import paginate
from ..rules import services as rule_services
from ..rules.models import Rule
from ..stars import services as star_services
from ..villages.models import Village
from . import photos, policy, services
from .models import REVIEWABLE, STATUSES, Claim
from .schemas import ClaimCreateSchema

bp = Blueprint("claims", __name__)

ACTION_LABELS = {
    "create": _l("Filed"),
    "approve": _l("Approved"),
    "reject": _l("Rejected"),
    "notice": _l("Public notice started"),
    "object": _l("Objection raised"),
    "post": _l("Credited to the household"),
    "refuse": _l("Refused: monthly cap reached"),
    "photo": _l("Evidence photo added"),
}
KIND_LABELS = HISTORY_KIND_LABELS


# --- menu and the villager's home ------------------------------------------------------------------


def nav(user: User) -> list[dict[str, str]]:
    items = []
    if policy.files_for_own_household(user):
        items = [
            {"url": url_for("claims.new_claim"), "label": _("Claim points")},
            {"url": url_for("claims.my_claims"), "label": _("My claims")},
        ]
    elif policy.is_reviewer(user):
        items = [
            {"url": url_for("claims.review"), "label": _("Review claims")},
            {"url": url_for("claims.new_claim"), "label": _("File a claim")},
        ]
    elif policy.reads_queue(user):
        items = [{"url": url_for("claims.review"), "label": _("Review claims")}]
    village = db.session.get(Village, user.village_id) if user.village_id else None
    if village is not None:
        items.append({"url": url_for("claims.board", village_code=village.code), "label": _("Notice board")})
    return items


def claims_globals() -> dict[str, Any]:
    """A villager's home page's claims panel, for every template (registered by create_app)."""

    def claims_home(household: Household) -> dict[str, Any]:
        waiting = db.session.scalar(
            select(func.count())
            .select_from(Claim)
            .where(Claim.household_id == household.id, Claim.status.in_(policy.WAITING))
        )
        return {
            "waiting": waiting or 0,
            "history": ledger.household_history(household.id, per_page=10)["items"],
        }

    return {
        "claims_home": claims_home,
        "claim_status_label": claim_status_label,
        # Not a permission, but the undecided statuses live in the policy, not in templates.
        "claim_is_waiting": policy.is_waiting,
        "claim_action_label": lambda code: str(ACTION_LABELS.get(code, code)),
        "ledger_kind_label": lambda code: str(KIND_LABELS.get(code, code)),
    }


# --- filing ----------------------------------------------------------------------------------------


def _claimable_rules(user: User, village_id: int | None) -> list[Rule]:
    query = rule_services.list_rules(
        user, active=True, village_id=village_id, positive_only=not policy.claims_deductions(user)
    )
    rules = db.session.scalars(query).all()
    today = local_today()
    return [r for r in rules if policy.may_claim_rule(user, r.points, r.council) and r.effective_on(today)]


@bp.route("/claims/new", methods=["GET", "POST"])
@web.login_required(policy.can_file)
def new_claim():
    """申报积分: a villager for their own household; staff for a household found by its card code."""
    user: User = g.user
    errors: dict[str, Any] = {}
    form = request.form if request.method == "POST" else request.args
    household = None
    if policy.files_for_own_household(user):
        household = household_services.get_household(user, user.household_id or -1)
    elif form.get("household_code"):
        try:
            household = household_services.find_by_code(user, form.get("household_code", "")[:12])
        except DomainError as exc:
            errors = web.form_errors(exc)
    village_id = household.village_id if household else user.village_id
    rules = _claimable_rules(user, village_id)
    if request.method == "POST" and household is not None and not errors:
        photo = request.files.get("photo")
        raw = {
            "household_id": household.id,
            "rule_id": web.form_int(form.get("rule_id")),
            "member_id": web.form_int(form.get("member_id")),
            "quantity": web.form_int(form.get("quantity")) or 1,
            "note": form.get("note", "")[:600] or None,
            "occurred_on": form.get("occurred_on") or None,
        }
        try:
            data = ClaimCreateSchema().load({k: v for k, v in raw.items() if v is not None})
            stream = photo.stream if photo is not None and photo.filename else None
            claim = services.create_claim(user, data, stream)
            return redirect(url_for("claims.claim_page", claim_id=claim.id, filed=1))
        except (ValidationError, DomainError) as exc:
            errors = web.form_errors(exc)
    elif request.method == "POST" and household is None and not errors:
        errors = {"household_code": [_("Enter the household's card code.")]}
    return render_template(
        "claims/new.html",
        household=household,
        rules=rules,
        form=form,
        errors=errors,
        today=local_today().isoformat(),
        finds_household_by_code=not policy.files_for_own_household(user),
    ), (422 if errors else 200)


@bp.get("/claims/mine")
@web.login_required(policy.files_for_own_household)
def my_claims():
    """The villager's household's claims, newest first, each with its state in plain words."""
    user: User = g.user
    pager = paginate(services.list_claims(user))
    return render_template("claims/mine.html", rows=services.claim_details(pager.items), pager=pager)


# --- one claim -------------------------------------------------------------------------------------


def _claim_page(claim: Claim, errors: dict[str, Any] | None = None, status: int = 200):
    user: User = g.user
    row = services.claim_details([claim])[0]
    return render_template(
        "claims/detail.html",
        row=row,
        history=services.claim_history(claim, user),
        objections=services.claim_objections(claim),
        can_review=policy.can_review(user, claim),
        may_object=policy.can_object(user, claim),
        errors=errors or {},
        filed=request.args.get("filed") == "1",
    ), status


@bp.get("/claims/<int:claim_id>")
@web.login_required()
def claim_page(claim_id: int):
    """A claim with its full history; reviewers get approve and reject buttons."""
    return _claim_page(services.claim_for_actor(g.user, claim_id))


@bp.post("/claims/<int:claim_id>/approve")
@web.login_required(policy.is_reviewer)
def approve(claim_id: int):
    try:
        services.approve_claim(g.user, claim_id, request.form.get("comment", "")[:500])
    except DomainError as exc:
        return _claim_page(services.claim_for_actor(g.user, claim_id), web.form_errors(exc), 409)
    return redirect(url_for("claims.claim_page", claim_id=claim_id))


@bp.post("/claims/<int:claim_id>/reject")
@web.login_required(policy.is_reviewer)
def reject(claim_id: int):
    try:
        services.reject_claim(g.user, claim_id, request.form.get("reason", "")[:600])
    except DomainError as exc:
        return _claim_page(services.claim_for_actor(g.user, claim_id), web.form_errors(exc), exc.status)
    return redirect(url_for("claims.claim_page", claim_id=claim_id))


@bp.route("/claims/<int:claim_id>/object", methods=["GET", "POST"])
@web.login_required()
def object_page(claim_id: int):
    """提出异议: a person of the village objects to a claim under public notice, with a reason."""
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            services.object_to_claim(g.user, claim_id, request.form.get("reason", "")[:600])
            return render_template("claims/objected.html"), 201
        except DomainError as exc:
            if exc.status == 404:
                raise
            errors = web.form_errors(exc)
    board_row = _public_row(claim_id)
    if board_row is None and not errors:
        errors = {"_": [_("This claim is not under public notice.")]}
    return render_template("claims/object.html", claim_id=claim_id, row=board_row, errors=errors), (
        409 if errors and request.method == "POST" else 200
    )


def _public_row(claim_id: int) -> dict[str, Any] | None:
    claim = db.session.get(Claim, claim_id)
    user: User = g.user
    if claim is None or not policy.can_object(user, claim):
        return None
    village = db.session.get_one(Village, claim.village_id)
    _village, rows = services.notice_board(village.code)
    return next((r for r in rows if r["id"] == claim_id), None)


@bp.get("/claims/<int:claim_id>/photo")
@web.login_required()
def photo(claim_id: int):
    """The evidence photo, only for those who may see the claim."""
    name, mimetype = services.photo_for_actor(g.user, claim_id)
    response = send_file(photos.photo_path(name), mimetype=mimetype, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- the review queue --------------------------------------------------------------------------------


@bp.route("/claims/review", methods=["GET", "POST"])
@web.login_required(policy.reads_queue)
def review():
    """The clerk's queue, filtered by council and status; tick many claims and decide them in one click."""
    user: User = g.user
    results: list[dict[str, Any]] = []
    errors: dict[str, Any] = {}
    if request.method == "POST":
        ids = [n for v in request.form.getlist("claim_ids") if (n := parse_id(v)) is not None]
        decision = request.form.get("decision", "")
        text = request.form.get("reason" if decision == "reject" else "comment", "")[:500]
        try:
            results = services.batch_review(user, ids, decision, text)
        except DomainError as exc:
            errors = web.form_errors(exc)
    councils = policy.review_councils(user)
    council = request.args.get("council") if request.args.get("council") in councils else None
    status = request.args.get("status", "review")
    statuses: Any = list(REVIEWABLE) if status == "review" else status if status in STATUSES else None
    query = services.list_claims(user, status=statuses, council=council)
    if status == "review" or status in REVIEWABLE:
        # A queue is worked from its oldest end; decided claims (history) stay newest first.
        query = query.order_by(None).order_by(Claim.created_at, Claim.id)
    pager = paginate(query)
    waiting = (
        pager.total
        if status == "review"
        else count_rows(services.list_claims(user, status=list(REVIEWABLE), council=council))
    )
    rows = services.claim_details(pager.items)
    for row in rows:
        row["can_review"] = policy.can_review(user, row["claim"])
    may_post_due = policy.can_post_due(user)
    return render_template(
        "claims/review.html",
        rows=rows,
        pager=pager,
        waiting=waiting,
        can_post_due=may_post_due,
        due=services.count_due(visible_village_ids(user)) if may_post_due else 0,
        councils=councils,
        council=council,
        status=status,
        statuses=STATUSES,
        results=results,
        ok=sum(1 for r in results if r["ok"]),
        errors=errors,
    ), (422 if errors else 200)


@bp.post("/claims/post-due")
@web.login_required(policy.can_post_due)
def post_due():
    """Run the post-due sweep now (cron normally does it)."""
    result = services.post_due(village_ids=visible_village_ids(g.user))
    return render_template("claims/post_due.html", result=result)


# --- the public notice board -------------------------------------------------------------------------


@bp.get("/board/<village_code>")
def board(village_code: str):
    """公示栏: claims under notice, public, for a phone and for printing on A4 for the notice wall."""
    village, rows = services.notice_board(village_code[:32])
    user = web.page_user()
    if user is not None:
        g.user = user  # the menu of a logged-in visitor; the page itself is the same for everyone
    may_object = user is not None and policy.objects_in_village(user, village.id)
    return render_template(
        "claims/board.html",
        village=village,
        rows=rows,
        may_object=may_object,
        printed_on=local_today(),
        star_board=star_services.board_stars(village.id),
    )
