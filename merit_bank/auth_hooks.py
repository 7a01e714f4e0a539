"""flask-jwt-extended wiring: who a token belongs to, revocation, and problem+json auth errors."""

from __future__ import annotations

from flask import Flask, redirect, request, url_for
from flask_babel import gettext as _

from .auth import services
from .auth.read_only import refuse_writes_of_read_only_logins
from .errors import problem, wants_problem_json
from .extensions import jwt


# Details in the request's language (Chinese unless the reader chose English), like every other refusal.
def _unauthorized(detail: str, code: str = "unauthorized"):
    if wants_problem_json():
        return problem(401, code, detail)
    return redirect(url_for("web.login", next=request.full_path))


def register(app: Flask) -> None:
    app.before_request(refuse_writes_of_read_only_logins)

    @jwt.user_lookup_loader
    def _load_user(_header, payload):
        # Checked on every request, so a deactivated user is locked out at once, not at token expiry.
        return services.load_active_user(payload["sub"])

    @jwt.token_in_blocklist_loader
    def _is_revoked(_header, payload):
        # Logged out, or issued before a password change, deactivation or logout everywhere.
        return not services.token_is_current(payload)

    @jwt.user_lookup_error_loader
    def _user_gone(_header, _payload):
        return _unauthorized(_("This login is deactivated or no longer exists."), "account-inactive")

    @jwt.revoked_token_loader
    def _revoked(_header, _payload):
        return _unauthorized(_("This token was revoked (logged out)."), "token-revoked")

    @jwt.expired_token_loader
    def _expired(_header, _payload):
        return _unauthorized(_("The token has expired; refresh it or log in again."), "token-expired")

    @jwt.invalid_token_loader
    def _invalid(reason):
        # PyJWT's reason is English and of no use to the reader; the code names the failure.
        return _unauthorized(_("The token is not valid; log in again."), "invalid-token")

    @jwt.unauthorized_loader
    def _missing(reason):
        if "CSRF" in reason:
            detail = _("The form's security token is missing; reload the page and try again.")
            return problem(401, "csrf-missing", detail) if wants_problem_json() else _unauthorized(detail)
        return _unauthorized(_("Log in first: send `Authorization: Bearer <access token>`."))

    @jwt.needs_fresh_token_loader
    def _not_fresh(_header, _payload):
        return _unauthorized(_("A fresh login is needed."))

    @jwt.token_verification_failed_loader
    def _failed(_header, _payload):
        return _unauthorized(_("Token verification failed."))
