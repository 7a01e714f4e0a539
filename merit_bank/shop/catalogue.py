"""The shop's catalogue and stock: shops, items, the stock log (restock, stocktake, redemptions, voids),
photos, and the proof that every cached stock is the sum of its log.

Concurrency, and the one lock order used everywhere (so PostgreSQL never deadlocks):

    shop row  ->  item rows in id order  ->  (ledger) village chain head  ->  (ledger) accounts

Every write that touches a shop's stock, redemptions or closed months first takes its shop row with
SELECT ... FOR NO KEY UPDATE (on SQLite, `transaction()` has already taken the database's write lock).
That makes one shop's counter serial — as it is in the real shop — so idempotency, stock, monthly
limits and month closing are all decided on committed data. Item rows are then locked in id order
(belt and braces for any writer that forgets the shop lock), and only then is the ledger called,
which locks the village's chain head. Ledger postings from other domains take the chain head without
ever asking for a shop or item lock, so no cycle can form.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Select, bindparam, exists, select
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..auth.scope import ensure_manages_village, visible_village_ids
from ..database import is_sqlite, savepoint, transaction, utcnow
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import request_gettext as _
from ..i18n import stored_gettext
from ..ledger import services as ledger
from ..villages.models import Village
from . import policy
from .models import Shop, ShopItem, StockMovement

MAX_STOCK = 1_000_000
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_SIDE = 800


# --- scope ------------------------------------------------------------------------------------------


def _shop(shop_id: int) -> Shop:
    shop = db.session.get(Shop, shop_id)
    if shop is None:
        raise NotFound("not-found", _("No such shop."))
    return shop


def staff_shop(actor: User, shop_id: int) -> Shop:
    """A shop the actor runs: a shopkeeper's own shop, or any shop of an admin's scope; others 404."""
    shop = _shop(shop_id)
    if policy.runs_shop(actor, shop):
        return shop
    raise NotFound("not-found", _("No such shop."))


def readable_shop(actor: User, shop_id: int) -> Shop:
    """A shop whose catalogue the actor may read: staff as above, villagers and clerks of its village."""
    shop = _shop(shop_id)
    if policy.browses_shop(actor, shop):
        return shop
    return staff_shop(actor, shop_id)


def list_shops(actor: User, village_id: int | None = None) -> Select:
    """Shops the actor may see, by id."""
    query = select(Shop).order_by(Shop.id)
    if policy.only_own_shop(actor):
        query = query.where(Shop.id == (actor.shop_id or -1))
    else:
        ids = visible_village_ids(actor)
        if ids is not None:
            query = query.where(Shop.village_id.in_(ids))
    if village_id is not None:
        query = query.where(Shop.village_id == village_id)
    return query


# --- shops and items --------------------------------------------------------------------------------


def create_shop(actor: User, data: dict[str, Any]) -> Shop:
    """A new shop in a village, with the ledger account its redemptions pay into (admins)."""
    village_id = data["village_id"]
    ensure_manages_village(actor, village_id, clerks=False)
    if db.session.get(Village, village_id) is None:
        raise NotFound("not-found", _("No such village."))
    with transaction():
        shop = Shop(village_id=village_id, name=data["name"].strip(), active=True)
        db.session.add(shop)
        db.session.flush()
        ledger.open_shop_account(village_id=village_id, shop_id=shop.id)
    return shop


def update_shop(actor: User, shop_id: int, data: dict[str, Any]) -> Shop:
    """Rename a shop or open/close it (admins)."""
    shop = staff_shop(actor, shop_id)
    policy.ensure_manages_shops(actor)
    with transaction():
        if "name" in data:
            shop.name = data["name"].strip()
        if "active" in data:
            shop.active = data["active"]
    return shop


def open_shop_account(shop: Shop) -> None:
    """Make sure the shop has its ledger account (shops made before the ledger existed lack one)."""
    from ..ledger.models import Account

    if db.session.scalar(select(Account.id).where(Account.shop_id == shop.id)) is not None:
        return
    try:
        with savepoint():
            ledger.open_shop_account(village_id=shop.village_id, shop_id=shop.id)
    except IntegrityError:
        # Opened by a concurrent first redemption: exactly what was wanted.
        pass


def list_items(actor: User, shop_id: int, *, include_inactive: bool | None = None) -> list[ShopItem]:
    """A shop's items by name; villagers and clerks see the active ones only."""
    shop = readable_shop(actor, shop_id)
    if include_inactive is None:
        include_inactive = policy.sees_inactive_items(actor)
    query = select(ShopItem).where(ShopItem.shop_id == shop.id).order_by(ShopItem.name, ShopItem.id)
    if not include_inactive:
        query = query.where(ShopItem.active.is_(True))
    return list(db.session.scalars(query))


def get_item(actor: User, shop_id: int, item_id: int) -> ShopItem:
    shop = readable_shop(actor, shop_id)
    item = db.session.get(ShopItem, item_id)
    if item is None or item.shop_id != shop.id or (not policy.sees_inactive_items(actor) and not item.active):
        raise NotFound("not-found", _("No such item."))
    return item


