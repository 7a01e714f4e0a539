"""Locale and time zone choice: Chinese unless the person chose English."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import current_app, has_request_context, request
from flask_babel import gettext


def request_gettext(message: str, **values: Any) -> str:
    """gettext in the request's language; outside a request (CLI, worker threads) the English source text.

    Services raise the same errors from the web, the command line and background threads; only a request
    has a reader whose language is known.
    """
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message


def stored_gettext(message: str, **values: Any) -> str:
    """gettext in the village's language (the default locale), for text kept in the database, such as a
    memo: every later reader sees it as written, whoever's request or command wrote it."""
    from flask_babel import force_locale

    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return gettext(message, **values)


def select_locale() -> str:
    if not has_request_context():  # CLI and background work speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]


def compile_catalogs(translations: Path) -> None:
    """Compile .po catalogs whose .mo is missing or older, so a fresh checkout speaks Chinese at once.

    Compiled catalogs are build output and not committed; a read-only install (the Docker image
    compiles them at build time) simply keeps what it has.
    """
    for po_path in translations.glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        # Written aside and renamed, so a second process starting at the same moment never reads half a file.
        partial = mo_path.with_name(f"{mo_path.name}.{os.getpid()}.tmp")
        try:
            with partial.open("wb") as mo_file:
                write_mo(mo_file, catalog)
            os.replace(partial, mo_path)
        except OSError:
            partial.unlink(missing_ok=True)
