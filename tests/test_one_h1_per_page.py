"""Every HTML page has exactly one <h1>, for every role: a screen reader's first jump lands on what it is.

The test walks every GET route of the app (not the JSON API) with the demo village's ids filled in, as a
visitor, a villager, a shopkeeper, a clerk and the admin; error pages count too.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from merit_bank.claims.models import Claim
from merit_bank.demo import ADMIN, CLERK, SHOPKEEPER, VILLAGER_PIN, seed_demo
from merit_bank.events import tokens
from merit_bank.events.models import Event
from merit_bank.extensions import db
from merit_bank.ledger.models import Transaction
from merit_bank.rules.models import Rule
from merit_bank.shop import services as shop_services
from merit_bank.shop.models import ShopItem
from tests.factories import page_login

H1 = re.compile(r"<h1[\s>]", re.IGNORECASE)
# Not pages: downloads, images, the service worker, the language switch (a redirect).
SKIPPED = {"shop.photo", "shop.settlement_download", "claims.photo", "events.scan_service_worker"}
SKIPPED |= {"web.set_language", "healthz", "static"}
SKIPPED |= {"statements.household_pdf", "statements.village_pdf"}


def _ids(app) -> dict[str, object]:
    with app.app_context():
        demo = seed_demo()
        salt = select(ShopItem).where(ShopItem.shop_id == demo.shop.id, ShopItem.name == "食盐")
        item = db.session.scalar(salt)
        redemption = shop_services.redeem(
            demo.shopkeeper,
            shop_id=demo.shop.id,
            lines=[{"item_id": item.id, "quantity": 1}],
            idempotency_key="h1-salt",
            household_id=demo.households[1].id,
        ).redemption.id
        event = db.session.scalar(select(Event).order_by(Event.id))
        return {
            "token": tokens.static_token(event.id),
            "code": demo.village.code,
            "village_code": demo.village.code,
            "event_id": event.id,
            "claim_id": db.session.scalar(select(Claim.id).order_by(Claim.id)),
            "rule_id": db.session.scalar(select(Rule.id).order_by(Rule.id)),
            "shop_id": demo.shop.id,
            "item_id": item.id,
            "redemption_id": redemption,
            "household_id": demo.households[1].id,
            "village_id": demo.village.id,
            "transaction_id": db.session.scalar(select(Transaction.id).order_by(Transaction.id)),
            # The demo raises no supervision flag: the flag page answers "not found", which has an h1 too.
            "flag_id": 1,
        }


def _pages(app, ids: dict[str, object]) -> list[str]:
    paths = ["/api/docs", "/no-such-page"]
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIPPED or rule.rule.startswith("/api/"):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{name}>", str(ids[name]), path)
        paths.append(path)
    return sorted(set(paths))


def test_every_page_has_exactly_one_h1_for_every_role(app):
    ids = _ids(app)
    pages = _pages(app, ids)
    logins = {
        "visitor": None,
        "villager": ("13800000002", VILLAGER_PIN),
        "shopkeeper": SHOPKEEPER,
        "clerk": CLERK,
        "admin": ADMIN,
    }
    wrong, seen = [], 0
    for who, credentials in logins.items():
        client = app.test_client()
        if credentials is not None:
            assert page_login(client, *credentials).status_code == 302, who
        for path in pages:
            response = client.get(path)
            if response.status_code in (301, 302, 303) or response.mimetype != "text/html":
                continue
            seen += 1
            count = len(H1.findall(response.get_data(as_text=True)))
            if count != 1:
                wrong.append(f"{who} {path} ({response.status_code}): {count} h1")
    assert seen > 60
    assert wrong == []
