"""The points shop's business rules: catalogue, stock log, redemption, voids and monthly settlement.

Concurrency, and the one lock order used everywhere (so PostgreSQL never deadlocks):

    shop row  ->  item rows in id order  ->  (ledger) village chain head  ->  (ledger) accounts

Every write that touches a shop's stock, redemptions or closed months first takes its shop row with
SELECT ... FOR NO KEY UPDATE (on SQLite, `transaction()` has already taken the database's write lock).
That makes one shop's counter serial — as it is in the real shop — so idempotency, stock, monthly
limits and month closing are all decided on committed data. Item rows are then locked in id order
(belt and braces for any writer that forgets the shop lock), and only then is the ledger called,
which locks the village's chain head. Ledger postings from other domains take the chain head without
ever asking for a shop or item lock, so no cycle can form.

Days and months are those of the configured zone (Asia/Shanghai by default): a monthly limit resets
at local midnight on the 1st, and "the same day" for a shopkeeper's void is the local calendar day.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Select, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..auth import audit
from ..auth import policy as auth_policy
from ..auth.models import User
from ..auth.scope import ensure_manages_village, visible_village_ids
from ..checkpoints import services as checkpoints
from ..clock import local_date, local_month
from ..database import is_sqlite, savepoint, transaction, utcnow
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..households.models import Household
from ..i18n import request_gettext as _
from ..i18n import stored_gettext
from ..ledger import services as ledger
from ..ledger.hashing import request_digest
from ..spreadsheets import SafeCsvWriter, append_row
from ..villages.models import Village
from . import policy
from .models import MonthClosure, Redemption, RedemptionLine, RedemptionVoid, Shop, ShopItem, StockMovement

MAX_QUANTITY = 1000
MAX_STOCK = 1_000_000
MAX_LINES = 50
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_SIDE = 800

# The clock of the shop; tests replace it to stand on either side of a month boundary.
clock: Callable[[], datetime] = utcnow


# --- time -------------------------------------------------------------------------------------------


def parse_month(value: str) -> str:
    """A YYYY-MM string, checked; anything else is a 422."""
    try:
        parsed = datetime.strptime(value or "", "%Y-%m")
    except ValueError:
        parsed = None
    if parsed is None or len(value) != 7 or not 2000 <= parsed.year <= 2999:
        raise ValidationFailed(
            detail=_("The month must look like 2026-03."), errors={"month": [_("Use YYYY-MM.")]}
        )
    return value


def current_month() -> str:
    return local_month(clock())


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
    # MATERIALIZED, and reached through EXISTS (an InitPlan): the shop row is locked before any item.
    shop_lock = (
        select(Shop.id).where(Shop.id == shop_id).with_for_update(key_share=True).cte("shop_lock")
    ).prefix_with("MATERIALIZED")
    query = (
        select(ShopItem)
        .where(
            ShopItem.id.in_(sorted(set(item_ids))),
            ShopItem.shop_id == shop_id,
            exists(select(shop_lock.c.id)),
        )
        .order_by(ShopItem.id)
        .with_for_update(key_share=True, of=ShopItem)
        .execution_options(populate_existing=True)
    )
    return {item.id: item for item in db.session.scalars(query)}


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


# --- customers at the counter -----------------------------------------------------------------------


def household_for_shop(
    shop: Shop, *, household_id: int | None = None, card_token: str | None = None, code: str | None = None
) -> Household:
    """The household a shop may serve: of the shop's village and active; anything else looks absent."""
    from ..households import services as households

    if card_token:
        household = households.household_from_card(card_token)
    elif code:
        household = households.household_by_code(code.strip()[:12])
    elif household_id is not None:
        household = db.session.get(Household, household_id)
    else:
        raise ValidationFailed(errors={"household_id": [_("Give a household or a card.")]})
    if household is None or household.village_id != shop.village_id or not household.active:
        raise NotFound("not-found", _("No such household."))
    return household


