"""`backup` and `restore`: consistent while redemptions are posted, into an empty database only, verified.

Issue #10, finding 12. Every test runs on SQLite (online backup API) and PostgreSQL (pg_dump -Fc).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from merit_bank.extensions import db
from merit_bank.ledger.models import Entry, Transaction
from merit_bank.operations import backup as backups
from merit_bank.shop.models import Redemption, RedemptionLine, ShopItem, StockMovement
from merit_bank.villages.models import Village
from tests.conftest import _pg_exec, _pg_url, _worker, app_for
from tests.shop.shop_helpers import build_world, redeem

BACKUP_NAME = re.compile(r"^merit_bank-\d{8}T\d{6}Z(-\d+)?\.(sqlite3|dump)$")


@pytest.fixture
def empty_db_url(db_url, tmp_path) -> Iterator[str]:
    """An empty database of `db_url`'s kind: a path with no file yet, or a PostgreSQL db with no tables."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'merit_bank.sqlite3'}"
        return
    name = f"mb_restore_{_worker()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _pg_exec(f"CREATE DATABASE {name}")
    try:
        yield _pg_url(name)
    finally:
        _pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _backup(app: Flask, dest: Path) -> Path:
    result = app.test_cli_runner().invoke(args=["backup", str(dest)])
    assert result.exit_code == 0, result.output
    match = re.search(r"Backup written: (\S+)", result.output)
    assert match, result.output
    return Path(match.group(1))


def _restore(url: str, src: Path):
    if url.startswith("sqlite"):
        Path(make_url(url).database).parent.mkdir(parents=True, exist_ok=True)
    with app_for(url) as app:
        return app.test_cli_runner().invoke(args=["restore", str(src)])


@pytest.mark.race
def test_a_backup_taken_while_redemptions_are_posted_restores_every_acknowledged_one_whole_and_verified(
    app, db_url, empty_db_url, tmp_path
):
    world = build_world(app, households=3, points=1_000_000, goods=[("香皂", "块", 1, 1_000_000, None)])
    soap = world.items["香皂"]
    acknowledged: list[tuple[int, str, int]] = []  # (redemption id, idempotency key, points) after the 201
    failures: list[str] = []
    stop = threading.Event()

    def post_redemptions(household_id: int) -> None:
        client = app.test_client()
        while not stop.is_set():
            key = uuid.uuid4().hex
            body = {
                "shop_id": world.shop_id,
                "household_id": household_id,
                "lines": [{"item_id": soap, "quantity": 2}],
            }
            response = redeem(client, world.keeper, body, key=key)
            if response.status_code == 201:
                acknowledged.append((response.get_json()["id"], key, response.get_json()["total_points"]))
            else:
                failures.append(f"{response.status_code} {response.get_data(as_text=True)[:200]}")

    threads = [threading.Thread(target=post_redemptions, args=(h["id"],)) for h in world.households]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        before_backup = list(acknowledged)  # acknowledged, i.e. committed, before the backup began
        (tmp_path / "backups").mkdir()
        path = _backup(app, tmp_path / "backups")
        at_backup_end = len(acknowledged)
        while len(acknowledged) < at_backup_end + 10 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert not failures, failures[:3]
    # The posting really went on around the backup: acknowledgements both before it began and after it ended.
    assert len(before_backup) >= 10 and len(acknowledged) >= at_backup_end + 10

    result = _restore(empty_db_url, path)
    assert result.exit_code == 0, result.output
    assert "Ledger OK" in result.output and "Stock OK" in result.output

    with app_for(empty_db_url) as restored, restored.app_context():
        rows = {r.id: r for r in db.session.scalars(select(Redemption))}
        for redemption_id, key, points in before_backup:
            assert redemption_id in rows, (
                f"acknowledged redemption {redemption_id} is missing from the backup"
            )
            assert rows[redemption_id].idempotency_key.endswith(key)
            assert rows[redemption_id].total_points == points
        # Whatever else the snapshot holds is whole: lines, ledger transaction and entries, stock movements.
        assert len(rows) <= len(acknowledged)
        for redemption in rows.values():
            lines = db.session.scalars(
                select(RedemptionLine).where(RedemptionLine.redemption_id == redemption.id)
            ).all()
            assert sum(line.points for line in lines) == redemption.total_points
            assert db.session.get(Transaction, redemption.transaction_id) is not None
            entries = db.session.scalar(
                select(func.count())
                .select_from(Entry)
                .where(Entry.transaction_id == redemption.transaction_id)
            )
            assert entries >= 2
            moved = db.session.scalar(
                select(func.sum(StockMovement.quantity)).where(StockMovement.redemption_id == redemption.id)
            )
            assert moved == -sum(line.quantity for line in lines)


def test_restore_refuses_a_database_that_already_holds_data(app, db_url, tmp_path):
    world = build_world(app, households=1)
    path = _backup(app, tmp_path / "b.bak")
    with app.app_context():
        villages = db.session.query(Village).count()
    result = app.test_cli_runner().invoke(args=["restore", str(path)])
    assert result.exit_code != 0
    assert "refusing to restore" in result.output and "empty" in result.output
    with app.app_context():
        assert db.session.query(Village).count() == villages
        assert db.session.get(Village, world.village_id) is not None


def test_restore_fails_when_the_restored_books_do_not_verify(app, db_url, empty_db_url, tmp_path):
    world = build_world(app, households=1)
    with app.app_context():
        # A cached stock that no longer equals its movements: what verify-stock exists to catch.
        db.session.execute(
            update(ShopItem).where(ShopItem.id == world.items["大米"]).values(stock=ShopItem.stock + 7)
        )
        db.session.commit()
    path = _backup(app, tmp_path / "b.bak")
    result = _restore(empty_db_url, path)
    assert result.exit_code != 0
    assert "Stock BROKEN" in result.output and "does not verify" in result.output


