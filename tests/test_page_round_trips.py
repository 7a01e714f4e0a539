"""A villager's pages cost one round trip on a second visit: everything they load besides themselves is a
fingerprinted static file (cached for a year), and the household card travels inside the home page.
bench/pages.py measures the same in Chromium on an emulated 3G link."""

from __future__ import annotations

import base64
import io
import re

import zxingcpp
from PIL import Image

from merit_bank.extensions import db
from merit_bank.households import services as household_services
from merit_bank.households.models import Household
from tests.factories import PIN, make_household, make_village, make_villager, page_login

FINGERPRINTED = re.compile(r"/static/[\w./-]+\?v=[0-9a-f]{12}")


def _loaded(html: str) -> list[str]:
    """What the browser fetches for the page: scripts, styles, icons and images (not links to follow)."""
    tags = re.findall(r"<(?:script|img|link)\b[^>]*>", html)
    return [m for tag in tags for m in re.findall(r"\b(?:src|href)=\"([^\"]+)\"", tag)]


def test_the_villager_home_needs_nothing_but_itself_on_a_second_visit(app, client):
    household = make_household(app, make_village(app))
    make_villager(app, household, username="13900000088")
    assert page_login(client, "13900000088", PIN).status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    # The card is a credential: it is in the page, so the page is not cached either.
    assert home.headers["Cache-Control"] == "private, no-store"
    html = home.get_data(as_text=True)

    loaded = _loaded(html)
    card = [src for src in loaded if src.startswith("data:")]
    assert len(card) == 1 and card[0].startswith("data:image/png;base64,")
    others = [src for src in loaded if not src.startswith("data:")]
    assert others and all(FINGERPRINTED.fullmatch(src) for src in others), others

    image = Image.open(io.BytesIO(base64.b64decode(card[0].split(",", 1)[1])))
    read = zxingcpp.read_barcodes(image)
    with app.app_context():
        expected = household_services.card_token(db.session.get_one(Household, household["id"]))
    assert [r.text for r in read] == [expected]
    assert len(html.encode()) < 20_000


def test_the_logged_out_pages_load_only_fingerprinted_files(client):
    for path in ("/login", "/activate", "/c/ABCDEFGH23"):
        html = client.get(path).get_data(as_text=True)
        loaded = _loaded(html)
        assert loaded and all(FINGERPRINTED.fullmatch(src) for src in loaded), (path, loaded)
