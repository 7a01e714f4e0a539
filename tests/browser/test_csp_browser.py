"""The pages work under the strict Content-Security-Policy, and no other site can frame them.

Every browser test already fails on a CSP violation (tests/conftest.py); this one walks the pages whose
scripts matter most (Swagger UI, the scanner with jsQR, the shop counter) and checks they really ran.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from merit_bank.auth.models import User
from merit_bank.database import utcnow
from merit_bank.extensions import db
from merit_bank.households.models import Household
from tests.browser_support import login, wait_for
from tests.events.event_helpers import make_world
from tests.factories import PASSWORD, PIN
from tests.shop.shop_helpers import build_world

pytestmark = pytest.mark.browser


def _username(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get_one(User, user_id).username


def _page(browser):
    context = browser.new_context(viewport={"width": 800, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def test_the_docs_login_home_scanner_and_counter_run_their_scripts_under_the_csp(
    live_server, browser, csp_violations
):
    app = live_server.app
    client = app.test_client()
    world = make_world(app, client)
    now = utcnow()
    event = client.post(
        "/api/v1/events",
        json={
            "village_id": world.village,
            "title": "河道清理",
            "rule_id": world.rules["instant"],
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
        },
        headers=world.h(world.clerk),
    ).get_json()
    shop = build_world(app, households=1)
    with app.app_context():
        household_code = db.session.get_one(Household, shop.households[0]["id"]).code
    keeper = f"keeper{shop.shop_id}x{shop.village_id}"

    page = _page(browser)
    response = page.goto(f"{live_server.url}/api/docs")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 30

    response = page.goto(f"{live_server.url}/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert page.is_visible("#username")
    login(page, live_server.url, _username(app, world.villagers[0]), PIN)
    page.wait_for_selector("[data-testid=balance]")
    page.context.close()

    page = _page(browser)
    login(page, live_server.url, _username(app, world.clerk), PASSWORD)
    page.goto(f"{live_server.url}/events/{event['id']}/scan")
    # scan.js read its words from the JSON block and loaded the village list, and said so; jsQR is
    # loaded only when the camera needs it, and runs under the CSP then.
    assert (
        wait_for(page, "(r => r !== 'loading' && r)(document.getElementById('scanner').dataset.ready)")
        == "true"
    )
    assert page.evaluate("typeof jsQR") == "undefined"
    page.evaluate("window.meritScan.loadDecoder()")
    assert page.evaluate("typeof jsQR") == "function"
    page.context.close()

    page = _page(browser)
    login(page, live_server.url, keeper, PASSWORD)
    page.goto(f"{live_server.url}/shop/{shop.shop_id}/counter")
    page.fill("[data-testid=code]", household_code)
    page.click("[data-testid=find]")
    page.wait_for_selector("[data-testid=customer]", state="visible")
    page.context.close()

    assert csp_violations == []


@contextmanager
def _other_site(html: str) -> Iterator[str]:
    """A second web site (another origin: localhost, its own port) serving one page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode() if self.path == "/" else b'<p id="inner">inner</p>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_another_site_cannot_show_a_page_in_a_frame(live_server, browser_page, csp_violations):
    page = browser_page
    html = (
        f'<p>win a prize</p><iframe name="ours" src="{live_server.url}/login"></iframe>'
        # A page of the other site itself: it can be framed, so framing as such works here.
        '<iframe name="theirs" src="/inner"></iframe>'
    )
    with _other_site(html) as other:
        page.goto(other + "/")
        page.wait_for_load_state("load")
        theirs = page.wait_for_selector('iframe[name="theirs"]', state="attached").content_frame()
        assert theirs is not None
        theirs.wait_for_selector("#inner", state="attached")
        # Chromium refused to render our page there: the frame shows its error page (or was dropped),
        # never our login form. Which of the two it does varies from run to run.
        ours = page.wait_for_selector('iframe[name="ours"]', state="attached").content_frame()
        if ours is not None:
            ours.wait_for_load_state("load")
            assert ours.query_selector("#username") is None
            assert not ours.url.startswith(live_server.url)
    csp_violations.clear()  # the refusal may be reported as a violation: here it is the point


def test_print_buttons_and_the_retire_confirmation_work_without_inline_handlers(
    live_server, browser, csp_violations
):
    app = live_server.app
    world = make_world(app, app.test_client())
    rule_id = world.rules["reviewed"]
    page = _page(browser)
    login(page, live_server.url, _username(app, world.admin), PASSWORD)

    page.goto(f"{live_server.url}/rules/{rule_id}")
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("form[data-confirm] button[type=submit]")
    assert questions and page.is_visible("form[data-confirm]")  # asked, and "no" kept the rule
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form[data-confirm] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert not page.is_visible("form[data-confirm]")  # retired: the form is gone

    page.goto(f"{live_server.url}/reports/rankings?village_id={world.village}")
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.click("[data-print]")
    assert page.evaluate("() => window.__printed") == 1
    page.context.close()
    assert csp_violations == []
