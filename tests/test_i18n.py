"""Chinese by default, English available: both catalogs cover every message in the code and templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "merit_bank" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _source_messages() -> set[str]:
    found: set[str] = set()
    method_map = [("merit_bank/**.py", "python"), ("templates/**.html", "jinja2")]
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=KEYWORDS, options_map={"templates/**.html": {}}
    ):
        if isinstance(message, tuple):
            found.add(message[0])
        elif message:
            found.add(message)
    return found


@pytest.fixture(scope="module")
def source_messages() -> set[str]:
    return _source_messages()


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_every_message_is_translated(locale, source_messages):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    missing = sorted(m for m in source_messages if m not in translated or not translated[m].string)
    assert not missing, f"{len(missing)} lack a {locale} translation (scripts/i18n.sh): {missing[:10]}"
    fuzzy = sorted(m.id for m in catalog if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy {locale} entries: {fuzzy[:10]}"


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_translations_keep_their_placeholders(locale):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if message.id and message.string and isinstance(message.id, str):
            expected = set(PLACEHOLDER.findall(message.id))
            assert set(PLACEHOLDER.findall(message.string)) == expected, message.id


def test_chinese_text_reaches_the_page(client):
    assert "登录" in client.get("/login").get_data(as_text=True)
