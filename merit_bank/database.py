"""Transaction edges: the one place that commits or rolls back, and the connection's life in the pool.

- `transaction()` is the one write transaction of a public service call (SQLite takes its write lock
  up front); `savepoint()` lets a step inside it fail alone; `end_read()` ends a read-only request's
  transaction. Nothing else in merit_bank commits or rolls back.
- A connection that died in the pool (server restart, `pg_terminate_backend`) is discarded when it is
  checked out, without a round trip, and a request's first statement is retried once if its connection
  turns out dead anyway (`first_statement`): no pre-ping.
- On PostgreSQL a rollback keeps the connection's prepared statements (psycopg would DEALLOCATE ALL), so
  the posting statement is parsed and planned once per connection, not once per request.
"""

from __future__ import annotations

import re
import select
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
from flask import current_app, has_app_context
from psycopg.pq import TransactionStatus
from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

from .extensions import db

_WRITE_FLAG = "merit_bank_write_tx"
_WROTE_FLAG = "merit_bank_wrote"
_KEPT = "merit_bank_kept"
_AUTOCOMMIT = "merit_bank_autocommit_read"
_KEPT_NOW = "merit_bank_kept_now"
T = TypeVar("T")


class ForeignWork(RuntimeError):
    """transaction() was entered with writes pending that it did not make: a bug in the caller."""


# The moment every service takes for "now" inside `pinned_time()`: the demo plays a year of history
# forward through the real services, so its ledger chain is dated as a village's would be.
_pinned_now: ContextVar[datetime | None] = ContextVar("merit_bank_pinned_now", default=None)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC, which every domain and the sessions read.

    Two ways move it: `pinned_time()` for one thread (the demo plays a year of history through the real
    services), and the app's CLOCK setting (a callable returning an aware datetime) for every request of an
    application at once (a browser test that comes back "weeks later" without sleeping or patching modules).
    """
    pinned = _pinned_now.get()
    if pinned is not None:
        return pinned
    if has_app_context():
        clock = current_app.config.get("CLOCK")
        if clock is not None:
            return clock()
    return datetime.now(UTC)


@contextmanager
def pinned_time(moment: datetime) -> Iterator[None]:
    """Within the block `utcnow()` is `moment`, in this thread (or task) only."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use an aware one")
    token = _pinned_now.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _pinned_now.reset(token)


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


def _note_write(session: Session, _context: Any) -> None:
    # Flushed writes are no longer in session.new/dirty/deleted; transaction() must still see them.
    session.info[_WROTE_FLAG] = True


def _forget_writes(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE_FLAG, None)


def _keep(session: Session, instance: Any) -> None:
    # A row written or read inside a write transaction (e.g. a claim made for a check-in, or one written
    # by a statement and added as loaded) is held strongly until the request ends; see _commit.
    if session.info.get(_WRITE_FLAG):
        session.info.setdefault(_KEPT_NOW, []).append(instance)


def _has_foreign_work(session: Session) -> bool:
    return bool(session.new or session.deleted or session.dirty or session.info.get(_WROTE_FLAG))


@contextmanager
def transaction() -> Iterator[None]:
    """Run the block as the one write transaction of a public service call.

    It commits when the block ends and rolls back on any exception. Nested use joins the outer
    transaction, so a public service may call another without committing half of its work. It never
    commits work it did not start: entered with writes pending in the session, it raises ForeignWork.

    What the request read before (the user behind its token, the shop, ...) stays in the session and is
    not read again: on PostgreSQL the reads so far become part of this transaction (READ COMMITTED: each
    statement sees what is committed when it starts, so nothing read is a stale snapshot to write from);
    on SQLite the read transaction ends first, since a deferred reader cannot become a writer safely.
    After the commit the rows stay loaded (not expired), so the response is built without another
    transaction.
    """
    session = db.session()  # the request's Session itself (scoped_session lacks in_transaction)
    if session.info.get(_WRITE_FLAG):
        yield
        return
    if session.info.pop(_AUTOCOMMIT, False):
        # A safe-method request that writes after all: its reads ran without a transaction (see
        # read_without_transaction); nothing can be pending in that mode, so end it for a real one.
        session.rollback()
    if _has_foreign_work(session):
        raise ForeignWork(
            "transaction() was entered with uncommitted writes it did not make; "
            "do the writes inside the transaction() block"
        )
    if is_sqlite():
        if session.in_transaction():
            # Only reads happened (checked above): ending them discards nothing.
            session.rollback()
        session.connection(execution_options={"sqlite_immediate": True})
    session.info[_WRITE_FLAG] = True
    try:
        yield
        _commit(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_WRITE_FLAG, None)
        session.info.pop(_KEPT_NOW, None)