def monthly_used(household_id: int, item_ids: Sequence[int], month: str) -> dict[int, int]:
    """Quantities of each item the household redeemed in a month, voided redemptions not counted."""
    if not item_ids:
        return {}
    rows = db.session.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.quantity))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .where(
            Redemption.household_id == household_id,
            Redemption.month == month,
            RedemptionLine.item_id.in_(list(item_ids)),
            ~exists().where(RedemptionVoid.redemption_id == Redemption.id),
        )
        .group_by(RedemptionLine.item_id)
    )
    return {item_id: int(total or 0) for item_id, total in rows}


def customer(actor: User, shop_id: int, **identity: Any) -> dict[str, Any]:
    """What the counter shows after a scan: household, balance, and what is left of monthly limits."""
    shop = staff_shop(actor, shop_id)
    household = household_for_shop(shop, **identity)
    items = db.session.scalars(
        select(ShopItem).where(ShopItem.shop_id == shop.id, ShopItem.monthly_limit.is_not(None))
    ).all()
    used = monthly_used(household.id, [i.id for i in items], current_month())
    return {
        "household_id": household.id,
        "code": household.code,
        "head_name": household.head_name,
        "balance": ledger.household_balance(household.id),
        "limits": [
            {
                "item_id": i.id,
                "limit": i.monthly_limit,
                "used": used.get(i.id, 0),
                "remaining": max(0, (i.monthly_limit or 0) - used.get(i.id, 0)),
            }
            for i in items
        ],
    }


# --- redemption -------------------------------------------------------------------------------------


@dataclass
class RedeemResult:
    redemption: Redemption
    replayed: bool


def _check_lines(lines: Sequence[dict[str, Any]]) -> None:
    if not 1 <= len(lines) <= MAX_LINES:
        raise ValidationFailed(errors={"lines": [_("From 1 to %(n)d lines.", n=MAX_LINES)]})
    seen: set[int] = set()
    for index, line in enumerate(lines):
        if line["item_id"] in seen:
            raise ValidationFailed(
                errors={"lines": {str(index): {"item_id": [_("This item is already on another line.")]}}}
            )
        seen.add(line["item_id"])
        if not 1 <= line["quantity"] <= MAX_QUANTITY:
            raise ValidationFailed(
                errors={"lines": {str(index): {"quantity": [_("From 1 to %(n)d.", n=MAX_QUANTITY)]}}}
            )


def redemption_key(actor: User, idempotency_key: str) -> str:
    """The stored key: per user, so two counters that happen to pick one key never collide."""
    return f"redeem:{actor.id}:{idempotency_key}"


