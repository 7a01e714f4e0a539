"""The village points shop (积分超市): shops, goods, the stock log, redemptions, voids and closed months.

Like the ledger, the history is append-only (database triggers in migration 0003 refuse UPDATE and
DELETE): stock movements, redemptions with their lines, voids and month closures are written once.
Only a shop's items change in place: their details and the cached `stock`, which `verify_stock()`
proves equal to the sum of the item's movements.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db


class Shop(db.Model):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[ShopItem]] = relationship(back_populates="shop", order_by="ShopItem.id", viewonly=True)


class ShopItem(db.Model):
    """Goods on the shelf; `stock` caches the sum of the item's movements."""

    __tablename__ = "shop_items"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_points > 0", name="price_positive"),
        CheckConstraint("monthly_limit IS NULL OR monthly_limit > 0", name="limit_positive"),
        UniqueConstraint("shop_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(20))
    price_points: Mapped[int] = mapped_column(Integer)
    # A file name in UPLOAD_FOLDER/shop, never a path a client chose.
    photo: Mapped[str | None] = mapped_column(String(64))
    stock: Mapped[int] = mapped_column(Integer, default=0)
    # Per household and calendar month (Asia/Shanghai); None means no limit.
    monthly_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    shop: Mapped[Shop] = relationship(back_populates="items")


class StockMovement(db.Model):
    """One change of an item's stock, with the stock right after it; immutable once written."""

    __tablename__ = "shop_stock_movements"
    __table_args__ = (
        CheckConstraint("kind IN ('opening', 'restock', 'redemption', 'void', 'stocktake')", name="kind"),
        CheckConstraint("stock_after >= 0", name="stock_after_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("shop_items.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    stock_after: Mapped[int] = mapped_column(Integer)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("shop_redemptions.id"), index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Redemption(db.Model):
    """Goods handed to a household for points; immutable (a void is a separate row)."""

    __tablename__ = "shop_redemptions"
    __table_args__ = (CheckConstraint("total_points > 0", name="total_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # `redeem:<user id>:<Idempotency-Key>`; the ledger transaction carries the same key.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    total_points: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)
    # The settlement month (YYYY-MM, Asia/Shanghai) the goods count in.
    month: Mapped[str] = mapped_column(String(7), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    lines: Mapped[list[RedemptionLine]] = relationship(order_by="RedemptionLine.id", viewonly=True)
    void: Mapped[RedemptionVoid | None] = relationship(viewonly=True, uselist=False)
    shop: Mapped[Shop] = relationship(viewonly=True)

    @property
    def status(self) -> str:
        return "voided" if self.void is not None else "completed"

    @property
    def receipt_no(self) -> str:
        """Printed on the receipt: shop, then the redemption's own number."""
        return f"{self.shop_id:03d}-{self.id:07d}"


class RedemptionLine(db.Model):
    """One line of a redemption; name, unit and price are copied so later edits never change a receipt."""

    __tablename__ = "shop_redemption_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("shop_redemptions.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("shop_items.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(20))
    price_points: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)


class RedemptionVoid(db.Model):
    """The void of a redemption; unique per redemption, so a second void is refused by the database too."""

    __tablename__ = "shop_redemption_voids"
    # Supervision counts a period's voids by their time.
    __table_args__ = (Index("ix_shop_redemption_voids_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("shop_redemptions.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(200))
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)
    # The redemption's own month while that is open; once it is closed, the month of the void.
    month: Mapped[str] = mapped_column(String(7), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonthClosure(db.Model):
    """A shop's month closed for settlement, with the figures and the rate as they were at closing."""

    __tablename__ = "shop_month_closures"
    __table_args__ = (UniqueConstraint("shop_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    total_points: Mapped[int] = mapped_column(BigInteger)
    point_value_fen: Mapped[int] = mapped_column(Integer)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
