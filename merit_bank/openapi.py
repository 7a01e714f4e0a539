"""The OpenAPI document's account of errors: every error is RFC 9457 problem+json, and the spec says so.

flask-smorest documents errors with its own `{code, status, message}` schema under `application/json`,
which is not what merit_bank.errors.problem() sends. `MeritApi` replaces that schema and content type,
and `ProblemResponsesPlugin` lists on every operation the error statuses it can answer with.
"""

from __future__ import annotations

import http
from typing import Any

import marshmallow as ma
from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api
from flask_smorest.spec import prepare_response

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem document, as merit_bank.errors.problem() writes it."""

    class Meta:
        # Domain errors add their own members (e.g. the balance a redemption lacked).
        unknown = ma.INCLUDE

    type = ma.fields.String(
        required=True, metadata={"description": "Stable machine-readable code, e.g. `not-found`."}
    )
    title = ma.fields.String(
        required=True, metadata={"description": "Short summary in the request's language."}
    )
    status = ma.fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    detail = ma.fields.String(
        required=True, metadata={"description": "What went wrong, for people; may be empty."}
    )
    errors = ma.fields.Dict(
        metadata={"description": "Field name -> messages (a list of strings, or nested per item or key)."}
    )


class MeritApi(Api):
    """flask-smorest's Api, documenting errors as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        # flask-smorest registers one response component per HTTP status (and DEFAULT_ERROR) with
        # DEFAULT_RESPONSE_CONTENT_TYPE, the success content type; errors need their own.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response: any other error.", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def _requires_login(view: Any) -> bool:
    """Whether a view is wrapped by flask-jwt-extended's jwt_required (anywhere in its decorator chain)."""
    func = view
    while func is not None:
        code = getattr(func, "__code__", None)
        # functools.wraps copies names and docs but not the code object, which tells the decorator apart.
        if code is not None and code.co_filename.replace("\\", "/").endswith(
            "flask_jwt_extended/view_decorators.py"
        ):
            return True
        func = getattr(func, "__wrapped__", None)
    return False


# Routes answering 429 when a client tries too often (login throttling).
THROTTLED_ENDPOINTS = {"auth_api.login"}

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Routes answering 200 with a file rather than JSON, and the content types they send. flask-smorest writes
# no content for a response without a schema, and nothing at all for a view without @blp.response.
FILE_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "ledger_api.export": ("text/csv", "application/x-ndjson"),
    "claims_api.claim_photo": ("image/jpeg", "image/png", "image/gif", "image/webp"),
    "shop_api.settlement_csv": ("text/csv",),
    "shop_api.settlement_xlsx": (XLSX,),
    "households_api.card_png": ("image/png",),
    "households_api.card_svg": ("image/svg+xml",),
    "events_api.event_qr_png": ("image/png",),
    "events_api.event_qr_svg": ("image/svg+xml",),
    "reports_api.export": ("text/csv", XLSX),
    "reports_api.participation_export": ("text/csv", XLSX),
    "reports_api.import_template": (XLSX,),
}


class ProblemResponsesPlugin(BasePlugin):
    """Adds to each operation the error statuses it can answer, each a problem+json response component."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **kwargs: Any
    ) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        view = self.app.view_functions.get(rule.endpoint)
        login = view is not None and _requires_login(view)
        has_path_args = bool(rule.arguments)
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if method == "get" and rule.endpoint in FILE_ENDPOINTS:
                file_schema = {"type": "string", "format": "binary"}
                responses["200"] = {
                    "description": "The file.",
                    "content": {kind: {"schema": file_schema} for kind in FILE_ENDPOINTS[rule.endpoint]},
                }
            has_body = "requestBody" in operation or method in ("post", "put", "patch")
            has_params = any(p.get("in") in ("query", "header") for p in operation.get("parameters", []))
            wanted: list[tuple[int, bool]] = [
                (400, has_body or has_params),  # malformed JSON, a missing header
                (401, login or rule.endpoint in THROTTLED_ENDPOINTS),
                (403, login),
                (404, has_path_args),
                (409, method in ("post", "put", "patch", "delete")),
                (413, has_body),  # any body beyond MAX_CONTENT_LENGTH
                (415, has_body),
                (422, has_body or has_params),
                (429, rule.endpoint in THROTTLED_ENDPOINTS),
            ]
            for status, applies in wanted:
                if applies:
                    responses.setdefault(str(status), http.HTTPStatus(status).name)
            responses.setdefault("default", "DEFAULT_ERROR")