def redeem(
    actor: User,
    *,
    shop_id: int,
    lines: Sequence[dict[str, Any]],
    idempotency_key: str,
    household_id: int | None = None,
    card_token: str | None = None,
    request_hash: str | None = None,
) -> RedeemResult:
    """Hand out goods for points: ledger posting and stock movements in one transaction, all or nothing.

    A repeat of the idempotency key with the same request returns the first redemption (replayed=True);
    with another request it is refused with 422 idempotency-key-reused.
    """
    valid_key = isinstance(idempotency_key, str) and 1 <= len(idempotency_key) <= 100
    key = redemption_key(actor, idempotency_key) if valid_key else None
    # The shop, the household and an earlier redemption under this key in one read; the checks below
    # then find the rows in the session instead of reading each.
    earlier, _held = _prefetch(shop_id, household_id, key)
    policy.ensure_works_counter(actor)
    shop = staff_shop(actor, shop_id)
    if not valid_key or key is None:
        raise ValidationFailed(errors={"idempotency_key": [_("From 1 to 100 characters.")]})
    _check_lines(lines)
    if request_hash is None:
        request_hash = request_digest(
            {
                "shop_id": shop_id,
                "household_id": household_id,
                "card_token": card_token,
                "lines": [[line["item_id"], line["quantity"]] for line in lines],
            }
        )
    # A replay must answer even if the card was reissued since or the shop closed: look first.
    if earlier is not None:
        return RedeemResult(_replayed(earlier, request_hash), True)
    if not shop.active:
        raise DomainError("shop-closed", _("This shop is closed."))
    household = household_for_shop(shop, household_id=household_id, card_token=card_token)
    household_id = household.id

    with transaction():
        now = clock()
        month = local_month(now)
        items = _lock_shop_and_items(shop.id, [line["item_id"] for line in lines])
        try:
            _check_sale(household_id, lines, items, month)
        except DomainError:
            # The first copy of this very request may have committed while we waited for the shop: its
            # answer is the answer, even if it took the last of the stock.
            replay = _replay(key, request_hash)
            if replay is not None:
                return RedeemResult(replay, True)
            raise
        total = sum(items[line["item_id"]].price_points * line["quantity"] for line in lines)
        summary = ", ".join(f"{items[line['item_id']].name}×{line['quantity']}" for line in lines)
        memo = f"{shop.name}: {summary}"[: ledger.MAX_MEMO_LENGTH]
        tx = _post_redemption(
            shop, actor, household_id=household_id, total=total, key=key, memo=memo, request_hash=request_hash
        )
        if tx.balances_after is None:
            # The ledger already holds this key: the first copy of this request committed meanwhile.
            replay = _replay(key, request_hash)
            if replay is None:
                raise RuntimeError(f"shop: ledger key {key!r} without its redemption")
            return RedeemResult(replay, True)
        redemption = Redemption(
            shop_id=shop.id,
            village_id=shop.village_id,
            household_id=household_id,
            idempotency_key=key,
            request_hash=request_hash,
            total_points=total,
            # Returned by the posting statement: no second read of the balance.
            balance_after=tx.balances_after[ledger.household_key(household_id)],
            transaction_id=tx.id,
            month=month,
            actor_id=actor.id,
            created_at=now,
        )
        db.session.add(redemption)
        db.session.flush()
        receipt_lines = []
        for line in lines:
            item = items[line["item_id"]]
            receipt_line = RedemptionLine(
                redemption_id=redemption.id,
                item_id=item.id,
                name=item.name,
                unit=item.unit,
                price_points=item.price_points,
                quantity=line["quantity"],
                points=item.price_points * line["quantity"],
            )
            db.session.add(receipt_line)
            receipt_lines.append(receipt_line)
            _move(
                item,
                "redemption",
                -line["quantity"],
                actor_id=actor.id,
                redemption_id=redemption.id,
                note=redemption.receipt_no,
                at=now,
            )
        db.session.flush()
        # The answer is what was just written: no read of it after the commit.
        set_committed_value(redemption, "lines", sorted(receipt_lines, key=lambda r: r.id))
        set_committed_value(redemption, "void", None)
    return RedeemResult(redemption, False)


def _prefetch(
    shop_id: int, household_id: int | None, key: str | None
) -> tuple[tuple[int, str] | None, tuple[Any, ...]]:
    """Load the shop and the household into the session: (id, request_hash) of an earlier redemption
    under `key` if any, and the rows loaded (the session holds them only while someone else does)."""
    replay_id = select(Redemption.id).where(Redemption.idempotency_key == key).scalar_subquery()
    replay_hash = select(Redemption.request_hash).where(Redemption.idempotency_key == key).scalar_subquery()
    query = select(Shop, replay_id, replay_hash).where(Shop.id == shop_id)
    if household_id is not None:
        query = query.add_columns(Household).outerjoin(Household, Household.id == household_id)
    row = db.session.execute(query).first()
    if row is None or key is None or row[1] is None:
        return None, tuple(row or ())
    return (row[1], row[2]), tuple(row)


def _replayed(earlier: tuple[int, str], request_hash: str) -> Redemption:
    if earlier[1] != request_hash:
        raise DomainError(
            "idempotency-key-reused",
            _("This Idempotency-Key was already used for a different redemption."),
            status=422,
        )
    return _load_redemption(earlier[0])


