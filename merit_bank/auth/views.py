"""The villager's own activation page: phone number from the roster, one proof, a new PIN."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from .. import web
from ..errors import DomainError, ValidationFailed
from ..form_errors import form_errors
from ..inputs import normalize_phone, parse_id, strip_control
from . import activation, policy
from .schemas import ActivateSchema
from .throttle import client_address

bp = Blueprint("auth_pages", __name__)


def nav(user) -> list[dict[str, str]]:
    if not policy.can_hand_out_activation_codes(user):
        return []
    return [{"url": url_for("auth_pages.activation_overview"), "label": str(_l("Villagers' logins"))}]


PROOF_KINDS = ("card_code", "id_last6", "activation_code")


@bp.route("/activate", methods=["GET", "POST"])
def activate():
    """First sign-in for a villager whose household is on the roster."""
    errors: dict[str, Any] = {}
    if request.method == "POST":
        kind = request.form.get("proof_kind", "card_code")
        kind = kind if kind in PROOF_KINDS else "card_code"
        pin = request.form.get("pin", "")
        try:
            if pin != request.form.get("pin_again", ""):
                raise ValidationFailed(
                    errors={"pin_again": [_("The two PINs differ; type the same PIN twice.")]}
                )
            data = ActivateSchema().load(
                {
                    "phone": normalize_phone(request.form.get("phone", "")[:40]),
                    "pin": pin,
                    kind: request.form.get("proof", ""),
                }
            )
            user = activation.activate(data["phone"], data["pin"], {kind: data[kind]}, client_address())
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
            status = exc.status if isinstance(exc, DomainError) else 422
            return render_template("auth/activate.html", errors=errors, kinds=PROOF_KINDS), status
        return web.start_browser_session(user, request.args.get("next"))
    return render_template("auth/activate.html", errors=errors, kinds=PROOF_KINDS)


@bp.route("/admin/activation", methods=["GET", "POST"])
@web.login_required(policy.can_hand_out_activation_codes)
def activation_overview():
    """Who has activated, per group; and a one-time code to print for a member without a card."""
    errors: dict[str, Any] = {}
    issued = None
    if request.method == "POST":
        try:
            household_id = parse_id(request.form.get("household_id"))
            member_id = parse_id(request.form.get("member_id"))
            if household_id is None or member_id is None:
                raise ValidationFailed(errors={"member_id": [_("Choose a member.")]})
            issued = activation.issue_code(g.user, household_id, member_id)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
    q = strip_control(request.args.get("q", ""))[:50]
    groups, members = activation.overview(g.user, q or None)
    return render_template(
        "auth/activation.html", groups=groups, members=members, q=q, issued=issued, errors=errors
    ), (422 if errors else 200)
