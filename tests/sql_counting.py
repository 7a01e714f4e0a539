"""Counting what a request does to the database, from SQLAlchemy's side: transactions and statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import event

from merit_bank.extensions import db


@dataclass
class Counts:
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0
    statements: list[str] = field(default_factory=list)
    # Per statement: did the driver run it in autocommit (no BEGIN sent before it)?
    autocommit: list[bool] = field(default_factory=list)


@contextmanager
def counting(app: Flask) -> Iterator[Counts]:
    """Count transactions begun, committed and rolled back, and the statements SQLAlchemy sends.

    The ledger's posting statement runs on the driver connection itself and is not among `statements`;
    BEGIN and COMMIT are not either (they are counted as transactions).
    """
    counts = Counts()
    with app.app_context():
        engine = db.engine

    def on_begin(_conn) -> None:
        counts.begins += 1

    def on_commit(_conn) -> None:
        counts.commits += 1

    def on_rollback(_conn) -> None:
        counts.rollbacks += 1

    def on_execute(conn, _cursor, statement, _params, _context, _many) -> None:
        counts.statements.append(statement)
        counts.autocommit.append(bool(getattr(conn.connection.dbapi_connection, "autocommit", False)))

    listeners = [
        ("begin", on_begin),
        ("commit", on_commit),
        ("rollback", on_rollback),
        ("before_cursor_execute", on_execute),
    ]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        yield counts
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)
