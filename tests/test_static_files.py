"""Static files: content-hashed URLs cached for a year, short caches otherwise, gzip for text, a favicon,
and no compression of HTML pages (BREACH)."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

from flask import url_for

from merit_bank.static_files import IMMUTABLE, SHORT
from tests.factories import PIN, make_household, make_village, make_villager, page_login

GZIP = {"Accept-Encoding": "gzip, deflate"}
STATIC = Path(__file__).resolve().parent.parent / "static"


def _assets(html: str) -> list[str]:
    return re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html)


def test_pages_name_static_files_by_a_hash_of_their_content_and_those_urls_are_immutable(client):
    html = client.get("/login").get_data(as_text=True)
    assets = _assets(html)
    stylesheet = next(a for a in assets if a.startswith("/static/css/app.css"))
    assert re.fullmatch(r"/static/css/app\.css\?v=[0-9a-f]{12}", stylesheet)
    for asset in assets:
        response = client.get(asset, headers=GZIP)
        assert response.status_code == 200, asset
        assert response.headers["Cache-Control"] == IMMUTABLE == "public, max-age=31536000, immutable"

    css = client.get(stylesheet, headers=GZIP)
    assert css.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in css.headers["Vary"]
    assert css.mimetype == "text/css"
    assert gzip.decompress(css.data) == (STATIC / "css/app.css").read_bytes()


def test_urls_without_the_current_hash_get_a_short_cache(client):
    for url in ("/static/css/app.css", "/static/css/app.css?v=000000000000", "/favicon.ico"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == SHORT, url
        assert "immutable" not in response.headers["Cache-Control"]


def test_text_is_sent_whole_to_a_client_without_gzip_and_images_are_never_gzipped(client):
    plain = client.get("/static/js/page.js")
    assert "Content-Encoding" not in plain.headers
    assert plain.data == (STATIC / "js/page.js").read_bytes()
    icon = client.get("/favicon.ico", headers=GZIP)
    assert "Content-Encoding" not in icon.headers


def test_the_qr_decoder_travels_compressed_to_a_fifth_of_its_size(client):
    raw = (STATIC / "vendor/jsqr/jsQR.js").stat().st_size
    packed = client.get("/static/vendor/jsqr/jsQR.js", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert len(packed.data) < raw / 4


def test_a_revalidation_of_an_unchanged_file_is_answered_304(client):
    first = client.get("/static/css/app.css", headers=GZIP)
    again = client.get("/static/css/app.css", headers={**GZIP, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # The identity and gzip bodies differ, so they carry different validators.
    assert client.get("/static/css/app.css").headers["ETag"] != first.headers["ETag"]


def test_the_hash_follows_the_files_content(app, tmp_path):
    files = app.extensions["merit_bank.static_files"]
    files.folder = str(tmp_path)
    (tmp_path / "css").mkdir()
    sheet = tmp_path / "css" / "app.css"
    sheet.write_text("body { color: red; }\n")
    client = app.test_client()
    with app.test_request_context():
        before = url_for("static", filename="css/app.css")
    sheet.write_text("body { color: blue; }\n")
    os.utime(sheet, ns=(1, 1))  # a new stamp even on a file system with coarse modification times
    with app.test_request_context():
        after = url_for("static", filename="css/app.css")
    assert before != after
    assert before.startswith("/static/css/app.css?v=") and after.startswith("/static/css/app.css?v=")
    # The new URL is immutable and holds the new content; the old one still answers, with a short cache.
    fresh = client.get(after)
    assert fresh.data == b"body { color: blue; }\n" and fresh.headers["Cache-Control"] == IMMUTABLE
    stale = client.get(before)
    assert stale.data == b"body { color: blue; }\n" and stale.headers["Cache-Control"] == SHORT


def test_missing_and_escaping_paths_are_404(client):
    for url in ("/static/css/none.css", "/static/../wsgi.py", "/static/%2e%2e/wsgi.py", "/static/css"):
        assert client.get(url).status_code == 404, url


def test_every_page_names_the_favicon_and_it_is_served(client):
    html = client.get("/login").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="(/static/favicon\.ico\?v=[0-9a-f]{12})">', html)
    assert icon
    for url in (icon.group(1), "/favicon.ico"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
        assert len(response.data) < 4096


def test_html_pages_are_never_compressed_because_they_carry_secrets(app, client):
    # BREACH: a CSRF token or a card image compressed beside reflected input leaks through the size.
    make_villager(app, make_household(app, make_village(app)), username="13900000077")
    assert "Content-Encoding" not in client.get("/login?next=/abc", headers=GZIP).headers
    assert page_login(client, "13900000077", PIN).status_code == 302
    home = client.get("/", headers=GZIP)
    assert "csrf_token" in home.get_data(as_text=True)
    assert "Content-Encoding" not in home.headers