def test_a_restored_postgresql_database_has_its_planner_statistics(app, db_url, empty_db_url, tmp_path):
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only: pg_restore does not carry the planner's statistics")
    build_world(app, households=3)
    path = _backup(app, tmp_path / "b.bak")
    result = _restore(empty_db_url, path)
    assert result.exit_code == 0, result.output
    with app_for(empty_db_url) as restored, restored.app_context():
        unanalyzed = db.session.scalars(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.reltuples < 0"
            )
        ).all()
    assert unanalyzed == [], f"tables planned as if empty: {unanalyzed}"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_corrupted_backup_makes_restore_fail_and_leaves_the_target_empty(
    app, db_url, empty_db_url, tmp_path, damage
):
    build_world(app, households=2)
    path = _backup(app, tmp_path / "whole.bak")
    data = path.read_bytes()
    broken = tmp_path / "broken.bak"
    broken.write_bytes(data[: len(data) // 2] if damage == "truncated" else os.urandom(len(data)))
    result = _restore(empty_db_url, broken)
    assert result.exit_code != 0
    assert "restore failed" in result.output
    with app_for(empty_db_url) as target, target.app_context():
        tables = db.inspect(db.engine).get_table_names()
    assert tables == [], "a failed restore must not leave a half-restored database"


def test_backup_to_a_directory_makes_a_timestamped_file_and_no_partial_file(app, db_url, tmp_path):
    build_world(app, households=1)
    directory = tmp_path / "backups"
    directory.mkdir()
    first = _backup(app, directory)
    second = _backup(app, directory)
    assert first.parent == directory and BACKUP_NAME.match(first.name), first.name
    assert first != second and BACKUP_NAME.match(second.name)
    assert sorted(p.name for p in directory.iterdir()) == sorted([first.name, second.name])
    assert first.stat().st_size > 0


def test_backup_keep_n_deletes_all_but_the_newest_n_backups_in_the_directory(app, db_url, tmp_path):
    directory = tmp_path / "backups"
    directory.mkdir()
    (directory / "notes.txt").write_text("not a backup: never deleted")
    made = []
    for _ in range(4):
        result = app.test_cli_runner().invoke(args=["backup", str(directory), "--keep", "2"])
        assert result.exit_code == 0, result.output
        made.append(Path(re.search(r"Backup written: (\S+)", result.output).group(1)))
    assert sorted(p.name for p in directory.iterdir()) == sorted([made[2].name, made[3].name, "notes.txt"])


def test_a_failed_backup_leaves_no_file_under_the_final_name(app, db_url, tmp_path):
    with app.app_context():
        db.engine.dispose()
    missing_dir = tmp_path / "no-such-dir" / "b.bak"
    result = app.test_cli_runner().invoke(args=["backup", str(missing_dir)])
    assert result.exit_code != 0
    assert "does not exist" in result.output
    assert not missing_dir.parent.exists()


# --- PostgreSQL's client tools -------------------------------------------------------------------------


def test_pg_dump_gets_the_password_from_the_environment_never_its_command_line(db_url, tmp_path, monkeypatch):
    if not db_url.startswith("postgresql"):
        pytest.skip("pg_dump is for PostgreSQL")
    url = make_url(db_url).set(password="s3cret-Pw")  # the test server trusts local connections
    seen: list[tuple[list[str], dict[str, str]]] = []
    real_run = subprocess.run

    def recording_run(args, *a, **kw):
        seen.append((list(args), dict(kw.get("env") or {})))
        return real_run(args, *a, **kw)

    monkeypatch.setattr(backups.subprocess, "run", recording_run)
    with app_for(url.render_as_string(hide_password=False)) as app:
        _backup(app, tmp_path / "b.dump")
    dumps = [(args, env) for args, env in seen if Path(args[0]).name == "pg_dump" and "--version" not in args]
    assert dumps, seen
    for args, env in dumps:
        assert not any("s3cret" in arg for arg in args)
        assert env.get("PGPASSWORD") == "s3cret-Pw"
        assert any(arg.startswith("postgresql://") and "+psycopg" not in arg for arg in args)


def _fake_tool(directory: Path, name: str, version: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_pg_dump_on_path_is_used_when_it_is_as_new_as_the_server_else_the_newest_debian_one(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("PG_BIN_DIR", raising=False)
    _fake_tool(tmp_path / "path", "pg_dump", "15.4")
    for major in ("13", "16", "17"):
        _fake_tool(tmp_path / "lib" / major / "bin", "pg_dump", f"{major}.1")
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    monkeypatch.setattr(backups, "DEBIAN_PG_BIN_GLOB", str(tmp_path / "lib" / "*" / "bin"))

    assert backups.find_pg_tool("pg_dump", 15) == backups.PgTool(str(tmp_path / "path" / "pg_dump"), 15)
    newer = backups.find_pg_tool("pg_dump", 16)
    assert newer == backups.PgTool(str(tmp_path / "lib" / "17" / "bin" / "pg_dump"), 17)
    with pytest.raises(backups.BackupError, match="PostgreSQL 18 or newer"):
        backups.find_pg_tool("pg_dump", 18)
    monkeypatch.setenv("PG_BIN_DIR", str(tmp_path / "lib" / "13" / "bin"))
    assert backups.find_pg_tool("pg_dump", 15).major == 13  # an explicit choice is the operator's
