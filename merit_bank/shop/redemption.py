"""Redemption at the shop's counter: the customer looked up, goods handed out for points, voids, receipts.

The lock order is the catalogue's (merit_bank/shop/catalogue.py): shop row, item rows in id order,
then the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..auth import audit
from ..auth import policy as auth_policy
from ..auth.models import User
from ..auth.scope import visible_village_ids
from ..clock import local_date, local_month
from ..database import adopt, is_sqlite, transaction
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..households.models import Household
from ..i18n import request_gettext as _
from ..ledger import services as ledger
from ..ledger.hashing import request_digest
from . import months, policy
from .catalogue import _lock_items, _lock_shop, _lock_shop_and_items, _move, open_shop_account, staff_shop
from .models import MonthClosure, Redemption, RedemptionLine, RedemptionVoid, Shop, ShopItem

MAX_QUANTITY = 1000
MAX_LINES = 50


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
    used = monthly_used(household.id, [i.id for i in items], months.current_month())
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
        now = months.clock()
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
        values = {
            "shop_id": shop.id,
            "village_id": shop.village_id,
            "household_id": household_id,
            "idempotency_key": key,
            "request_hash": request_hash,
            "total_points": total,
            "month": month,
            "actor_id": actor.id,
            "created_at": now,
        }
        receipt = _Receipt.of(lines, items)
        # PostgreSQL: the redemption's rows are written by the posting's own statement (ledger.FollowUp),
        # so the shop's lock is held across one round trip fewer.
        follow_up = None if is_sqlite() else receipt.follow_up(values)
        tx = _post_redemption(
            shop,
            actor,
            household_id=household_id,
            total=total,
            key=key,
            memo=memo,
            request_hash=request_hash,
            follow_up=follow_up,
        )
        if tx.balances_after is None:
            # The ledger already holds this key: the first copy of this request committed meanwhile.
            replay = _replay(key, request_hash)
            if replay is None:
                raise RuntimeError(f"shop: ledger key {key!r} without its redemption")
            return RedeemResult(replay, True)
        # Returned by the posting statement: no second read of the balance.
        values["balance_after"] = tx.balances_after[ledger.household_key(household_id)]
        values["transaction_id"] = tx.id
        if is_sqlite():
            return RedeemResult(_write_redemption_rows(values, lines, items), False)
        if tx.follow_up is None:
            raise RuntimeError(f"shop: posting {key!r} ran without the redemption's writes")
    # The rows enter the session only now, once the commit has released the locks.
    return RedeemResult(receipt.adopt(values, items, *tx.follow_up), False)


def _write_redemption_rows(
    values: dict[str, Any], lines: Sequence[dict[str, Any]], items: dict[int, ShopItem]
) -> Redemption:
    """SQLite: the redemption, its lines and the stock movements through the ORM, row by row."""
    redemption = Redemption(**values)
    db.session.add(redemption)
    db.session.flush()
    receipt_lines = []
    for line in lines:
        item = items[line["item_id"]]
        receipt_line = RedemptionLine(redemption_id=redemption.id, **_line_values(item, line["quantity"]))
        db.session.add(receipt_line)
        receipt_lines.append(receipt_line)
        _move(
            item,
            "redemption",
            -line["quantity"],
            actor_id=values["actor_id"],
            redemption_id=redemption.id,
            note=redemption.receipt_no,
            at=values["created_at"],
        )
    db.session.flush()
    # The answer is what was just written: no read of it after the commit.
    set_committed_value(redemption, "lines", sorted(receipt_lines, key=lambda r: r.id))
    set_committed_value(redemption, "void", None)
    return redemption


def _line_values(item: ShopItem, quantity: int) -> dict[str, Any]:
    return {
        "item_id": item.id,
        "name": item.name,
        "unit": item.unit,
        "price_points": item.price_points,
        "quantity": quantity,
        "points": item.price_points * quantity,
    }


# A redemption's writes on PostgreSQL, in the posting's own statement (ledger.FollowUp): the redemption, its
# lines, the items' new stock and their movements (noted with the receipt number, Redemption.receipt_no).
# They read the new transaction (`tx`) and the household's balance after it (`lines`), and write nothing
# when the posting writes nothing. The shop and item locks are held across three round trips (the lock,
# the posting with these, COMMIT).
_WRITE_REDEMPTION = """, redemption AS (
    INSERT INTO shop_redemptions (shop_id, village_id, household_id, idempotency_key, request_hash,
        total_points, balance_after, transaction_id, month, actor_id, created_at)
    SELECT %(f_shop_id)s, %(f_village_id)s, %(f_household_id)s, %(f_idempotency_key)s, %(f_request_hash)s,
        %(f_total_points)s, (SELECT balance_after FROM lines WHERE kind = 'household'), tx.id, %(f_month)s,
        %(f_actor_id)s, %(f_created_at)s
    FROM tx
    RETURNING id
), receipt_lines AS (
    INSERT INTO shop_redemption_lines (redemption_id, item_id, name, unit, price_points, quantity, points)
    SELECT redemption.id, l.item_id, l.name, l.unit, l.price_points, l.quantity, l.points
    FROM redemption, unnest(CAST(%(f_l_item_id)s AS integer[]), CAST(%(f_l_name)s AS varchar[]),
        CAST(%(f_l_unit)s AS varchar[]), CAST(%(f_l_price_points)s AS integer[]),
        CAST(%(f_l_quantity)s AS integer[]), CAST(%(f_l_points)s AS bigint[]))
        WITH ORDINALITY AS l(item_id, name, unit, price_points, quantity, points, n)
    ORDER BY l.n
    RETURNING id
), stock AS (
    UPDATE shop_items SET stock = s.stock_after, updated_at = %(f_created_at)s
    FROM redemption, unnest(CAST(%(f_l_item_id)s AS integer[]), CAST(%(f_l_stock_after)s AS integer[]))
        AS s(id, stock_after)
    WHERE shop_items.id = s.id
), moves AS (
    INSERT INTO shop_stock_movements (item_id, shop_id, kind, quantity, stock_after, redemption_id, note,
        actor_id, created_at)
    SELECT m.item_id, %(f_shop_id)s, 'redemption', -m.quantity, m.stock_after, redemption.id,
        %(f_receipt_prefix)s || CASE WHEN redemption.id >= 1000000 THEN redemption.id::text
            ELSE lpad(redemption.id::text, 7, '0') END,
        %(f_actor_id)s, %(f_created_at)s
    FROM redemption, unnest(CAST(%(f_l_item_id)s AS integer[]), CAST(%(f_l_quantity)s AS integer[]),
        CAST(%(f_l_stock_after)s AS integer[])) WITH ORDINALITY AS m(item_id, quantity, stock_after, n)
    ORDER BY m.n
)"""
_WRITTEN_REDEMPTION = "(SELECT id FROM redemption), (SELECT array_agg(id ORDER BY id) FROM receipt_lines)"


@dataclass(frozen=True)
class _Receipt:
    """A sale's lines as written, and each item's stock after it (_check_sale has made sure every line
    is in stock, the lines naming distinct items, under the locks)."""

    rows: list[dict[str, Any]]
    stock_after: list[int]

    @classmethod
    def of(cls, lines: Sequence[dict[str, Any]], items: dict[int, ShopItem]) -> _Receipt:
        rows = [_line_values(items[line["item_id"]], line["quantity"]) for line in lines]
        return cls(rows, [items[row["item_id"]].stock - row["quantity"] for row in rows])

    def follow_up(self, values: dict[str, Any]) -> ledger.FollowUp:
        params = {
            **values,
            **{f"l_{field}": [row[field] for row in self.rows] for field in self.rows[0]},
            "l_stock_after": self.stock_after,
            "receipt_prefix": f"{values['shop_id']:03d}-",
        }
        return ledger.FollowUp(
            ctes=_WRITE_REDEMPTION,
            params={f"f_{name}": value for name, value in params.items()},
            returns=_WRITTEN_REDEMPTION,
        )

    def adopt(
        self, values: dict[str, Any], items: dict[int, ShopItem], redemption_id: int, line_ids: list[int]
    ) -> Redemption:
        """The rows _WRITE_REDEMPTION wrote, entered into the session as loaded (no read back)."""
        redemption = adopt(Redemption(id=redemption_id, **values))
        receipt_lines = [
            adopt(RedemptionLine(id=line_id, redemption_id=redemption_id, **row))
            for line_id, row in zip(line_ids, self.rows, strict=True)
        ]
        set_committed_value(redemption, "lines", receipt_lines)
        set_committed_value(redemption, "void", None)
        for row, after in zip(self.rows, self.stock_after, strict=True):
            item = items[row["item_id"]]
            set_committed_value(item, "stock", after)
            set_committed_value(item, "updated_at", values["created_at"])
        return redemption


def _prefetch(
    shop_id: int, household_id: int | None, key: str | None
) -> tuple[tuple[int, str] | None, tuple[Any, ...]]:
    """Load the shop and the household into the session: (id, request_hash) of an earlier redemption
    under `key` if any, and the rows loaded (the session holds them only while someone else does)."""
    params = {"shop_id": shop_id, "key": key}
    if household_id is None:
        row = db.session.execute(_PREFETCH, params).first()
    else:
        row = db.session.execute(_PREFETCH_WITH_HOUSEHOLD, {**params, "household_id": household_id}).first()
    if row is None or key is None or row.replay_id is None:
        return None, tuple(row or ())
    return (row.replay_id, row.replay_hash), tuple(row)


# Built once: every redemption starts with this read.
_PREFETCH = select(
    Shop,
    select(Redemption.id)
    .where(Redemption.idempotency_key == bindparam("key"))
    .scalar_subquery()
    .label("replay_id"),
    select(Redemption.request_hash)
    .where(Redemption.idempotency_key == bindparam("key"))
    .scalar_subquery()
    .label("replay_hash"),
).where(Shop.id == bindparam("shop_id"))
_PREFETCH_WITH_HOUSEHOLD = _PREFETCH.add_columns(Household).outerjoin(
    Household, Household.id == bindparam("household_id")
)


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
    shop: Shop,
    actor: User,
    *,
    household_id: int,
    total: int,
    key: str,
    memo: str,
    request_hash: str,
    follow_up: ledger.FollowUp | None = None,
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
                follow_up=follow_up,
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
    if existing.request_hash != request_hash:
        raise DomainError(
            "idempotency-key-reused",
            _("This Idempotency-Key was already used for a different redemption."),
            status=422,
        )
    return _load_redemption(existing.id)


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
        now = months.clock()
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
