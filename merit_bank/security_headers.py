"""Security headers on every response: a strict Content-Security-Policy, no framing, a referrer policy.

The pages load scripts and styles only from /static (no inline script, no inline style, no eval), so the
policy needs no 'unsafe-inline'. Page text for scripts travels in <script type="application/json"> blocks,
which the browser never executes and CSP does not cover.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # QR codes and photos come from the server; data: covers Swagger UI's icons, blob: camera stills.
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Pages whose URL carries a check-in token (/c/<token>, or the login page on the way there). Their
# referrer is the origin alone, so the token never leaves in a Referer header, while same-origin form
# posts still carry the Referer that Flask-WTF's strict check demands over HTTPS (which "no-referrer"
# would fail).
_TOKEN_PREFIXES = ("/c/", "/C/")


def _carries_token() -> bool:
    if request.path.startswith(_TOKEN_PREFIXES):
        return True
    return request.args.get("next", "").startswith(_TOKEN_PREFIXES)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers["Referrer-Policy"] = "strict-origin" if _carries_token() else "same-origin"
    # The card scanner needs the camera on our own pages; nothing needs the microphone or location.
    headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


def register(app: Flask) -> None:
    app.after_request(add_security_headers)
