"""The points shop's services, by concern: catalogue and stock, redemption, settlement.

This module only re-exports them, so callers keep importing `shop.services`. The shop's clock lives in
`shop.months` (`months.clock`; tests replace it there).
"""

from __future__ import annotations

from .catalogue import (
    MAX_STOCK,
    create_item,
    create_shop,
    get_item,
    item_movements,
    list_items,
    list_shops,
    photo_folder,
    readable_shop,
    restock,
    set_item_photo,
    staff_shop,
    stocktake,
    update_item,
    update_shop,
    verify_stock,
)
from .months import current_month
from .redemption import (
    MAX_LINES,
    MAX_QUANTITY,
    RedeemResult,
    customer,
    get_redemption,
    list_redemptions,
    monthly_used,
    recent_receipts,
    redeem,
    void_redemption,
)
from .settlement import (
    close_month,
    closed_months,
    month_choices,
    settlement,
    settlement_csv,
    settlement_xlsx,
)

__all__ = [
    "MAX_LINES",
    "MAX_QUANTITY",
    "MAX_STOCK",
    "RedeemResult",
    "close_month",
    "closed_months",
    "create_item",
    "create_shop",
    "current_month",
    "customer",
    "get_item",
    "get_redemption",
    "item_movements",
    "list_items",
    "list_redemptions",
    "list_shops",
    "month_choices",
    "monthly_used",
    "photo_folder",
    "readable_shop",
    "recent_receipts",
    "redeem",
    "restock",
    "set_item_photo",
    "settlement",
    "settlement_csv",
    "settlement_xlsx",
    "staff_shop",
    "stocktake",
    "update_item",
    "update_shop",
    "verify_stock",
    "void_redemption",
]
