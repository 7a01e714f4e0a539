"""Command-line tools of the points shop, and its part of the demo village."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from .. import demo
from ..inputs import ID
from ..ledger import services as ledger
from . import services

# (name, unit, price in points, opening stock, monthly limit per household)
DEMO_GOODS = [
    ("大米", "袋(5斤)", 30, 40, 2),
    ("食用油", "桶(1.8升)", 50, 20, 1),
    ("食盐", "袋", 5, 100, None),
    ("酱油", "瓶", 10, 50, None),
    ("香皂", "块", 8, 60, None),
    ("洗衣粉", "袋", 15, 40, None),
    ("毛巾", "条", 12, 30, None),
    ("牙膏", "支", 10, 40, None),
    ("鸡蛋", "盒(10个)", 20, 0, 2),
]


def seed_shop(demo_data: demo.Demo) -> None:
    """Give the demo shop its ledger account and a shelf of everyday goods."""
    shop = demo_data.shop
    ledger.open_shop_account(village_id=shop.village_id, shop_id=shop.id)
    for name, unit, price, stock, limit in DEMO_GOODS:
        services.create_item(
            demo_data.shopkeeper,
            shop.id,
            {"name": name, "unit": unit, "price_points": price, "stock": stock, "monthly_limit": limit},
        )
    demo_data.notes.append(
        f"Points shop {shop.name}: {len(DEMO_GOODS)} goods; counter at /shop/{shop.id}/counter "
        f"(shopkeeper login above)."
    )


@click.command("verify-stock")
@click.option("--shop", "shop_id", type=ID, default=None, help="Only this shop.")
@with_appcontext
def verify_stock_command(shop_id: int | None) -> None:
    """Check that every item's stock equals the sum of its movements; exit 0 when so, 1 when not."""
    result = services.verify_stock(shop_id)
    if result["ok"]:
        click.echo(f"Stock OK: {result['items']} items, {result['movements']} movements.")
        return
    click.echo(
        f"Stock BROKEN at item {result['item_id']} (movement {result['movement_id']}): {result['reason']}",
        err=True,
    )
    sys.exit(1)


commands = [verify_stock_command]
