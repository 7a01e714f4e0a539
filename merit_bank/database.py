"""Transactions: one per public service call, with SQLite taking its write lock up front."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from .extensions import db

_WRITE_FLAG = "merit_bank_write_tx"


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware one (see utcnow)")
        value = value.astimezone(UTC)
        # SQLite has no time zones: keep a naive UTC value so text comparisons order correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Take transaction control away from pysqlite so that BEGIN is ours to emit (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    if conn.dialect.name != "sqlite":
        return
    # A deferred transaction that reads and then writes can fail at once with SQLITE_BUSY when another
    # writer committed in between; writers therefore take the lock at BEGIN and wait for it instead.
    if conn.get_execution_options().get("sqlite_immediate"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


@contextmanager
def transaction() -> Iterator[None]:
    """Run the block as the one write transaction of a public service call.

    It commits when the block ends and rolls back on any exception. Nested use joins the outer
    transaction, so a public service may call another without committing half of its work.
    """
    session = db.session()  # the request's Session itself (scoped_session lacks in_transaction)
    if session.info.get(_WRITE_FLAG):
        yield
        return
    if session.in_transaction():
        # End the read snapshot left by loading the current user; a write must start from a fresh one.
        session.commit()
    if is_sqlite():
        session.connection(execution_options={"sqlite_immediate": True})
    session.info[_WRITE_FLAG] = True
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_WRITE_FLAG, None)