def _check_sale(
    household_id: int, lines: Sequence[dict[str, Any]], items: dict[int, ShopItem], month: str
) -> None:
    """Every line's item on sale, in stock and within its monthly limit (under the shop lock)."""
    for index, line in enumerate(lines):
        item = items.get(line["item_id"])
        if item is None:
            raise ValidationFailed(
                detail=_("No such item in this shop."),
                errors={"lines": {str(index): {"item_id": [_("No such item in this shop.")]}}},
            )
        if not item.active:
            raise DomainError(
                "item-inactive",
                _("%(name)s is no longer on sale.", name=item.name),
                lines=[{"item_id": item.id, "name": item.name}],
            )

    short = [
        {
            "item_id": item.id,
            "name": item.name,
            "requested": line["quantity"],
            "available": item.stock,
        }
        for line in lines
        if (item := items[line["item_id"]]).stock < line["quantity"]
    ]
    if short:
        raise DomainError(
            "out-of-stock",
            _("Not enough in stock: %(names)s.", names=", ".join(s["name"] for s in short)),
            lines=short,
        )

    limited = [items[line["item_id"]] for line in lines if items[line["item_id"]].monthly_limit]
    used = monthly_used(household_id, [i.id for i in limited], month)
    over = []
    for line in lines:
        item = items[line["item_id"]]
        if item.monthly_limit is None:
            continue
        already = used.get(item.id, 0)
        if already + line["quantity"] > item.monthly_limit:
            over.append(
                {
                    "item_id": item.id,
                    "name": item.name,
                    "requested": line["quantity"],
                    "used": already,
                    "limit": item.monthly_limit,
                    "remaining": max(0, item.monthly_limit - already),
                }
            )
    if over:
        raise DomainError(
            "limit-reached",
            _("Over this month's limit: %(names)s.", names=", ".join(o["name"] for o in over)),
            lines=over,
            month=month,
        )


def _post_redemption(
    shop: Shop, actor: User, *, household_id: int, total: int, key: str, memo: str, request_hash: str
) -> Any:
    """The ledger posting of a redemption; a shop made before the ledger gets its account on first use."""
    for attempt in (1, 2):
        try:
            return ledger.redeem(
                village_id=shop.village_id,
                household_id=household_id,
                shop_id=shop.id,
                points=total,
                idempotency_key=key,
                actor_id=actor.id,
                memo=memo,
                request_hash=request_hash,
            )
        except DomainError as exc:
            if exc.code == "account-not-found" and attempt == 1:
                # Nothing was written; open the account (if that is what is missing) and post again.
                open_shop_account(shop)
                continue
            if exc.code == "insufficient-balance":
                balance = exc.extra.get("balance", ledger.household_balance(household_id))
                raise DomainError(
                    "insufficient-balance",
                    _(
                        "The household has %(balance)d points; %(total)d are needed.",
                        balance=balance,
                        total=total,
                    ),
                    balance=balance,
                    required=total,
                    shortfall=total - balance,
                ) from exc
            raise
    raise AssertionError("unreachable")


def _replay(key: str, request_hash: str) -> Redemption | None:
    existing = db.session.execute(
        select(Redemption.id, Redemption.request_hash).where(Redemption.idempotency_key == key)
    ).one_or_none()
    if existing is None:
        return None
    if existing[1] != request_hash:
        raise DomainError(
            "idempotency-key-reused",
            _("This Idempotency-Key was already used for a different redemption."),
            status=422,
        )
    return _load_redemption(existing[0])


def _load_redemption(redemption_id: int) -> Redemption:
    return db.session.scalars(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .options(selectinload(Redemption.lines), selectinload(Redemption.void))
        .execution_options(populate_existing=True)
    ).one()


def get_redemption(actor: User, redemption_id: int) -> Redemption:
    """A redemption the actor may see: its shop's staff, admins in scope, the household's villagers."""
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None or not policy.sees_redemption(actor, redemption):
        raise NotFound("not-found", _("No such redemption."))
    audit.note_household_view(actor, redemption.household_id)
    return _load_redemption(redemption.id)


