"""Every response carries the security headers; the session cookie is HttpOnly, SameSite=Lax, Secure in
production; and no template holds what the Content-Security-Policy would refuse."""

from __future__ import annotations

import re
from pathlib import Path

from merit_bank.extensions import db
from tests.conftest import make_app
from tests.factories import auth, make_household, make_village, make_villager, root_admin

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _directives(response) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy", "")
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def _assert_secured(response, label: str) -> None:
    csp = _directives(response)
    assert csp.get("default-src") == ["'self'"], label
    assert csp.get("script-src") == ["'self'"], label  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp.get("style-src") == ["'self'"], label
    assert csp.get("frame-ancestors") == ["'none'"], label
    assert csp.get("object-src") == ["'none'"], label
    assert csp.get("base-uri") == ["'self'"], label
    assert csp.get("form-action") == ["'self'"], label
    assert csp.get("connect-src") == ["'self'"], label
    assert set(csp.get("img-src", [])) == {"'self'", "data:", "blob:"}, label
    assert response.headers.get("X-Frame-Options") == "DENY", label
    assert response.headers.get("X-Content-Type-Options") == "nosniff", label
    assert response.headers.get("Referrer-Policy") in ("same-origin", "strict-origin"), label


def test_pages_api_answers_errors_and_static_files_all_carry_the_security_headers(app, client):
    admin = auth(app, root_admin(app))
    village_id = make_village(app)
    villager = auth(app, make_villager(app, make_household(app, village_id)))
    answers = {
        "login page": client.get("/login"),
        "home redirect": client.get("/"),
        "api docs page": client.get("/api/docs"),
        "openapi": client.get("/api/v1/openapi.json"),
        "api ok": client.get("/api/v1/me", headers=admin),
        "api ok as villager": client.get("/api/v1/me", headers=villager),
        "api 401": client.get("/api/v1/me"),
        "api 404": client.get("/api/v1/shops/987654", headers=admin),
        "api 422": client.post("/api/v1/villages", json={}, headers=admin),
        "page 404": client.get("/no-such-page"),
        "stylesheet": client.get("/static/css/app.css"),
        "script": client.get("/static/js/page.js"),
        "health": client.get("/healthz"),
    }
    for label, response in answers.items():
        _assert_secured(response, label)
    assert answers["login page"].headers["Referrer-Policy"] == "same-origin"
    assert answers["api 404"].status_code == 404


def test_check_in_links_send_only_the_origin_as_referrer_so_the_token_stays_private(client):
    for url in ("/c/ABCDEFGH23", "/C/ABCDEFGH23", "/login?next=/c/ABCDEFGH23"):
        response = client.get(url)
        _assert_secured(response, url)
        # Not no-referrer: same-origin form posts need a Referer for Flask-WTF's check over HTTPS.
        assert response.headers["Referrer-Policy"] == "strict-origin", url


def _session_cookie(client) -> str:
    response = client.get("/login")  # the login form's CSRF token is kept in the session
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def test_the_session_cookie_is_httponly_and_samesite_lax(client):
    cookie = _session_cookie(client)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development over plain http://localhost


def test_the_session_cookie_is_secure_in_production(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MERIT_BANK_ENV", "production")
    # Production refuses to start without a checkpoint signing key of its own (no dev-derived key).
    signing_key = "Y2hlY2twb2ludC1zaWduaW5nLWtleS0zMi1ieXRlcyE="
    app = make_app(db_url, UPLOAD_FOLDER=str(tmp_path / "uploads"), CHECKPOINT_SIGNING_KEY=signing_key)
    try:
        cookie = _session_cookie(app.test_client())
        assert "Secure" in cookie
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        with app.app_context():
            db.engine.dispose()


def test_no_template_holds_inline_script_style_or_event_handlers_that_the_csp_would_refuse():
    refused = {
        "inline script": re.compile(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>", re.I),
        "style element": re.compile(r"<style\b", re.I),
        "style attribute": re.compile(r"\sstyle\s*=", re.I),
        "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
        "javascript: URL": re.compile(r"javascript:", re.I),
    }
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for what, pattern in refused.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    assert found == []
