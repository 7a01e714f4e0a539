"""Transaction edges: transaction() commits only its own work, savepoints undo only their step, a
connection that died in the pool costs no request, and a rollback keeps the posting statement prepared."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import select, text

from merit_bank import database
from merit_bank.database import ForeignWork, savepoint, transaction
from merit_bank.extensions import db
from merit_bank.villages.models import Village
from tests.shop.shop_helpers import build_world, redeem


def _village_names(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Village.name)))


def test_transaction_refuses_to_commit_a_pending_write_it_did_not_start(app):
    with app.app_context():
        db.session.add(Village(name="外来村", code="FOREIGN"))
        with pytest.raises(ForeignWork), transaction():
            db.session.add(Village(name="本村", code="OWN"))
        db.session.rollback()
    assert not {"外来村", "本村"} & _village_names(app)


def test_transaction_refuses_to_commit_a_write_already_flushed_before_it(app):
    with app.app_context():
        db.session.add(Village(name="外来村", code="FOREIGN"))
        db.session.flush()  # no longer pending in the session, but written and uncommitted
        with pytest.raises(ForeignWork), transaction():
            pass
        db.session.rollback()
    assert "外来村" not in _village_names(app)


def test_transaction_after_reads_alone_commits_its_own_work(app):
    with app.app_context():
        db.session.scalars(select(Village)).all()  # a read leaves the session in a transaction
        with transaction():
            db.session.add(Village(name="本村", code="OWN"))
    assert "本村" in _village_names(app)


def test_a_failed_savepoint_undoes_only_its_own_step(app):
    with app.app_context(), transaction():
        db.session.add(Village(name="先到村", code="FIRST"))
        db.session.flush()
        with pytest.raises(RuntimeError, match="step fails"), savepoint():
            db.session.add(Village(name="失败村", code="FAILED"))
            db.session.flush()
            raise RuntimeError("the step fails")
        db.session.add(Village(name="后到村", code="AFTER"))
    names = _village_names(app)
    assert {"先到村", "后到村"} <= names and "失败村" not in names


def test_a_savepoint_outside_a_transaction_is_refused(app):
    with app.app_context(), pytest.raises(RuntimeError, match="transaction"), savepoint():
        pass


def _is_postgresql(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def _kill_idle_backends(app) -> int:
    """Terminate every other backend of the test database, from a connection outside the app's pool."""
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    time.sleep(0.2)  # let the notices reach the pooled sockets
    return killed[0] if killed else 0


def _salt(world, household) -> dict:
    return {
        "shop_id": world.shop_id,
        "household_id": household["id"],
        "lines": [{"item_id": world.items["食盐"], "quantity": 1}],
    }


def test_every_request_succeeds_after_the_servers_idle_connections_were_killed(app, client):
    if not _is_postgresql(app):
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    world = build_world(app)
    household = world.households[0]
    balance_url = f"/api/v1/ledger/households/{household['id']}/balance"
    assert client.get(balance_url, headers=world.admin).status_code == 200
    assert redeem(client, world.keeper, _salt(world, household), key="before-kill").status_code == 201
    assert _kill_idle_backends(app) >= 1
    for attempt in range(3):
        assert client.get(balance_url, headers=world.admin).status_code == 200
        assert client.get("/healthz").json == {"status": "ok"}
        response = redeem(client, world.keeper, _salt(world, household), key=f"after-kill-{attempt}")
        assert response.status_code == 201, response.json


def test_a_request_whose_first_statement_finds_its_connection_dead_is_retried_once(app, client, monkeypatch):
    """Without the checkout poll (as when the server's goodbye has not arrived yet), the first
    statement fails on the dead connection, which is discarded, and runs again on a fresh one."""
    if not _is_postgresql(app):
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    world = build_world(app)
    household = world.households[0]
    balance_url = f"/api/v1/ledger/households/{household['id']}/balance"
    assert client.get(balance_url, headers=world.admin).status_code == 200
    monkeypatch.setattr(database, "_is_dead_on_arrival", lambda _conn: False)
    for attempt in range(3):
        assert _kill_idle_backends(app) >= 1
        assert client.get(balance_url, headers=world.admin).status_code == 200
        _kill_idle_backends(app)
        response = redeem(client, world.keeper, _salt(world, household), key=f"retried-{attempt}")
        assert response.status_code == 201, response.json


def test_the_posting_statement_stays_prepared_across_requests(app, client):
    if not _is_postgresql(app):
        pytest.skip("prepared statements on the server are PostgreSQL's")
    world = build_world(app)
    household = world.households[0]
    body = _salt(world, household)
    query = text(
        "SELECT pg_backend_pid(), name, prepare_time FROM pg_prepared_statements"
        " WHERE statement LIKE 'WITH queue AS MATERIALIZED%'"
    )

    def prepared() -> list[tuple]:
        with app.app_context():
            rows = [tuple(row) for row in db.session.execute(query)]
            db.session.rollback()
            return rows

    with app.app_context():
        db.engine.dispose()  # one connection from here on: the test client runs one request at a time
    assert redeem(client, world.keeper, body, key="first").status_code == 201
    first = prepared()
    assert len(first) == 1
    assert redeem(client, world.keeper, body, key="second").status_code == 201
    assert redeem(client, world.keeper, body, key="third").status_code == 201
    assert prepared() == first  # same connection, same statement, prepared at the same moment


def test_a_write_after_autocommit_reads_is_still_one_transaction_that_rolls_back_whole(app):
    from merit_bank.database import read_without_transaction

    with app.app_context():
        read_without_transaction()
        db.session.scalars(select(Village)).all()
        with pytest.raises(RuntimeError, match="second fails"), transaction():
            db.session.add(Village(name="一村", code="ONE"))
            db.session.flush()
            raise RuntimeError("the second fails")
    assert "一村" not in _village_names(app)


def test_a_flush_in_an_autocommit_read_is_refused(app):
    from merit_bank.database import read_without_transaction

    if not _is_postgresql(app):
        pytest.skip("SQLite reads keep their transaction")
    with app.app_context():
        read_without_transaction()
        db.session.add(Village(name="漏网村", code="LOOSE"))
        with pytest.raises(RuntimeError, match="outside transaction"):
            db.session.flush()
        db.session.rollback()
    assert "漏网村" not in _village_names(app)
