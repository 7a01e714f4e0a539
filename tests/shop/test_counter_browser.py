"""The counter in a real Chromium: scan a card through a (fake) camera or type the code, redeem, print.

The camera is Chromium's fake capture device playing a .y4m video made here from the household's card
PNG, so the page's own decoder (BarcodeDetector where present, else the vendored jsQR) reads a real QR.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.households import services as household_services
from merit_bank.households.models import Household
from merit_bank.qr import qr_png
from merit_bank.shop.models import Redemption
from tests.browser_support import CHROMIUM_ARGS, CspWatchingBrowser, LiveServer
from tests.factories import PASSWORD
from tests.shop.shop_helpers import balance, build_world, stock

pytestmark = pytest.mark.browser


def write_y4m(card_png: bytes, path: Path, width: int = 640, height: int = 480, frames: int = 3) -> None:
    """A short YUV 4:2:0 video of the card on a white table, for Chromium's fake camera."""
    card = Image.open(io.BytesIO(card_png)).convert("RGB")
    side = min(width, height) - 80
    card = card.resize((side, side), Image.NEAREST)
    frame = Image.new("RGB", (width, height), "white")
    frame.paste(card, ((width - side) // 2, (height - side) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = (
        y.tobytes() + cb.resize(half, Image.BILINEAR).tobytes() + cr.resize(half, Image.BILINEAR).tobytes()
    )
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)


def _launch(playwright, chromium_path: str, video: Path | None):
    args = list(CHROMIUM_ARGS)
    if video is not None:
        args += [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ]
    return CspWatchingBrowser(playwright.chromium.launch(executable_path=chromium_path, args=args))


def _page(browser, base_url: str):
    context = browser.new_context(
        viewport={"width": 800, "height": 1000}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.grant_permissions(["camera"], origin=base_url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def _login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _setup(server: LiveServer):
    app = server.app
    world = build_world(app, households=2, points=200)
    household = world.households[0]
    with app.app_context():
        token = household_services.card_token(db.session.get(Household, household["id"]))
        keeper = db.session.get(User, world.shopkeeper_id).username
    return world, household, token, keeper


def _redemptions(app) -> list[Redemption]:
    with app.app_context():
        return list(db.session.query(Redemption).all())


def test_scan_a_card_redeem_two_items_double_tap_and_print(
    live_server, playwright_instance, chromium_path, tmp_path
):
    server = live_server
    world, household, token, keeper = _setup(server)
    video = tmp_path / "card.y4m"
    write_y4m(qr_png(token), video)
    # Its own browser: the fake camera is a launch flag, so the shared one cannot be used.
    browser = _launch(playwright_instance, chromium_path, video)
    try:
        page = _page(browser, server.url)
        _login(page, server.url, keeper)
        page.goto(f"{server.url}/shop/{world.shop_id}/counter")
        page.click("[data-testid=scan]")
        page.wait_for_selector("[data-testid=customer]", state="visible")
        assert page.text_content("#c-name") == "户主0"
        assert page.text_content("[data-testid=c-balance]") == "200"

        page.click(f"[data-testid=item-{world.items['大米']}]")
        page.click(f"[data-testid=item-{world.items['食盐']}]")
        page.click(f"[data-testid=item-{world.items['食盐']}]")
        assert page.text_content("[data-testid=total]") == str(30 + 2 * 5)

        page.dblclick("[data-testid=confirm]")
        page.wait_for_url(f"{server.url}/shop/receipts/*")
        page.wait_for_load_state("networkidle")

        made = _redemptions(server.app)
        assert len(made) == 1 and made[0].total_points == 40
        assert balance(server.app, household["id"]) == 160
        assert stock(server.app, world.items["食盐"]) == 98
        assert page.text_content("[data-testid=receipt-total]") == "40"
        assert page.text_content("[data-testid=balance-after]") == "160"
        assert made[0].receipt_no in page.text_content("[data-testid=receipt-no]")

        page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
        page.click("[data-testid=print]")
        assert page.evaluate("() => window.__printed") == 1
        page.emulate_media(media="print")
        assert not page.is_visible("header.top")
        assert not page.is_visible("[data-testid=print]")
        assert page.is_visible("[data-testid=receipt]")
        pdf = page.pdf(format="A5")
        assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    finally:
        browser.close()


def test_typed_code_and_a_dropped_connection_never_charge_twice(live_server, browser):
    server = live_server
    world, _household, _token, keeper = _setup(server)
    other = world.households[1]
    page = _page(browser, server.url)
    try:
        _login(page, server.url, keeper)
        page.goto(f"{server.url}/shop/{world.shop_id}/counter")
        page.fill("[data-testid=code]", other["code"].lower())
        page.click("[data-testid=find]")
        page.wait_for_selector("[data-testid=customer]", state="visible")
        assert page.text_content("#c-name") == "户主1"
        page.click(f"[data-testid=item-{world.items['食用油']}]")
        page.click(f"[data-testid=item-{world.items['大米']}]")

        # The first attempt reaches the server and is committed, but its answer is lost on the way back.
        dropped = {"n": 0}

        def lose_the_answer(route):
            if dropped["n"] == 0:
                dropped["n"] += 1
                route.fetch()
                route.abort("connectionreset")
            else:
                route.continue_()

        page.route("**/api/v1/redemptions", lose_the_answer)
        page.click("[data-testid=confirm]")
        page.wait_for_selector("[data-testid=message]:not(.hidden)")
        assert len(_redemptions(server.app)) == 1
        page.click("[data-testid=confirm]")
        page.wait_for_url(f"{server.url}/shop/receipts/*")
        made = _redemptions(server.app)
        assert len(made) == 1 and made[0].household_id == other["id"]
        assert balance(server.app, other["id"]) == 200 - 80
        assert page.text_content("[data-testid=balance-after]") == "120"
    finally:
        page.context.close()