def _commit(session: Session) -> None:
    # What was read and written inside the transaction is what it committed; expiring it would make
    # the response read it all again in a transaction of its own.
    expire = session.expire_on_commit
    session.expire_on_commit = False
    # The session holds its rows weakly: keep what the transaction had until the request ends, so that
    # a relationship or a get() for the response finds it instead of reading it again.
    session.info[_KEPT] = [*session.identity_map.values(), *session.info.pop(_KEPT_NOW, ())]
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


@contextmanager
def savepoint() -> Iterator[None]:
    """A step of a transaction that may fail alone: on an exception only its own work is undone.

    The exception still propagates; the caller catches what it expects (e.g. an IntegrityError from a
    concurrent insert) and carries on with the rest of the transaction.
    """
    if not db.session().info.get(_WRITE_FLAG):
        raise RuntimeError("savepoint() is a step of a transaction(): open one first")
    with db.session.begin_nested():
        yield


def read_without_transaction() -> None:
    """Run a read-only request's statements in autocommit: no BEGIN and no ROLLBACK round trips.

    On PostgreSQL under READ COMMITTED, a statement in autocommit sees exactly what it would see inside
    a transaction (each statement takes its own snapshot either way). Called before a GET's first
    statement; a transaction() later in the request ends this mode and opens a real transaction, so a
    write is never spread over autocommitted statements. SQLite keeps its transactions.
    """
    session = db.session()
    if is_sqlite() or session.in_transaction():
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    session.info[_AUTOCOMMIT] = True


def _autocommit_ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_AUTOCOMMIT, None)


def _no_flush_in_autocommit(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_AUTOCOMMIT):
        # Each statement would commit on its own: writes belong in transaction().
        raise RuntimeError("a write outside transaction() in a read-only request")


def end_read() -> None:
    """End the session's transaction when it only read (a health check, a failed read)."""
    session = db.session()
    if session.info.get(_WRITE_FLAG):
        raise RuntimeError("end_read() inside transaction(): let the transaction end itself")
    session.rollback()


# --- connections --------------------------------------------------------------------------------


