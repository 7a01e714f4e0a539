"""What the service accepts as text and as an id, checked in one place for every way in.

Control characters and lone surrogates are refused in every text input: PostgreSQL cannot store NUL,
UTF-8 cannot encode a lone surrogate, and XLSX (XML) cannot hold most C0 characters, so letting them in
means a 500 today or a broken export later. Fields that hold several lines (notes, addresses, reasons,
memos, comments) also take tab, newline and carriage return; single-line fields take none of them.

Ids in paths go through a bounded `int` converter: every id column is a 32-bit INTEGER, so a larger number
cannot name a row and is a 404 before any query (PostgreSQL refuses it with an error, SQLite above 2^63).
"""

from __future__ import annotations

import re
from typing import Any

import click
from flask import Flask, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from werkzeug.routing import IntegerConverter

# Every id and count column is a PostgreSQL INTEGER (the largest are BIGINT sums the service computes).
MAX_INT = 2**31 - 1

# Source text of the patterns also goes into the OpenAPI document, so it is written the way both Python
# and ECMAScript (JSON Schema) read it.
_SINGLE_LINE = r"^[^\x00-\x1f\x7f\ud800-\udfff]*$"
_MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]*$"
_BAD_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_BAD_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

SINGLE_LINE_MESSAGE = _l("Only one line of text, without control characters.")
MULTI_LINE_MESSAGE = _l("Control characters (such as NUL) are not allowed.")


# A mainland mobile number, the login of a villager: 11 digits starting 13-19 (a landline or a number with
# a digit missing can never log in, so it is refused where it is typed).
MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"
_MOBILE = re.compile(MOBILE_PATTERN)
MOBILE_MESSAGE = _l("A mobile number: 11 digits starting with 13 to 19.")


def normalize_phone(value: str) -> str:
    """A phone number as typed on a page or in a roster (spaces, dashes, +86) in its stored form."""
    digits = re.sub(r"[\s\-]", "", value or "")
    return digits[3:] if digits.startswith("+86") else digits


def is_mobile(value: str) -> bool:
    return _MOBILE.match(value) is not None


def mobile_field(**kwargs: Any) -> fields.String:
    """A phone number in an API body: exactly a mobile number (pages normalise what people type first)."""
    return fields.String(validate=validate.Regexp(MOBILE_PATTERN, error=MOBILE_MESSAGE), **kwargs)


def has_control(value: str, multiline: bool = False) -> bool:
    """True when `value` holds a character this field may not: see the module docstring."""
    return (_BAD_MULTI_LINE if multiline else _BAD_SINGLE_LINE).search(value) is not None


def control_message(multiline: bool = False) -> Any:
    return MULTI_LINE_MESSAGE if multiline else SINGLE_LINE_MESSAGE


def strip_control(value: str) -> str:
    """Text that is not input but is stored (a User-Agent): drop what a text column cannot keep."""
    return _BAD_SINGLE_LINE.sub("", value)


