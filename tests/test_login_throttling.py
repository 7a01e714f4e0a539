"""Failed logins are bounded per address, per address and account, and per account per day — and nobody
can lock the owner out: past the day's bound the owner gets in with the code on the household card."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from merit_bank.auth import services as auth_services
from merit_bank.auth.models import LoginFailure
from merit_bank.extensions import db
from merit_bank.villages import services as village_services
from tests.conftest import make_app
from tests.factories import PASSWORD, PIN, auth, make_household, make_user, make_village, make_villager

ATTACKER = "127.0.0.2"
OWNER = "127.0.0.3"


def _login(client, username, password, address, **extra):
    return client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password, **extra},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failures_from_one_address_never_lock_the_owner_out_at_another(app, client):
    make_user(app, "admin", None, username="boss")
    statuses = [_login(client, "boss", f"wrong-{i}", ATTACKER).status_code for i in range(6)]
    assert statuses == [401] * 5 + [429]
    assert _login(client, "boss", PASSWORD, ATTACKER).status_code == 429
    assert _login(client, "boss", PASSWORD, OWNER).status_code == 200


def test_one_address_gets_a_bounded_number_of_failures_a_minute_across_all_usernames(app, client):
    statuses = [_login(client, f"1380000{i:04d}", "000000", ATTACKER).status_code for i in range(11)]
    assert statuses == [401] * 10 + [429]
    throttled = _login(client, "13800009999", "000000", ATTACKER)
    assert throttled.json["type"] == "too-many-attempts"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    # Another address is untouched, and so is every account: the guesser only slowed himself down.
    make_user(app, "admin", None, username="boss")
    assert _login(client, "boss", PASSWORD, OWNER).status_code == 200


def _fail_from_many_addresses(client, username: str, count: int) -> None:
    for i in range(count):
        # One try an address stays under both address bounds: only the account's day bound is reached.
        address = f"127.0.{10 + i // 4}.{1 + i % 4}"
        assert _login(client, username, f"{i:06d}", address).status_code == 401


def test_an_account_is_bounded_per_day_across_addresses_and_the_owner_gets_in_with_the_card_code(app, client):
    village = make_village(app)
    household = make_household(app, village)
    villager = make_villager(app, household, username="13912345678")
    assert villager
    app.config["LOGIN_ACCOUNT_MAX_PER_DAY"] = 20
    _fail_from_many_addresses(client, "13912345678", 20)

    refused = _login(client, "13912345678", PIN, OWNER)
    assert refused.status_code == 429
    assert refused.json["second_proof"] == "card_code"
    assert "Retry-After" in refused.headers
    # Guessing on from a fresh address gets the same answer: the day's bound holds across addresses.
    assert _login(client, "13912345678", "111111", "127.0.99.1").status_code == 429

    wrong_card = _login(client, "13912345678", PIN, OWNER, card_code="ZZZZZZ")
    assert wrong_card.status_code == 401
    assert wrong_card.json["type"] == "invalid-credentials"
    wrong_pin = _login(client, "13912345678", "999999", OWNER, card_code=household["code"].lower())
    assert wrong_pin.status_code == 401

    welcome = _login(client, "13912345678", PIN, OWNER, card_code=household["code"].lower())
    assert welcome.status_code == 200, welcome.json
    assert welcome.json["user"]["username"] == "13912345678"


def test_an_admin_reset_lets_the_owner_back_in_past_the_days_bound(app, client):
    village = make_village(app)
    chief = make_user(app, "admin", village, username="cunzhang")
    clerk = make_user(app, "clerk", village, username="wenshu")
    app.config["LOGIN_ACCOUNT_MAX_PER_DAY"] = 8
    _fail_from_many_addresses(client, "wenshu", 8)
    assert _login(client, "wenshu", PASSWORD, OWNER).status_code == 429

    reset = client.patch(
        f"/api/v1/users/{clerk}", headers=auth(app, chief), json={"password": "brand-new-pw"}
    )
    assert reset.status_code == 200
    assert _login(client, "wenshu", "brand-new-pw", OWNER).status_code == 200


def test_forwarded_for_is_believed_only_as_far_as_the_trusted_proxies_setting_says(db_url):
    def attempts_counted_from(app, forwarded: str) -> set[str]:
        client = app.test_client()
        client.post(
            "/api/v1/auth/login",
            json={"username": "nobody", "password": "wrong-password"},
            headers={"X-Forwarded-For": forwarded},
            environ_base={"REMOTE_ADDR": "127.0.0.9"},
        )
        with app.app_context():
            return {row.address for row in db.session.query(LoginFailure).all()}

    direct = make_app(db_url)
    assert attempts_counted_from(direct, "203.0.113.7") == {"127.0.0.9"}
    behind_one_proxy = make_app(db_url, TRUSTED_PROXIES=1)
    # A client may prepend anything; only the hop our own proxy appended is believed.
    assert attempts_counted_from(behind_one_proxy, "198.51.100.1, 203.0.113.8") == {
        "127.0.0.9",
        "203.0.113.8",
    }
    for each in (direct, behind_one_proxy):
        with each.app_context():
            db.engine.dispose()


@pytest.mark.race
def test_a_login_hashes_its_password_while_other_writers_go_on(app, monkeypatch):
    """The slow Argon2 check runs with no transaction open: writers and other logins never wait for it."""
    make_user(app, "admin", None, username="boss")
    hashing, release = threading.Event(), threading.Event()
    real_verify = auth_services._verify_hash
    held: list[bool] = []

    def slow_first_verify(password_hash, password):
        if not held:
            held.append(True)
            hashing.set()
            release.wait(30)
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth_services, "_verify_hash", slow_first_verify)
    results: dict[str, object] = {}

    def run(name, job):
        with app.app_context():
            try:
                results[name] = job()
            except Exception as exc:
                results[name] = exc
            finally:
                db.session.remove()

    def slow_login():
        return auth_services.login("boss", "wrong-password", ATTACKER)

    def other_login():
        return auth_services.login("boss", PASSWORD, OWNER).username

    def a_writer():
        from tests.factories import _actor, root_admin

        admin = root_admin(app)
        return village_services.create_village(_actor(admin), {"name": "写入村", "code": "WRITER"}).code

    first = threading.Thread(target=run, args=("slow", slow_login))
    first.start()
    assert hashing.wait(30)
    others = [
        threading.Thread(target=run, args=("writer", a_writer)),
        threading.Thread(target=run, args=("login", other_login)),
    ]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(10)
    blocked = [thread for thread in others if thread.is_alive()]
    release.set()
    first.join(30)
    for thread in others:
        thread.join(30)
    assert not blocked, "a writer waited for a password hash"
    assert results["writer"] == "WRITER"
    assert results["login"] == "boss"
    assert getattr(results["slow"], "code", None) == "invalid-credentials"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post_from(address: str, port: int, body: dict) -> int:
    """One login over a fresh TCP connection whose source is `address` (any 127/8 address is local)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(address, 0))
    try:
        conn.request("POST", "/api/v1/auth/login", json.dumps(body), {"Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.race
def test_real_addresses_against_two_server_processes_never_lock_the_owner_out(app, db_url):
    """gunicorn with two worker processes; the guesser connects from 127.0.0.2, the owner from 127.0.0.3."""
    make_user(app, "admin", None, username="boss")
    root = Path(__file__).resolve().parent.parent
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "DATABASE_URL": db_url,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
        "JWT_SECRET_KEY": "test-jwt-secret-key-that-is-long-enough-000",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "merit_bank:create_app()"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _post_from(OWNER, port, {"username": "", "password": ""})
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.3)
        wrong = {"username": "boss", "password": "wrong-password"}
        guesses = [_post_from(ATTACKER, port, wrong) for _ in range(6)]
        assert guesses == [401] * 5 + [429]
        assert _post_from(OWNER, port, {"username": "boss", "password": PASSWORD}) == 200
        # Stuffing other accounts from the same address runs into the per-address bound within the minute.
        stuffing = [_post_from(ATTACKER, port, {"username": f"user{i}", "password": "x"}) for i in range(8)]
        assert stuffing == [401] * 5 + [429] * 3
        assert _post_from(OWNER, port, {"username": "boss", "password": PASSWORD}) == 200
    finally:
        server.terminate()
        server.wait(30)


def test_the_reset_password_command_lets_a_locked_out_admin_back_in(app, client):
    make_user(app, "admin", None, username="boss")
    app.config["LOGIN_ACCOUNT_MAX_PER_DAY"] = 4
    _fail_from_many_addresses(client, "boss", 4)
    assert _login(client, "boss", PASSWORD, OWNER).status_code == 429
    result = app.test_cli_runner().invoke(args=["reset-password", "boss", "--password", "a-new-password-9"])
    assert result.exit_code == 0, result.output
    assert _login(client, "boss", "a-new-password-9", OWNER).status_code == 200