def _is_dead_on_arrival(dbapi_connection: Any) -> bool:
    """True when an idle psycopg connection has something to read: only a dying server sends unasked.

    A backend ended by pg_terminate_backend or a server shutdown sends its FATAL notice and closes the
    socket; polling the socket costs a system call, not a round trip (unlike pool_pre_ping's SELECT).
    """
    if not isinstance(dbapi_connection, psycopg.Connection):
        return False
    if dbapi_connection.closed:
        return True
    try:
        readable, _w, _x = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _discard_dead(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if _is_dead_on_arrival(dbapi_connection):
        # The pool closes this one and checks out (or opens) another, up to three times.
        raise DisconnectionError("the server closed this pooled connection")


def first_statement(run: Callable[[], T]) -> T:
    """Run a request's first statement, once more on a fresh connection if its connection was dead.

    This is SQLAlchemy's "optimistic" disconnect handling: no ping before use; a statement that fails
    because the connection is gone invalidates it (and the pool's older connections), and nothing was
    done yet, so running it again on a new connection is safe.
    """
    try:
        return run()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        db.session.rollback()
        return run()


R = TypeVar("R")


def adopt(row: R) -> R:
    """A row just written by a statement (not the session's flush) enters the session as loaded, so the
    response reads it without a query."""
    make_transient_to_detached(row)
    db.session.add(row)
    return row


def driver_rows(sql: str, params: dict[str, Any]) -> list[tuple]:
    """PostgreSQL: run a statement (psycopg's %(name)s style) straight on the session's connection,
    prepared on the server, and return its rows.

    For the statements run while a hot lock is held (the ledger's posting with its follow-ups, a
    check-in's writes): every bit of client work then lengthens the queue behind the lock, so these skip
    SQLAlchemy's execution layer, and the statement's placeholders are numbered once per process
    (psycopg parses a statement on every execution when it is longer than 4 KB, as the posting with a
    redemption's writes is: 0.16 ms each time). Errors still surface as SQLAlchemy's (IntegrityError
    and so on).
    """
    connection = db.session.connection()
    numbered, names = _numbered(sql)
    values = [params[name] for name in names]
    try:
        cursor = psycopg.RawCursor(connection.connection.driver_connection)
        return cursor.execute(numbered, values, prepare=True).fetchall()
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, params, exc, psycopg.Error, dialect=connection.dialect) from exc


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@lru_cache(maxsize=128)
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with its %(name)s placeholders as $1, $2, ... (one number per name), and the names in order."""
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${names.setdefault(match.group(1), len(names) + 1)}"

    numbered = _PLACEHOLDER.sub(number, sql)
    if "%" in numbered:
        raise ValueError("driver_rows: a % that is not a %(name)s placeholder")
    return numbered, tuple(names)


class _KeepPreparedConnection(psycopg.Connection):
    """A psycopg connection whose rollback keeps the statements prepared on it.

    psycopg's rollback() sends ROLLBACK and then DEALLOCATE ALL (it forgets its prepared statements, in
    case one was prepared inside the aborted transaction). PostgreSQL's named prepared statements are not
    transactional: one prepared successfully exists until the session ends, whatever becomes of the
    transaction, and psycopg records a statement as prepared only once the server accepted it. Every
    request ends with a rollback (the session's close, or the pool's reset on return), so without this
    the ledger's posting statement would be parsed and planned again on every request.
    """

    def rollback(self) -> None:
        if (
            self._num_transactions  # psycopg's own transaction blocks: its checks apply
            or self._pipeline is not None
            or self._tpc is not None
            or self.pgconn.transaction_status == TransactionStatus.IDLE
        ):
            super().rollback()
            return
        with self.lock:
            self.wait(self._exec_command(b"ROLLBACK"))


def _connect(dialect: Any, _record: Any, cargs: tuple, cparams: dict[str, Any]) -> Any:
    if dialect.driver != "psycopg":
        return None
    return _KeepPreparedConnection.connect(*cargs, **cparams)


# Every listener above, attached by install_listeners() from create_app, not when this module is
# imported. They are on the classes, so they hold for every engine, session and pool of the process.
_LISTENERS: tuple[tuple[Any, str, Callable[..., Any]], ...] = (
    (Engine, "connect", _sqlite_on_connect),
    (Engine, "begin", _sqlite_begin),
    (Session, "after_flush", _note_write),
    (Session, "after_transaction_end", _forget_writes),
    (Session, "pending_to_persistent", _keep),
    (Session, "loaded_as_persistent", _keep),
    (Session, "detached_to_persistent", _keep),
    (Session, "after_transaction_end", _autocommit_ended),
    (Session, "before_flush", _no_flush_in_autocommit),
    (Pool, "checkout", _discard_dead),
    (Engine, "do_connect", _connect),
)


def install_listeners() -> None:
    """Attach the database listeners, once per process however many apps are built."""
    for target, name, listener in _LISTENERS:
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)