def parse_id(text: str | None, limit: int = MAX_INT) -> int | None:
    """A number typed in a form or query string, when it is ASCII digits no larger than `limit`.

    str.isdigit() also takes "²" and other scripts' digits, which int() then refuses (or reads); a larger
    number cannot name a row of a 32-bit id column and on PostgreSQL fails the query.
    """
    text = (text or "").strip()
    if not (0 < len(text) <= len(str(limit)) and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= limit else None


# --- marshmallow ------------------------------------------------------------------------------------


class NoControl(validate.Validator):
    """Refuses control characters, for a field whose pattern in the document is already its own."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline
        self.error = control_message(multiline)

    def _repr_args(self) -> str:
        return f"multiline={self.multiline!r}"

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str) and has_control(value, self.multiline):
            raise ValidationError([self.error])  # a list: a lazy string would be read as characters
        return value


class PlainText(validate.Regexp):
    """Refuses control characters; a Regexp so that the OpenAPI document shows the allowed characters."""

    def __init__(self, multiline: bool = False) -> None:
        super().__init__(_MULTI_LINE if multiline else _SINGLE_LINE)
        self.multiline = multiline
        self.error = control_message(multiline)  # lazy: the reader's language, not the import's

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str) and has_control(value, self.multiline):
            raise ValidationError([self.error])  # a list: a lazy string would be read as characters
        return value


def guard_text_field(field: fields.Field) -> None:
    """Give a String field (or a List of them) the control-character check, once.

    Called from the base schema as each field is bound, so every schema, its nested schemas and the
    forms that load through them check every text field without naming it.
    """
    if isinstance(field, fields.List):
        guard_text_field(field.inner)
        return
    if not isinstance(field, fields.String) or any(
        isinstance(v, PlainText | NoControl) for v in field.validators
    ):
        return
    multiline = bool(field.metadata.get("multiline"))
    has_pattern = any(isinstance(getattr(v, "regex", None), re.Pattern) for v in field.validators)
    # The document shows the pattern only on input fields (they carry bounds); a response field that
    # shares a schema says nothing it could not keep for rows stored before this check existed.
    documented = bool(field.validators) and not has_pattern
    field.validators.append(PlainText(multiline) if documented else NoControl(multiline))


# --- requests ---------------------------------------------------------------------------------------


def _up_to(limit: int) -> str:
    """A regex of the decimal numbers 0..limit (leading zeros allowed only below limit's length)."""
    digits = str(limit)
    parts = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for index, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - index - 1
            parts.append(digits[:index] + f"[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in every route: digits 0-9 only and at most an INTEGER, or the route does not match.

    The bound is in the regex, not only in to_python: werkzeug answers 405 instead of 404 when a rule
    for another method matched the path before this one's conversion failed.
    """

    regex = _up_to(MAX_INT)  # also: `\d` would take other scripts' digits, which int() reads

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def _bad_pairs(values: Any, multiline: bool) -> str | None:
    """The first key whose name or value holds a forbidden character, in a MultiDict."""
    for key, value in values.items(multi=True):
        if has_control(key) or (isinstance(value, str) and has_control(value, multiline)):
            return key
    return None


def register(app: Flask) -> None:
    """Bounded path ids for every blueprint, and a guard on path, query and form text before any view.

    Must run before blueprints are registered: a rule keeps the converter it was built with.
    """
    from .errors import NotFound, ValidationFailed, wants_problem_json

    # flask-smorest documents it through IntegerConverter (its mro), with the maximum.
    app.url_map.converters["int"] = BoundedIntConverter

    @app.before_request
    def _refuse_control_characters() -> None:
        # A path segment with a control character names nothing (every stored key is plain text).
        for value in (request.view_args or {}).values():
            if isinstance(value, str) and has_control(value):
                raise NotFound("not-found", _l("Not found"))
        # Query strings are single-line search terms, codes and ids; forms may hold multi-line text, whose
        # single-line fields their schemas check in turn. Named like a schema's error, under `errors`.
        for values, multiline in ((request.args, False), (request.form, True)):
            key = _bad_pairs(values, multiline)
            if key is not None:
                name = key if not has_control(key) else repr(key)
                detail = (
                    "Some fields are invalid; see errors."
                    if wants_problem_json()
                    else _("%(field)s: control characters (such as NUL) are not allowed.", field=name)
                )
                raise ValidationFailed(detail=detail, errors={name: [control_message(multiline)]})


# --- command line -----------------------------------------------------------------------------------


class PlainTextParam(click.ParamType):
    """A command-line text argument, refused like a single-line field (the CLI speaks English)."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and has_control(value):
            self.fail("Only one line of text, without control characters.", param, ctx)
        return value


PLAIN_TEXT = PlainTextParam()
ID = click.IntRange(1, MAX_INT)

__all__ = [
    "ID",
    "MAX_INT",
    "PLAIN_TEXT",
    "BoundedIntConverter",
    "NoControl",
    "PlainText",
    "control_message",
    "guard_text_field",
    "has_control",
    "parse_id",
    "register",
    "strip_control",
]
