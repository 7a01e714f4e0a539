"""Domain errors and the one place that turns any error into problem+json (API) or an error page (HTML)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal by a business rule, with a stable `code` that clients and tests can rely on."""

    status = 409
    code = "conflict"

    def __init__(
        self,
        code: str | None = None,
        detail: Any = None,
        *,
        status: int | None = None,
        errors: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        self.code = code or self.code
        self.status = status or self.status
        self.detail = detail
        self.errors = errors
        self.extra = extra
        super().__init__(self.code)

    def __str__(self) -> str:
        try:
            return f"{self.code}: {self.detail}" if self.detail else self.code
        except RuntimeError:  # a lazy translation outside a request (CLI, threads): the code says enough
            return self.code


class NotFound(DomainError):
    status = 404
    code = "not-found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class ValidationFailed(DomainError):
    status = 422
    code = "validation-error"


_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}

_TITLES = {
    400: _l("Bad request"),
    401: _l("Please log in"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    410: _l("No longer valid"),
    413: _l("Request too large"),
    415: _l("Unsupported content type"),
    422: _l("Invalid input"),
    429: _l("Too many requests"),
    500: _l("Internal error"),
    503: _l("Service unavailable"),
}


def wants_problem_json() -> bool:
    """API paths answer with problem+json; everything else is a page for people."""
    return request.path.startswith("/api/")


def _plain(value: Any) -> Any:
    """Lazy (translatable) strings become text in the request's language, at any depth."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def problem(
    status: int,
    code: str | None = None,
    detail: str | None = None,
    errors: dict[str, Any] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": code or _SLUGS.get(status, "error"),
        "title": str(_TITLES.get(status, _l("Error"))),
        "status": status,
        "detail": str(detail) if detail else "",
    }
    if errors:
        body["errors"] = _plain(errors)
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _error_page(status: int, detail: str | None) -> tuple[str, int]:
    return render_template(
        "errors/error.html", status=status, title=_TITLES.get(status, _l("Error")), detail=detail
    ), status


def _webargs_errors(exc: HTTPException) -> dict[str, Any] | None:
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if not isinstance(messages, dict):
        return None
    merged: dict[str, Any] = {}
    # webargs nests messages by location (json, query, ...); clients only need field -> messages.
    for location_messages in messages.values():
        if isinstance(location_messages, dict):
            merged.update(location_messages)
        else:
            merged.setdefault("_schema", []).extend(location_messages)
    return merged


def handle_domain_error(exc: DomainError):
    if wants_problem_json():
        response = problem(exc.status, exc.code, exc.detail, exc.errors, **exc.extra)
        if "retry_after" in exc.extra:  # a throttled caller learns when to try again (RFC 9110)
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response
    return _error_page(exc.status, exc.detail)


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    errors = _webargs_errors(exc)
    code = _SLUGS.get(status)
    detail = exc.description
    if status == 400 and errors and any("Invalid JSON" in str(m) for m in errors.get("_schema", [])):
        code, detail, errors = "invalid-json", _l("The request body is not valid JSON."), None
    elif status == 422:
        from .form_errors import translated

        # marshmallow's own English sentences become the request's language; field names stay as keys.
        detail, errors = _l("Some fields are invalid; see errors."), translated(errors)
    if wants_problem_json():
        response = problem(status, code, detail, errors)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
    return _error_page(status, None)


def handle_unexpected(exc: Exception):
    # Logged with the request id so an operator can find the traceback that the client never sees.
    log.exception("unhandled error in request %s", getattr(g, "request_id", "-"))
    if wants_problem_json():
        return problem(500, "internal-error", f"Unexpected error; request id {g.get('request_id', '-')}.")
    return _error_page(500, None)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)

    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response