def void_redemption(actor: User, redemption_id: int, reason: str) -> Redemption:
    """Undo a redemption: points and stock come back through reversal entries, with a reason.

    A shopkeeper may void only on the day of the redemption (local time), an admin at any time. A void
    of a redemption whose month is closed lands in the month of the void instead of rewriting it.
    """
    redemption = get_redemption(actor, redemption_id)
    policy.ensure_works_counter(actor)
    if not reason or not reason.strip():
        raise ValidationFailed(detail=_("A reason is required."), errors={"reason": [_("Required.")]})
    reason = reason.strip()[:200]
    with transaction():
        _lock_shop(redemption.shop_id)
        if db.session.scalar(select(RedemptionVoid.id).where(RedemptionVoid.redemption_id == redemption.id)):
            raise DomainError("already-voided", _("This redemption was already voided."))
        now = clock()
        policy.ensure_void_in_time(actor, local_date(redemption.created_at), local_date(now))
        lines = db.session.scalars(
            select(RedemptionLine).where(RedemptionLine.redemption_id == redemption.id)
        ).all()
        items = _lock_items(redemption.shop_id, [line.item_id for line in lines])
        closed = db.session.scalar(
            select(MonthClosure.id).where(
                MonthClosure.shop_id == redemption.shop_id, MonthClosure.month == redemption.month
            )
        )
        tx = ledger.reverse(
            transaction_id=redemption.transaction_id,
            idempotency_key=f"void:{redemption.id}",
            actor_id=actor.id,
            memo=_("Void of receipt %(no)s: %(reason)s", no=redemption.receipt_no, reason=reason)[
                : ledger.MAX_MEMO_LENGTH
            ],
        )
        db.session.add(
            RedemptionVoid(
                redemption_id=redemption.id,
                reason=reason,
                transaction_id=tx.id,
                month=local_month(now) if closed else redemption.month,
                actor_id=actor.id,
                created_at=now,
            )
        )
        for line in lines:
            _move(
                items[line.item_id],
                "void",
                line.quantity,
                actor_id=actor.id,
                redemption_id=redemption.id,
                note=reason,
                at=now,
            )
        db.session.flush()
    return _load_redemption(redemption.id)


