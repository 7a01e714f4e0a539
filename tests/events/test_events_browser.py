"""Journeys in headless Chromium against a live server: the villager's one-tap check-in across a login,
the clerk's scanner queueing scans offline and syncing them, and the clerk's QR read from a screenshot."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from merit_bank.auth.models import User
from merit_bank.database import utcnow
from merit_bank.events import tokens
from merit_bank.events.models import Checkin
from merit_bank.extensions import db
from tests.browser_support import login, wait_for
from tests.events.event_helpers import make_world
from tests.factories import PASSWORD, PIN

pytestmark = pytest.mark.browser


def _setup(live_server, rule="instant", **extra):
    """A village with rules and an event running now (real time: the server runs in another thread)."""
    app = live_server.app
    client = app.test_client()
    world = make_world(app, client)
    now = utcnow()
    body = {
        "village_id": world.village,
        "title": "河道清理",
        "rule_id": world.rules[rule],
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        **extra,
    }
    response = client.post("/api/v1/events", json=body, headers=world.h(world.clerk))
    assert response.status_code == 201, response.get_json()
    return world, response.get_json()


@contextmanager
def _batches_unreachable(app):
    """While the block runs, scan batches that reach the live server are refused (503) and counted.

    Chromium's offline emulation does not cover a page the instant it loads again: right after a reload
    the new document can still read navigator.onLine as true, and its request, passed on by the page's
    service worker, reaches the server. A phone with no signal would not get through, so during the
    offline part the server stands in for the missing network; what reached it is in the list.
    """
    reached: list[str] = []
    inner = app.wsgi_app

    def refuse_batches(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/checkins/batch"):
            reached.append(environ["PATH_INFO"])
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no signal"]
        return inner(environ, start_response)

    app.wsgi_app = refuse_batches
    try:
        yield reached
    finally:
        app.wsgi_app = inner


def _username(app, user_id):
    with app.app_context():
        return db.session.get_one(User, user_id).username


def _checkins(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Checkin))


def test_a_logged_out_villager_opens_the_code_logs_in_and_checks_in_with_one_tap(live_server, browser_page):
    world, event = _setup(live_server, rotating=True)
    page = browser_page
    with live_server.app.test_request_context(base_url=live_server.url):
        # What the phone's scanner reads off the clerk's screen right now.
        url = tokens.checkin_url(tokens.rotating_token(event["id"]))
    assert url.startswith(live_server.url.upper())

    page.goto(url)
    # Logged out, the phone shows the event first and asks for the phone number and PIN beneath it.
    assert "河道清理" in page.text_content("main")
    page.wait_for_selector("[data-testid=login-to-check-in]")
    page.fill("#username", _username(live_server.app, world.villagers[0]))
    page.fill("#password", PIN)
    page.click("[data-testid=login-to-check-in] button[type=submit]")
    page.wait_for_selector("[data-testid=checkin]")
    assert "河道清理" in page.text_content("main")

    page.click("[data-testid=checkin]")
    result = page.wait_for_selector("[data-testid=result]")
    assert result.get_attribute("data-outcome") == "created"
    assert result.get_attribute("data-status") == "posted"
    assert "5" in result.text_content()
    page.goto(live_server.url + "/")
    assert page.text_content("[data-testid=balance]").strip() == "5"


def test_the_scan_page_queues_scans_offline_and_syncs_them_when_back_online(live_server, browser_page):
    world, event = _setup(live_server)
    page = browser_page
    login(page, live_server.url, _username(live_server.app, world.clerk), PASSWORD)
    page.goto(f"{live_server.url}/events/{event['id']}/scan")
    page.wait_for_selector("#scanner[data-ready=true]")
    page.evaluate("window.meritScan.loadDecoder()")  # as starting the camera does where no BarcodeDetector is
    # The service worker has taken the page over and kept a copy of it for opening it offline.
    wait_for(page, "navigator.serviceWorker.controller !== null")
    wait_for(page, "caches.match(location.pathname).then(r => !!r)", interval=0.2)

    with _batches_unreachable(live_server.app) as reached:
        page.context.set_offline(True)
        wait_for(page, "document.getElementById('net').dataset.online === 'false'")

        # One elder's card read by the vendored decoder (as the camera loop does), one typed code.
        first = world.households[0]
        card_url = f"/api/v1/households/{first['id']}/card.png"
        page.context.set_offline(False)
        card_png = page.evaluate(
            """async (url) => {
                 const blob = await (await fetch(url, {credentials: 'same-origin'})).blob();
                 return await new Promise(r => {
                   const f = new FileReader(); f.onload = () => r(f.result); f.readAsDataURL(blob);
                 });
               }""",
            card_url,
        )
        page.context.set_offline(True)
        # Scan only once the page knows it is offline again, or a scan could be sent in the moment between.
        wait_for(page, "document.getElementById('net').dataset.online === 'false'")
        decoded = page.evaluate(
            """async (src) => {
                 const img = new Image(); img.src = src; await img.decode();
                 const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
                 const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
                 const found = jsQR(ctx.getImageData(0, 0, c.width, c.height).data, c.width, c.height);
                 return found && found.data;
               }""",
            card_png,
        )
        assert decoded and decoded.startswith(f"H{first['id']}.")
        assert page.evaluate("(t) => window.meritScan.handleCard(t)", decoded)
        page.click(f"#members button[data-member-id='{first['member_ids'][1]}']")

        second = world.households[1]
        page.fill("#code", second["code"].lower())
        page.click("#code-form button[type=submit]")
        page.click(f"#members button[data-member-id='{second['member_ids'][0]}']")

        assert page.text_content("[data-testid=queue-count]") == "2"
        assert page.locator("#results li[data-outcome=queued]").count() == 2
        assert reached == []  # the page, knowing it is offline, sent nothing
        assert _checkins(live_server.app) == 0

        # The page opens again with no connection, and the queue is still there.
        page.reload()
        page.wait_for_selector("#scanner[data-ready=true]")
        assert page.text_content("[data-testid=queue-count]") == "2"
        assert page.locator("#results li[data-outcome=queued]").count() == 2
        assert _checkins(live_server.app) == 0

    page.context.set_offline(False)
    wait_for(page, "document.querySelector('[data-testid=queue-count]').textContent === '0'")
    assert page.locator("#results li[data-outcome=created]").count() == 2
    assert _checkins(live_server.app) == 2
    # A reload keeps nothing queued: the sync removed what the server answered.
    page.reload()
    page.wait_for_selector("#scanner[data-ready=true]")
    assert page.text_content("[data-testid=queue-count]") == "0"


def test_the_qr_on_the_clerks_page_decodes_from_a_screenshot_and_the_list_updates(
    live_server, browser_page, tmp_path
):
    world, event = _setup(live_server)
    page = browser_page
    login(page, live_server.url, _username(live_server.app, world.clerk), PASSWORD)
    page.goto(f"{live_server.url}/events/{event['id']}")
    qr = page.locator("img[data-testid=event-qr]")
    qr.wait_for()
    wait_for(page, "(img) => img.complete && img.naturalWidth > 0", qr.element_handle())
    shot = tmp_path / "event-qr.png"
    qr.screenshot(path=str(shot))
    results = zxingcpp.read_barcodes(Image.open(shot))
    assert len(results) == 1
    # The page was served to 127.0.0.1: the URL names the host the clerk's screen was opened on.
    assert results[0].text == live_server.url.upper() + "/C/" + event["checkin_url"].split("/C/")[1]
    assert int(results[0].extra["Version"]) <= 4

    token = results[0].text.rsplit("/C/", 1)[1]
    client = live_server.app.test_client()
    response = client.post("/api/v1/checkins", json={"token": token}, headers=world.h(world.villagers[2]))
    assert response.status_code == 201, response.get_json()
    wait_for(page, "document.querySelector('[data-testid=checkin-count]').textContent === '1'")
    assert "张志强" in page.text_content("[data-testid=checkins]")
