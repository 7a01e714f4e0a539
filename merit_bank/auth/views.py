"""The villager's own activation page: phone number from the roster, one proof, a new PIN."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from marshmallow import ValidationError

from .. import web
from ..errors import DomainError, ValidationFailed
from ..form_errors import form_errors
from . import activation
from .schemas import ActivateSchema
from .throttle import client_address

bp = Blueprint("auth_pages", __name__)

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
                {"phone": request.form.get("phone", ""), "pin": pin, kind: request.form.get("proof", "")}
            )
            user = activation.activate(data["phone"], data["pin"], {kind: data[kind]}, client_address())
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
            status = exc.status if isinstance(exc, DomainError) else 422
            return render_template("auth/activate.html", errors=errors, kinds=PROOF_KINDS), status
        return web.start_browser_session(user, request.args.get("next"))
    return render_template("auth/activate.html", errors=errors, kinds=PROOF_KINDS)