def list_redemptions(
    actor: User,
    *,
    shop_id: int | None = None,
    household_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Select:
    """Redemptions in scope, newest first, filtered by shop, household and [start, end)."""
    query = select(Redemption).options(selectinload(Redemption.lines), selectinload(Redemption.void))
    policy.ensure_lists_redemptions(actor)
    if auth_policy.is_villager(actor):
        query = query.where(Redemption.household_id == (actor.household_id or -1))
        if shop_id is not None:
            query = query.where(Redemption.shop_id == shop_id)
    elif policy.only_own_shop(actor):
        if shop_id is not None:
            staff_shop(actor, shop_id)
        query = query.where(Redemption.shop_id == (actor.shop_id or -1))
    else:
        if shop_id is not None:
            staff_shop(actor, shop_id)
            query = query.where(Redemption.shop_id == shop_id)
        ids = visible_village_ids(actor)
        if ids is not None:
            query = query.where(Redemption.village_id.in_(ids))
    if household_id is not None:
        query = query.where(Redemption.household_id == household_id)
    if start is not None:
        query = query.where(Redemption.created_at >= start)
    if end is not None:
        query = query.where(Redemption.created_at < end)
    return query.order_by(Redemption.created_at.desc(), Redemption.id.desc())


def recent_receipts(household_id: int, limit: int = 5) -> list[Redemption]:
    """A household's latest redemptions, for its home page."""
    return list(
        db.session.scalars(
            select(Redemption)
            .where(Redemption.household_id == household_id)
            .options(
                selectinload(Redemption.lines),
                selectinload(Redemption.void),
                selectinload(Redemption.shop),
            )
            .order_by(Redemption.created_at.desc(), Redemption.id.desc())
            .limit(limit)
        )
    )


# --- settlement -------------------------------------------------------------------------------------


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def settlement(actor: User, shop_id: int, month: str) -> dict[str, Any]:
    """What a shop gave out in a month, net of voids counted in it, and its value in yuan.

    Redemptions count in their own month; a void counts in the redemption's month while that month is
    open, and in the month of the void once it is closed, so a closed month's figures never change.
    """
    shop = staff_shop(actor, shop_id)
    month = parse_month(month)
    village = db.session.get_one(Village, shop.village_id)
    given = db.session.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.quantity), func.sum(RedemptionLine.points))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .where(Redemption.shop_id == shop.id, Redemption.month == month)
        .group_by(RedemptionLine.item_id)
    ).all()
    returned = db.session.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.quantity), func.sum(RedemptionLine.points))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .join(RedemptionVoid, RedemptionVoid.redemption_id == Redemption.id)
        .where(Redemption.shop_id == shop.id, RedemptionVoid.month == month)
        .group_by(RedemptionLine.item_id)
    ).all()
    rows: dict[int, dict[str, int]] = {}
    for item_id, quantity, points in given:
        row = rows.setdefault(item_id, {"quantity": 0, "points": 0, "voided_quantity": 0, "voided_points": 0})
        row["quantity"] += int(quantity or 0)
        row["points"] += int(points or 0)
    for item_id, quantity, points in returned:
        row = rows.setdefault(item_id, {"quantity": 0, "points": 0, "voided_quantity": 0, "voided_points": 0})
        row["voided_quantity"] += int(quantity or 0)
        row["voided_points"] += int(points or 0)
    names = {i.id: i for i in db.session.scalars(select(ShopItem).where(ShopItem.id.in_(list(rows))))}
    closure = db.session.scalar(
        select(MonthClosure).where(MonthClosure.shop_id == shop.id, MonthClosure.month == month)
    )
    rate = closure.point_value_fen if closure else village.point_value_fen
    items = []
    for item_id in sorted(rows, key=lambda i: (names[i].name, i)):
        row = rows[item_id]
        net_points = row["points"] - row["voided_points"]
        items.append(
            {
                "item_id": item_id,
                "name": names[item_id].name,
                "unit": names[item_id].unit,
                "quantity": row["quantity"],
                "points": row["points"],
                "voided_quantity": row["voided_quantity"],
                "voided_points": row["voided_points"],
                "net_quantity": row["quantity"] - row["voided_quantity"],
                "net_points": net_points,
                "value_yuan": _yuan(net_points * rate),
            }
        )
    redemptions = (
        db.session.scalar(
            select(func.count()).where(Redemption.shop_id == shop.id, Redemption.month == month)
        )
        or 0
    )
    voids = (
        db.session.scalar(
            select(func.count())
            .select_from(RedemptionVoid)
            .join(Redemption, Redemption.id == RedemptionVoid.redemption_id)
            .where(Redemption.shop_id == shop.id, RedemptionVoid.month == month)
        )
        or 0
    )
    given_points = sum(i["points"] for i in items)
    voided_points = sum(i["voided_points"] for i in items)
    total = given_points - voided_points
    return {
        "shop_id": shop.id,
        "shop_name": shop.name,
        "village_id": village.id,
        "village_name": village.name,
        "month": month,
        "closed": closure is not None,
        "closed_at": closure.created_at if closure else None,
        "point_value_fen": rate,
        "redemptions": redemptions,
        "voids": voids,
        "given_points": given_points,
        "voided_points": voided_points,
        "total_points": total,
        "value_fen": total * rate,
        "value_yuan": _yuan(total * rate),
        "items": items,
    }


