"""Builders for test data, going through the real services (nothing bypasses the business rules)."""

from __future__ import annotations

import itertools
import re
from typing import Any

from flask import Flask
from flask_jwt_extended import create_access_token

from merit_bank.auth import services as auth_services
from merit_bank.auth.models import COUNCILS, User
from merit_bank.extensions import db
from merit_bank.households import identity
from merit_bank.households import services as household_services
from merit_bank.shop.models import Shop
from merit_bank.villages import services as village_services

_seq = itertools.count(1)
PASSWORD = "password-123"
PIN = "135790"


def root_admin(app: Flask) -> int:
    """The deployment-wide admin, created once per database."""
    with app.app_context():
        user = db.session.query(User).filter_by(username="root").one_or_none()
        if user is None:
            user = auth_services.create_admin("root", PASSWORD)
        return user.id


def _actor(user_id: int) -> User:
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def make_village(app: Flask, name: str = "测试村", code: str | None = None, groups=("一组", "二组")) -> int:
    admin_id = root_admin(app)
    with app.app_context():
        village = village_services.create_village(
            _actor(admin_id), {"name": name, "code": code or f"V{next(_seq)}", "groups": list(groups)}
        )
        return village.id


def id_number(n: int | None = None) -> str:
    n = next(_seq) if n is None else n
    return identity.with_check_digit(f"110101199001{n % 100:02d}{n:03d}"[:17])


def make_household(
    app: Flask, village_id: int, head_name: str = "张三", members: list[dict[str, Any]] | None = None, **extra
) -> dict[str, Any]:
    """A household; returns {"id", "code", "member_ids"}."""
    admin_id = root_admin(app)
    if members is None:
        n = next(_seq)
        members = [
            {"name": head_name, "phone": f"139{n:08d}", "relation": "户主"},
            {"name": "家属", "relation": "配偶"},
        ]
    with app.app_context():
        household = household_services.create_household(
            _actor(admin_id), {"village_id": village_id, "head_name": head_name, "members": members, **extra}
        )
        return {"id": household.id, "code": household.code, "member_ids": [m.id for m in household.members]}


def make_shop(app: Flask, village_id: int, name: str = "积分超市") -> int:
    with app.app_context():
        shop = Shop(village_id=village_id, name=name)
        db.session.add(shop)
        db.session.commit()
        return shop.id


def make_user(
    app: Flask,
    role: str,
    village_id: int | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    councils: list[str] | None = None,
    shop_id: int | None = None,
    member_id: int | None = None,
) -> int:
    admin_id = root_admin(app)
    data: dict[str, Any] = {
        "username": username or f"{role}{next(_seq)}",
        "password": password or (PIN if role == "villager" else PASSWORD),
        "role": role,
        "village_id": village_id,
    }
    if role == "clerk":
        data["councils"] = list(councils if councils is not None else COUNCILS)
    if shop_id is not None:
        data["shop_id"] = shop_id
    if member_id is not None:
        data["member_id"] = member_id
    with app.app_context():
        return auth_services.create_user(_actor(admin_id), data).id


def make_villager(app: Flask, household: dict[str, Any], member_index: int = 0, **kwargs) -> int:
    return make_user(app, "villager", member_id=household["member_ids"][member_index], **kwargs)


def token(app: Flask, user_id: int) -> str:
    with app.app_context():
        return create_access_token(identity=str(user_id))


def auth(app: Flask, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(app, user_id)}"}


def csrf_token(client, path: str) -> str:
    """The CSRF token a page's form carries (HTML forms are refused without it)."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def page_login(client, username: str, password: str, **extra: str):
    """Log in through the HTML form, as a browser would."""
    data = {"username": username, "password": password, "csrf_token": csrf_token(client, "/login"), **extra}
    return client.post("/login", data=data)
