"""Refusals as plain sentences in the page's language, for the HTML forms (and the API's `errors`).

marshmallow speaks English in its own words ("Missing data for required field.") and nests messages by
list index; a person at a village office should read "姓名：必填。" instead of a Python repr.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from .errors import DomainError

# Field names as a person knows them; unknown names fall back to a generic label, never the identifier.
FIELD_LABELS: dict[str, Any] = {
    "username": _l("Username"),
    "password": _l("Password or PIN"),
    "role": _l("Role"),
    "display_name": _l("Display name"),
    "village_id": _l("Village"),
    "shop_id": _l("Shop"),
    "region_id": _l("County or township"),
    "parent_id": _l("County"),
    "kind": _l("Kind"),
    "member_id": _l("Member"),
    "household_id": _l("Household"),
    "councils": _l("Councils"),
    "council": _l("Council"),
    "name": _l("Name"),
    "code": _l("Code"),
    "groups": _l("Villager groups"),
    "group": _l("Villager group"),
    "position": _l("Order of the groups"),
    "expiry_years": _l("Years points last"),
    "expiry_day": _l("Expiry day of the year"),
    "expires_on": _l("Expiry date"),
    "announcement_id": _l("Expiry announcement"),
    "head_name": _l("Head of household"),
    "address": _l("Address"),
    "members": _l("Members"),
    "tags": _l("Tags"),
    "member_tags": _l("Member tags"),
    "phone": _l("Phone"),
    "id_number": _l("Identity number"),
    "relation": _l("Relation to head"),
    "points": _l("Points"),
    "unit": _l("Unit"),
    "monthly_cap": _l("Monthly cap"),
    "notice_days": _l("Days of public notice"),
    "approvals_required": _l("Approvals required"),
    "needs_review": _l("Needs review"),
    "rule_id": _l("Rule"),
    "quantity": _l("Quantity"),
    "note": _l("Note"),
    "comment": _l("Comment"),
    "reason": _l("Reason"),
    "occurred_on": _l("Date"),
    "title": _l("Title"),
    "location": _l("Place"),
    "starts_at": _l("Starts"),
    "ends_at": _l("Ends"),
    "capacity": _l("Capacity"),
    "price_points": _l("Price in points"),
    "stock": _l("Stock"),
    "unit_name": _l("Unit"),
    "monthly_limit": _l("Monthly limit per household"),
    "memo": _l("Memo"),
    "items": _l("Items"),
    "item_id": _l("Item"),
    "photo": _l("Photo"),
    "token": _l("Code"),
    "card_code": _l("Card code"),
    "id_last6": _l("Last 6 characters of my ID number"),
    "activation_code": _l("Activation code from the village clerk"),
    "pin": _l("New PIN (at least 6 digits)"),
    "pin_again": _l("The same PIN again"),
    "year": _l("Year"),
    "thresholds": _l("Points for each star"),
    "caps": _l("Disqualifying deductions"),
}

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

# marshmallow's own messages (and webargs'), each with the sentence a person should read instead.
_MARSHMALLOW: list[_Rule] = [
    (re.compile(r"^Missing data for required field\.$"), lambda m: _("This field is required.")),
    (re.compile(r"^Field may not be null\.$"), lambda m: _("This field is required.")),
    (re.compile(r"^Unknown field\.$"), lambda m: _("This field is not expected here.")),
    (re.compile(r"^Not a valid integer\.$"), lambda m: _("Enter a whole number.")),
    (re.compile(r"^Not a valid number\.$"), lambda m: _("Enter a number.")),
    (re.compile(r"^Not a valid string\.$"), lambda m: _("Enter text.")),
    (re.compile(r"^Not a valid boolean\.$"), lambda m: _("Choose yes or no.")),
    (re.compile(r"^Not a valid list\.$"), lambda m: _("Enter a list.")),
    (re.compile(r"^Not a valid date\.$"), lambda m: _("Enter a date as YYYY-MM-DD.")),
    (re.compile(r"^Not a valid datetime\.$"), lambda m: _("Enter a date and time.")),
    (re.compile(r"^Not a valid email address\.$"), lambda m: _("Enter an email address.")),
    (re.compile(r"^Invalid input type\.$"), lambda m: _("This value has the wrong type.")),
    (re.compile(r"^Invalid value\.$"), lambda m: _("This value is not valid.")),
    (re.compile(r"^Must be one of: .*\.$"), lambda m: _("Choose one of the offered values.")),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), lambda m: _("At least %(n)s characters.", n=m[1])),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), lambda m: _("At most %(n)s characters.", n=m[1])),
    (
        re.compile(r"^Length must be between (\d+) and (\d+)\.$"),
        lambda m: _("Between %(min)s and %(max)s characters.", min=m[1], max=m[2]),
    ),
    (re.compile(r"^Length must be (\d+)\.$"), lambda m: _("Exactly %(n)s characters.", n=m[1])),
    (
        re.compile(r"^Must be greater than or equal to (-?\d+) and less than or equal to (-?\d+)\.$"),
        lambda m: _("A number from %(min)s to %(max)s.", min=m[1], max=m[2]),
    ),
    (
        re.compile(r"^Must be greater than or equal to (-?\d+)\.$"),
        lambda m: _("At least %(min)s.", min=m[1]),
    ),
    (
        re.compile(r"^Must be less than or equal to (-?\d+)\.$"),
        lambda m: _("At most %(max)s.", max=m[1]),
    ),
    (re.compile(r"^String does not match expected pattern\.$"), lambda m: _("This value is not valid.")),
]


def plain_message(message: Any) -> str:
    """One message as a sentence in the request's language."""
    text = str(message)
    for pattern, sentence in _MARSHMALLOW:
        match = pattern.match(text)
        if match:
            return sentence(match)
    return text  # our own messages are translated already


def translated(messages: Any) -> Any:
    """The same nesting of field messages, each message as a sentence in the request's language."""
    if isinstance(messages, dict):
        return {key: translated(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [translated(item) for item in messages]
    return plain_message(messages) if messages is not None else None


def field_label(path: list[str | int]) -> str:
    """`["members", 1, "name"]` → "Members 2 · Name", in the request's language."""
    words: list[str] = []
    for part in path:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            if words:
                words[-1] = f"{words[-1]} {int(part) + 1}"
            continue
        if part in ("_schema", "_"):
            continue
        words.append(str(FIELD_LABELS.get(part, _l("This field"))))
    return " · ".join(words)


def _flatten(messages: Any, path: list[str | int], into: dict[str, list[str]]) -> None:
    if isinstance(messages, dict):
        for key, value in messages.items():
            _flatten(value, [*path, key], into)
        return
    items = messages if isinstance(messages, list | tuple) else [messages]
    for item in items:
        if isinstance(item, dict):
            _flatten(item, path, into)
        else:
            into.setdefault(field_label(path), []).append(plain_message(item))


def plain_errors(messages: Any) -> dict[str, list[str]]:
    """Nested field messages as {label: [sentences]}; "" labels what concerns the whole form."""
    flat: dict[str, list[str]] = {}
    _flatten(messages, [], flat)
    return flat


def form_errors(exc: Exception) -> dict[str, list[str]]:
    """A refused form as {label: [sentences]}, shown beside the form instead of an error page."""
    if isinstance(exc, ValidationError):
        return plain_errors(exc.messages)
    if isinstance(exc, DomainError):
        if exc.errors:
            return plain_errors(exc.errors)
        return {"": [str(exc.detail) if exc.detail else _("This could not be done.")]}
    raise exc