def close_month(actor: User, shop_id: int, month: str) -> dict[str, Any]:
    """Close a month that has ended (admins): its figures and rate are frozen; later voids go forward."""
    shop = staff_shop(actor, shop_id)
    policy.ensure_manages_shops(actor)
    month = parse_month(month)
    if month >= current_month():
        raise DomainError("month-not-ended", _("Only a month that has ended can be closed."))
    try:
        with transaction():
            _lock_shop(shop.id)
            if db.session.scalar(
                select(MonthClosure.id).where(MonthClosure.shop_id == shop.id, MonthClosure.month == month)
            ):
                raise DomainError("month-closed", _("This month is already closed."))
            figures = settlement(actor, shop.id, month)
            db.session.add(
                MonthClosure(
                    shop_id=shop.id,
                    month=month,
                    total_points=figures["total_points"],
                    point_value_fen=figures["point_value_fen"],
                    value_fen=figures["value_fen"],
                    actor_id=actor.id,
                    created_at=utcnow(),
                )
            )
            # The closed month's postings are now behind a signed head (docs/ledger.md, checkpoints).
            checkpoints.checkpoint_at_month_close(shop.village_id)
    except IntegrityError as exc:
        raise DomainError("month-closed", _("This month is already closed.")) from exc
    return settlement(actor, shop.id, month)


def closed_months(shop_id: int) -> list[MonthClosure]:
    return list(
        db.session.scalars(
            select(MonthClosure).where(MonthClosure.shop_id == shop_id).order_by(MonthClosure.month.desc())
        )
    )


SETTLEMENT_COLUMNS = (
    ("name", "Item"),
    ("unit", "Unit"),
    ("quantity", "Given out"),
    ("points", "Points"),
    ("voided_quantity", "Returned by voids"),
    ("voided_points", "Points returned"),
    ("net_quantity", "Net quantity"),
    ("net_points", "Net points"),
    ("value_yuan", "Value (yuan)"),
)


def _settlement_rows(data: dict[str, Any]) -> list[list[Any]]:
    header = [_(label) for _key, label in SETTLEMENT_COLUMNS]
    rows: list[list[Any]] = [
        [_("Shop"), data["shop_name"]],
        [_("Village"), data["village_name"]],
        [_("Month"), data["month"]],
        [_("Closed"), _("yes") if data["closed"] else _("no")],
        [_("Value of one point (fen)"), data["point_value_fen"]],
        [],
        header,
    ]
    for item in data["items"]:
        rows.append([item[key] for key, _label in SETTLEMENT_COLUMNS])
    rows.append(
        [
            _("Total"),
            "",
            sum(i["quantity"] for i in data["items"]),
            data["given_points"],
            sum(i["voided_quantity"] for i in data["items"]),
            data["voided_points"],
            sum(i["net_quantity"] for i in data["items"]),
            data["total_points"],
            data["value_yuan"],
        ]
    )
    return rows


def settlement_csv(data: dict[str, Any]) -> bytes:
    """The settlement as CSV, UTF-8 with a BOM so that Excel on Windows reads the Chinese right."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    for row in _settlement_rows(data):
        writer.writerow(row)
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def settlement_xlsx(data: dict[str, Any]) -> bytes:
    """The settlement as an Excel workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = data["month"]
    for row in _settlement_rows(data):
        append_row(sheet, [Decimal(v) if isinstance(v, str) and _is_money(v) else v for v in row])
    for cell in sheet[7]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 24
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _is_money(value: str) -> bool:
    head, dot, tail = value.lstrip("-").partition(".")
    return bool(dot) and head.isdigit() and tail.isdigit() and len(tail) == 2


def month_choices(shop_id: int, around: str | None = None) -> list[str]:
    """Months worth offering on the settlement page: those with redemptions or voids, and this one."""
    months = set(db.session.scalars(select(Redemption.month).where(Redemption.shop_id == shop_id).distinct()))
    months.update(
        db.session.scalars(
            select(RedemptionVoid.month)
            .join(Redemption, Redemption.id == RedemptionVoid.redemption_id)
            .where(Redemption.shop_id == shop_id)
            .distinct()
        )
    )
    months.add(around or current_month())
    return sorted(months, reverse=True)


__all__ = [
    "RedeemResult",
    "close_month",
    "create_item",
    "create_shop",
    "customer",
    "list_items",
    "list_redemptions",
    "redeem",
    "restock",
    "settlement",
    "stocktake",
    "update_item",
    "verify_stock",
    "void_redemption",
]
