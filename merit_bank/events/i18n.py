"""Translated messages that also work outside a request (worker threads, CLI, tests)."""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_babel import gettext


def _(message: str, **values: Any) -> str:
    """gettext inside a request; outside one the English text."""
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message