def _lock_shop(shop_id: int) -> None:
    if not is_sqlite():
        # NO KEY UPDATE: a mutex among the shop's writers that still lets rows referring to the shop
        # (users, items) be inserted meanwhile.
        db.session.execute(select(Shop.id).where(Shop.id == shop_id).with_for_update(key_share=True))


def _lock_shop_and_items(shop_id: int, item_ids: Sequence[int]) -> dict[int, ShopItem]:
    """_lock_shop, then _lock_items, in one round trip: the shop lock is held from here to the commit."""
    if is_sqlite():
        return _lock_items(shop_id, item_ids)
    params = {"shop_id": shop_id, "item_ids": sorted(set(item_ids))}
    return {item.id: item for item in db.session.scalars(_LOCK_SHOP_AND_ITEMS, params)}


# Built once (a redemption's hottest read). MATERIALIZED, and reached through EXISTS (an InitPlan): the
# shop row is locked before any item.
_SHOP_LOCK = (
    select(Shop.id).where(Shop.id == bindparam("shop_id")).with_for_update(key_share=True).cte("shop_lock")
).prefix_with("MATERIALIZED")
_LOCK_SHOP_AND_ITEMS = (
    select(ShopItem)
    .where(
        ShopItem.id.in_(bindparam("item_ids", expanding=True)),
        ShopItem.shop_id == bindparam("shop_id"),
        exists(select(_SHOP_LOCK.c.id)),
    )
    .order_by(ShopItem.id)
    .with_for_update(key_share=True, of=ShopItem)
    .execution_options(populate_existing=True)
)


def _lock_items(shop_id: int, item_ids: Sequence[int]) -> dict[int, ShopItem]:
    query = (
        select(ShopItem)
        .where(ShopItem.id.in_(sorted(set(item_ids))), ShopItem.shop_id == shop_id)
        .order_by(ShopItem.id)
        .execution_options(populate_existing=True)
    )
    if not is_sqlite():
        query = query.with_for_update(key_share=True)
    return {item.id: item for item in db.session.scalars(query)}


def _move(
    item: ShopItem,
    kind: str,
    quantity: int,
    *,
    actor_id: int | None,
    note: str = "",
    redemption_id: int | None = None,
    at: datetime | None = None,
) -> StockMovement:
    """Append a movement and update the cached stock with it; stock never goes below zero."""
    after = item.stock + quantity
    if after < 0:
        raise DomainError(
            "out-of-stock",
            _("Only %(n)d %(unit)s of %(name)s left.", n=item.stock, unit=item.unit, name=item.name),
            lines=[{"item_id": item.id, "name": item.name, "requested": -quantity, "available": item.stock}],
        )
    if after > MAX_STOCK:
        raise ValidationFailed(
            detail=_("Stock would exceed %(n)d.", n=MAX_STOCK), errors={"quantity": [_("Too large.")]}
        )
    item.stock = after
    item.updated_at = at or utcnow()
    movement = StockMovement(
        item_id=item.id,
        shop_id=item.shop_id,
        kind=kind,
        quantity=quantity,
        stock_after=after,
        redemption_id=redemption_id,
        note=note[:200],
        actor_id=actor_id,
        created_at=at or utcnow(),
    )
    db.session.add(movement)
    return movement


def create_item(actor: User, shop_id: int, data: dict[str, Any]) -> ShopItem:
    """Put goods on the shelf; the opening stock is the item's first movement."""
    shop = staff_shop(actor, shop_id)
    name = data["name"].strip()
    try:
        with transaction():
            _lock_shop(shop.id)
            if db.session.scalar(
                select(ShopItem.id).where(ShopItem.shop_id == shop.id, ShopItem.name == name)
            ):
                raise DomainError("duplicate-item", _("This shop already has an item named %(n)s.", n=name))
            item = ShopItem(
                shop_id=shop.id,
                name=name,
                unit=data["unit"].strip(),
                price_points=data["price_points"],
                monthly_limit=data.get("monthly_limit"),
                active=data.get("active", True),
                stock=0,
            )
            db.session.add(item)
            db.session.flush()
            if data.get("stock"):
                _move(item, "opening", data["stock"], actor_id=actor.id, note=stored_gettext("Opening stock"))
    except IntegrityError as exc:
        raise DomainError("duplicate-item", _("This shop already has an item named %(n)s.", n=name)) from exc
    return item


def update_item(actor: User, shop_id: int, item_id: int, data: dict[str, Any]) -> ShopItem:
    """Change an item's name, unit, price, monthly limit or active flag (never its stock)."""
    item = get_item(actor, shop_id, item_id)
    staff_shop(actor, shop_id)
    try:
        with transaction():
            _lock_shop(item.shop_id)
            item = _lock_items(item.shop_id, [item.id])[item.id]
            for field in ("name", "unit"):
                if field in data:
                    setattr(item, field, data[field].strip())
            for field in ("price_points", "monthly_limit", "active"):
                if field in data:
                    setattr(item, field, data[field])
            item.updated_at = utcnow()
            db.session.flush()
    except IntegrityError as exc:
        raise DomainError("duplicate-item", _("This shop already has an item with that name.")) from exc
    return item


