"""HTML pages of the rulebook: list, add, edit (a new version), retire, start from the default rulebook."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from .. import web
from ..auth.models import COUNCILS, User
from ..errors import DomainError
from ..extensions import db
from ..villages import services as village_services
from . import policy, services
from .models import UNITS
from .schemas import RuleCreateSchema, RulePatchSchema

bp = Blueprint("rules", __name__, url_prefix="/rules")


def _terms(form) -> dict[str, Any]:
    """The rule's terms from the form, as the API schema expects them (checkboxes become booleans)."""
    raw: dict[str, Any] = {
        "code": form.get("code", "").strip(),
        "name": form.get("name", "").strip(),
        "council": form.get("council", ""),
        "points": web.form_int(form.get("points")),
        "unit": form.get("unit", "each"),
        "monthly_cap": web.form_int(form.get("monthly_cap")),
        "needs_review": form.get("needs_review") == "1",
        "notice_days": web.form_int(form.get("notice_days")) if form.get("notice_days", "").strip() else 0,
        "approvals_required": web.form_int(form.get("approvals_required")) or 1,
        "effective_from": form.get("effective_from") or None,
        "effective_to": form.get("effective_to") or None,
    }
    return raw


def nav(user: User) -> list[dict[str, str]]:
    if policy.reads_rulebook(user):
        return [{"url": url_for("rules.index"), "label": _("Rules")}]
    return []


@bp.route("/", methods=["GET", "POST"])
@web.login_required(policy.reads_rulebook)
def index():
    """The rulebook in scope; admins add rules or start from the default rulebook."""
    user: User = g.user
    errors: dict[str, Any] = {}
    form = request.form
    if request.method == "POST":
        web_action = form.get("action", "create")
        try:
            village_id = web.form_int(form.get("village_id"))
            if web_action == "import":
                if not isinstance(village_id, int):
                    raise DomainError("validation-error", _("Choose a village."), status=422)
                services.import_rulebook(user, village_id)
            else:
                raw = _terms(form)
                raw["village_id"] = village_id
                data = RuleCreateSchema().load(raw)
                if data.get("monthly_cap") is None:
                    data.pop("monthly_cap", None)
                services.create_rule(user, data)
            return redirect(url_for("rules.index"))
        except (ValidationError, DomainError) as exc:
            errors = web.form_errors(exc)
    show = request.args.get("show", "active")
    active = None if show == "all" else show != "retired"
    council = request.args.get("council") if request.args.get("council") in COUNCILS else None
    rules = db.session.scalars(services.list_rules(user, council=council, active=active)).all()
    may_manage = policy.manages_rules(user)
    villages = db.session.scalars(village_services.list_villages(user)).all() if may_manage else []
    return render_template(
        "rules/index.html",
        rules=rules,
        villages=villages,
        councils=COUNCILS,
        units=UNITS,
        council=council,
        show=show,
        may_manage=may_manage,
        form=form,
        errors=errors,
    ), (422 if errors else 200)


@bp.route("/<int:rule_id>", methods=["GET", "POST"])
@web.login_required(policy.reads_rulebook)
def edit(rule_id: int):
    """A rule with its versions; an admin's change makes a new version."""
    user: User = g.user
    rule = services.rule_for_actor(user, rule_id)
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            if request.form.get("action") == "retire":
                services.retire_rule(user, rule_id)
            else:
                raw = _terms(request.form)
                data = RulePatchSchema().load(raw)
                services.update_rule(user, rule_id, data)
            return redirect(url_for("rules.edit", rule_id=rule_id))
        except (ValidationError, DomainError) as exc:
            errors = web.form_errors(exc)
    return render_template(
        "rules/edit.html",
        rule=rule,
        versions=list(reversed(services.rule_versions(rule))),
        councils=COUNCILS,
        units=UNITS,
        errors=errors,
        may_manage=policy.can_manage_rule(user, rule.village_id),
    ), (422 if errors else 200)
