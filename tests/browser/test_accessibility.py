"""Every page a villager sees, on a 360 px phone: axe-core finds nothing, every link, button and field is at
least 44x44 px, no visible text is below 16 px; at twice the text size 签到 and the household QR are still on
the first screen; and a form whose session cookie was dropped is shown again with a plain retry message.

axe-core (MPL-2.0) is vendored under tests/browser/vendor/axe-core and never served by the app.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from merit_bank.claims.models import Claim
from merit_bank.demo import VILLAGER_PIN, seed_demo
from merit_bank.events import tokens
from merit_bank.events.models import Event
from merit_bank.extensions import db
from merit_bank.shop import services as shop_services
from merit_bank.shop.models import ShopItem
from merit_bank.villages import services as village_services
from tests.browser_support import login

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
VILLAGER = "13800000002"  # 李德明: points from a check-in, a receipt, a claim of his own
MIN_TARGET = 44
MIN_TEXT = 16

# The page's CSP allows no inline script, so axe is not added as a <script> element (add_script_tag would
# be one, and be refused): page.evaluate runs it through the DevTools protocol, which the CSP does not
# govern, so the pages are checked under their real policy, without bypass_csp.
_RUN_AXE = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
    resultTypes: ['violations'],
  });
  return result.violations.map(v => `${v.id}: ${v.help} — ` +
    v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""

_SMALL_TARGETS = """(min) => {
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const found = [];
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary')) {
    if (el.type === 'hidden' || !shown(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < min - 0.5 || r.height < min - 0.5) {
      found.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 20)}" ` +
                 `${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return found;
}"""

_SMALL_TEXT = """(min) => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (!text || !el || el.closest('script, style, noscript, template, select')) continue;
    if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < min - 0.01) found.push(`"${text.slice(0, 20)}" ${size}px`);
  }
  return found;
}"""

_FITS = """([selector, twice]) => {
  if (twice) document.documentElement.style.fontSize = '200%';
  const el = document.querySelector(selector);
  const r = el.getBoundingClientRect();
  const result = {bottom: r.bottom, right: r.right, height: innerHeight, width: innerWidth,
                  scrollWidth: document.documentElement.scrollWidth};
  document.documentElement.style.fontSize = '';
  return result;
}"""


def _check(page, name: str, problems: list[str]) -> None:
    page.evaluate(AXE + "\n;0")
    problems += [f"{name}: axe {v}" for v in page.evaluate(_RUN_AXE)]
    problems += [f"{name}: small target {t}" for t in page.evaluate(_SMALL_TARGETS, MIN_TARGET)]
    problems += [f"{name}: small text {t}" for t in page.evaluate(_SMALL_TEXT, MIN_TEXT)]
    if page.locator("h1").count() != 1:
        problems.append(f"{name}: {page.locator('h1').count()} h1 elements")


def _on_first_screen(page, name: str, selector: str, problems: list[str]) -> None:
    """The element is on the first screen, at the normal text size and at 200 %, and nothing overflows."""
    for twice in (False, True):
        fit = page.evaluate(_FITS, [selector, twice])
        label = f"{name} at {'200' if twice else '100'}% text"
        if fit["bottom"] > fit["height"] or fit["right"] > fit["width"]:
            problems.append(f"{label}: {selector} ends at {fit['right']:.0f}x{fit['bottom']:.0f}, off screen")
        if fit["scrollWidth"] > fit["width"]:
            problems.append(f"{label}: the page is {fit['scrollWidth']} px wide")


def _data(app):
    with app.app_context():
        demo = seed_demo()
        village = demo.village.code
        shop_id = demo.shop.id
        household = demo.households[1]
        salt = db.session.scalar(select(ShopItem).where(ShopItem.shop_id == shop_id, ShopItem.name == "食盐"))
        redemption = shop_services.redeem(
            demo.shopkeeper,
            shop_id=shop_id,
            lines=[{"item_id": salt.id, "quantity": 1}],
            idempotency_key="a11y-salt",
            household_id=household.id,
        ).redemption.id
        own_claim = db.session.scalar(select(Claim.id).where(Claim.household_id == household.id))
        in_notice = db.session.scalar(
            select(Claim.id).where(Claim.household_id == demo.households[6].id, Claim.status == "in_notice")
        )
        # The village shows its 红黑榜 on the public board too.
        village_services.update_village(demo.admin, demo.village.id, {"publish_rankings": True})
        event = db.session.scalar(select(Event).where(Event.rotating.is_(False)).order_by(Event.id))
        token = tokens.static_token(event.id)
    return village, shop_id, redemption, own_claim, in_notice, token


def test_every_villager_page_is_accessible_on_a_small_phone(live_server, phone_context):
    base = live_server.url
    village, shop_id, redemption, own_claim, in_notice, token = _data(live_server.app)
    assert own_claim and in_notice
    problems: list[str] = []
    page = phone_context.new_page()

    logged_out = {
        "login": "/login",
        "activation": "/activate",
        "event landing (logged out)": f"/c/{token}",
        "expired or wrong code": "/c/E9999.0.AAAAAAAAAAAAA",
        "notice board (logged out)": f"/board/{village}",
        "红黑榜 (public)": f"/board/{village}/honor",
    }
    for name, path in logged_out.items():
        response = page.goto(base + path)
        assert response is not None and response.status in (200, 400), (name, response and response.status)
        _check(page, name, problems)
        if name == "login":  # a phone number and a PIN: the numeric keyboard; then a wrong PIN
            assert page.get_attribute("#username", "inputmode") == "numeric"
            assert page.get_attribute("#password", "inputmode") == "numeric"
            page.fill("#username", VILLAGER)
            page.fill("#password", "000000")
            page.click("main button[type=submit]")
            page.wait_for_selector("main .error")
            _check(page, "login refused", problems)
        if name == "activation":  # the form with its field errors
            page.fill("#phone", "13900000000")
            page.fill("#proof", "ZZZZZZ")
            page.fill("#pin", "123")
            page.fill("#pin_again", "124")
            page.click("main button[type=submit]")
            page.wait_for_selector("main .error")
            _check(page, "activation refused", problems)

    login(page, base, VILLAGER, VILLAGER_PIN)
    page.goto(base + "/")
    _check(page, "home", problems)
    _on_first_screen(page, "home", "img[data-testid=card]", problems)

    page.goto(f"{base}/c/{token}")
    _check(page, "event landing", problems)
    _on_first_screen(page, "event landing", "[data-testid=checkin]", problems)
    page.click("[data-testid=checkin]")
    page.wait_for_selector("[data-testid=result]")
    _check(page, "check-in result", problems)

    logged_in = {
        "claim form": "/claims/new",
        "my claims": "/claims/mine",
        "my claim": f"/claims/{own_claim}",
        "notice board": f"/board/{village}",
        "ledger fingerprint": f"/board/{village}/ledger",
        "红黑榜": f"/board/{village}/honor",
        "points shop": "/shop/",
        "what I can get": f"/shop/{shop_id}/catalogue",
        "receipt": f"/shop/receipts/{redemption}",
        "objection form": f"/claims/{in_notice}/object",
    }
    for name, path in logged_in.items():
        response = page.goto(base + path)
        assert response is not None and response.status == 200, (name, response and response.status)
        _check(page, name, problems)

    # The objection form from the board's button, once the phone dropped its session cookie (as WeChat's
    # WebView may): shown again with a plain request to retry and the reason kept; the retry goes through.
    page.goto(f"{base}/board/{village}")
    page.locator(f"a[href='/claims/{in_notice}/object']:visible").click()
    page.fill("#reason", "这次防汛值守我也在场，他只去了一晚")
    phone_context.clear_cookies(name="session")
    page.click("main button[type=submit]")
    retry = page.wait_for_selector("[data-testid=csrf-retry]")
    assert "请" in retry.text_content() and "400" not in page.text_content("main")
    assert page.input_value("#reason") == "这次防汛值守我也在场，他只去了一晚"
    _check(page, "form shown again", problems)
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=objected]")
    _check(page, "objection received", problems)

    assert problems == [], "\n".join(problems)