def restock(actor: User, shop_id: int, item_id: int, quantity: int, note: str = "") -> ShopItem:
    """Goods delivered: stock goes up by `quantity`."""
    staff_shop(actor, shop_id)
    item = get_item(actor, shop_id, item_id)
    if not 1 <= quantity <= MAX_STOCK:
        raise ValidationFailed(errors={"quantity": [_("From 1 to %(n)d.", n=MAX_STOCK)]})
    with transaction():
        _lock_shop(item.shop_id)
        item = _lock_items(item.shop_id, [item.id])[item.id]
        _move(item, "restock", quantity, actor_id=actor.id, note=note or "")
    return item


def stocktake(actor: User, shop_id: int, item_id: int, counted: int, reason: str) -> ShopItem:
    """Set the stock to what was counted on the shelf; the difference is logged with its reason."""
    staff_shop(actor, shop_id)
    item = get_item(actor, shop_id, item_id)
    if not reason or not reason.strip():
        raise ValidationFailed(detail=_("A reason is required."), errors={"reason": [_("Required.")]})
    if not 0 <= counted <= MAX_STOCK:
        raise ValidationFailed(errors={"counted": [_("From 0 to %(n)d.", n=MAX_STOCK)]})
    with transaction():
        _lock_shop(item.shop_id)
        item = _lock_items(item.shop_id, [item.id])[item.id]
        # A count that agrees is logged too (quantity 0): the log shows when the shelf was checked.
        _move(item, "stocktake", counted - item.stock, actor_id=actor.id, note=reason.strip())
    return item


def item_movements(actor: User, shop_id: int, item_id: int) -> Select:
    """The item's stock log, newest first."""
    staff_shop(actor, shop_id)
    item = get_item(actor, shop_id, item_id)
    return select(StockMovement).where(StockMovement.item_id == item.id).order_by(StockMovement.id.desc())


def photo_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "shop"


def set_item_photo(actor: User, shop_id: int, item_id: int, stream: Any) -> ShopItem:
    """Store an uploaded photo, re-encoded as a small JPEG (never the client's bytes or file name)."""
    from PIL import Image, UnidentifiedImageError

    staff_shop(actor, shop_id)
    item = get_item(actor, shop_id, item_id)
    data = stream.read(PHOTO_MAX_BYTES + 1)
    if len(data) > PHOTO_MAX_BYTES:
        raise ValidationFailed(errors={"photo": [_("At most 5 MB.")]})
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        if image.width * image.height > 40_000_000:
            raise ValueError("too many pixels")
        image = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationFailed(errors={"photo": [_("Not a picture.")]}) from exc
    image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    folder = photo_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{item.id}-{secrets.token_hex(8)}.jpg"
    image.save(folder / name, "JPEG", quality=82)
    with transaction():
        item = db.session.get_one(ShopItem, item.id)
        item.photo = name
        item.updated_at = utcnow()
    return item


# --- stock verification -----------------------------------------------------------------------------


def verify_stock(shop_id: int | None = None, village_ids: list[int] | None = None) -> dict[str, Any]:
    """Prove every cached stock equals the sum of its movements and every running total is right.

    Returns {ok, items, movements} and, when something is wrong, item_id, movement_id and reason of
    the first bad row.
    """
    items_query = select(ShopItem.id, ShopItem.stock).order_by(ShopItem.id)
    moves_query = select(
        StockMovement.id, StockMovement.item_id, StockMovement.quantity, StockMovement.stock_after
    ).order_by(StockMovement.item_id, StockMovement.id)
    if shop_id is not None:
        items_query = items_query.where(ShopItem.shop_id == shop_id)
        moves_query = moves_query.where(StockMovement.shop_id == shop_id)
    if village_ids is not None:
        shops = select(Shop.id).where(Shop.village_id.in_(village_ids))
        items_query = items_query.where(ShopItem.shop_id.in_(shops))
        moves_query = moves_query.where(StockMovement.shop_id.in_(shops))
    cached = dict(db.session.execute(items_query).all())
    running: dict[int, int] = {}
    result: dict[str, Any] = {"ok": True, "items": len(cached), "movements": 0}

    def bad(item_id: int, movement_id: int | None, reason: str) -> dict[str, Any]:
        return {**result, "ok": False, "item_id": item_id, "movement_id": movement_id, "reason": reason}

    for count, (movement_id, item_id, quantity, stock_after) in enumerate(
        db.session.execute(moves_query), start=1
    ):
        result["movements"] = count
        total = running.get(item_id, 0) + quantity
        running[item_id] = total
        if total != stock_after:
            return bad(item_id, movement_id, f"stock_after {stock_after} != running sum {total}")
        if total < 0:
            return bad(item_id, movement_id, f"stock below zero ({total})")
    for item_id, stock in cached.items():
        if stock != running.get(item_id, 0):
            return bad(item_id, None, f"cached stock {stock} != sum of movements {running.get(item_id, 0)}")
    return result
