"""Who runs a shop's counter, who reads its catalogue, who sees and voids a redemption, who closes a month."""

from __future__ import annotations

from datetime import date

from ..auth import policy as auth
from ..auth.models import User
from ..errors import DomainError
from ..i18n import request_gettext as _
from .models import Redemption, Shop

COUNTER = (auth.SHOPKEEPER, auth.ADMIN)


def works_counter(actor: User) -> bool:
    """Shopkeepers and admins serve customers, keep stock and void; the counter pages are theirs."""
    return auth.has_role(actor, *COUNTER)


def ensure_works_counter(actor: User) -> None:
    auth.require_role(actor, *COUNTER)


def oversees_shops(actor: User) -> bool:
    """A supervisor reads every shop of the region as its admin would: stock, redemptions, settlements."""
    return auth.is_supervisor(actor)


def runs_shop(actor: User, shop: Shop) -> bool:
    """A shopkeeper their own shop; an admin every shop of their villages (a supervisor reads them)."""
    if auth.is_shopkeeper(actor):
        return actor.shop_id == shop.id
    return (auth.is_admin(actor) or oversees_shops(actor)) and auth.can_see_village(actor, shop.village_id)


def browses_shop(actor: User, shop: Shop) -> bool:
    """Villagers and clerks read the catalogue of their village's shops (active items only)."""
    return auth.has_role(actor, auth.VILLAGER, auth.CLERK) and actor.village_id == shop.village_id


def sees_inactive_items(actor: User) -> bool:
    return works_counter(actor) or oversees_shops(actor)


def only_own_shop(actor: User) -> bool:
    """A shopkeeper's lists are of their own shop only."""
    return auth.is_shopkeeper(actor)


def manages_shops(actor: User) -> bool:
    """Opening, renaming and closing shops, and closing a month: admins."""
    return auth.is_admin(actor)


def ensure_manages_shops(actor: User) -> None:
    auth.require_role(actor, auth.ADMIN)


def sees_redemption(actor: User, redemption: Redemption) -> bool:
    """Its shop's keeper, admins in scope, the household's villagers."""
    if auth.is_shopkeeper(actor):
        return actor.shop_id == redemption.shop_id
    if auth.is_admin(actor) or oversees_shops(actor):
        return auth.can_see_village(actor, redemption.village_id)
    if auth.is_villager(actor):
        return actor.household_id == redemption.household_id
    return False


def lists_redemptions(actor: User) -> bool:
    return auth.has_role(actor, auth.ADMIN, auth.SHOPKEEPER, auth.VILLAGER, auth.SUPERVISOR)


def ensure_lists_redemptions(actor: User) -> None:
    auth.require_role(actor, auth.ADMIN, auth.SHOPKEEPER, auth.VILLAGER, auth.SUPERVISOR)


def reads_shop_pages(actor: User) -> bool:
    """The stock, redemptions and settlement pages: counter staff, and supervisors (read-only)."""
    return works_counter(actor) or oversees_shops(actor)


def verifies_all_stock(actor: User) -> bool:
    return manages_shops(actor) or oversees_shops(actor)


def ensure_verifies_all_stock(actor: User) -> None:
    if not verifies_all_stock(actor):
        ensure_manages_shops(actor)


def void_only_same_day(actor: User) -> bool:
    """A shopkeeper voids only on the redemption's own day; an admin at any time."""
    return auth.is_shopkeeper(actor)


def may_void(actor: User, redemption: Redemption, today: date | None = None, day: date | None = None) -> bool:
    """The void control: counter staff, a redemption not voided (a shopkeeper: of today, when days given)."""
    if not works_counter(actor) or redemption.void is not None or redemption.status == "voided":
        return False
    if void_only_same_day(actor) and today is not None and day is not None:
        return today == day
    return True


def ensure_void_in_time(actor: User, day: date, today: date) -> None:
    if void_only_same_day(actor) and day != today:
        raise DomainError(
            "void-too-late",
            _("A shopkeeper can void a redemption only on its own day; ask an admin."),
        )


def can_close_month(actor: User) -> bool:
    return manages_shops(actor)
