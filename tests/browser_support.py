"""Helpers for browser tests: Chromium's flags, a threaded live server, logging in through the form, and
a watch on Content-Security-Policy violations in every page of every browser context."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class LiveServer:
    url: str
    app: Flask


@contextmanager
def serve(app: Flask) -> Iterator[LiveServer]:
    """The app on a free localhost port, in a thread, for as long as the block runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=10)


def login(page, base_url: str, username: str, password: str) -> None:
    """Log in through the real login form."""
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def wait_for(page, expression: str, arg: Any = None, timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll a JavaScript expression (or function of `arg`) until it is truthy, and return its value.

    Playwright's page.wait_for_function evaluates its predicate with eval() inside the page, which the
    Content-Security-Policy (no 'unsafe-eval') refuses; page.evaluate goes through the debugger instead.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout:.0f}s: {expression}")
        time.sleep(interval)


# Installed in every frame before any page script: reports each violation to Python, which keeps the
# record across navigations (a list kept in `window` would be lost on the next page).
_CSP_PROBE = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__mbCspViolation({
    directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
    line: e.lineNumber, sample: e.sample, page: document.location.href,
  });
}, true);
"""


# Every CSP violation any watched browser reported, until the test's csp_violations fixture looks.
CSP_VIOLATIONS: list[str] = []


class CspWatchingBrowser:
    """A Playwright Browser whose every new context reports CSP violations into CSP_VIOLATIONS.

    Two sources, because each misses cases the other sees: the `securitypolicyviolation` DOM event, and
    Chromium's console message ("... violates the following Content Security Policy directive ...").
    """

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_context(self, **kwargs: Any) -> Any:
        context = self._browser.new_context(**kwargs)
        context.expose_binding("__mbCspViolation", lambda _source, v: CSP_VIOLATIONS.append(f"event: {v}"))
        context.add_init_script(_CSP_PROBE)
        context.on(
            "console",
            lambda message: (
                CSP_VIOLATIONS.append(f"console: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)
