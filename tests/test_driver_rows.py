"""database.driver_rows: a statement run straight on psycopg, its placeholders numbered once per process."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from merit_bank.database import _numbered, driver_rows, is_sqlite
from merit_bank.extensions import db


def test_placeholders_are_numbered_once_per_name_in_order():
    sql = "SELECT %(b)s::int + %(a)s::int, %(b)s::int"
    assert _numbered(sql) == ("SELECT $1::int + $2::int, $1::int", ("b", "a"))


def test_a_percent_sign_that_is_no_placeholder_is_refused():
    with pytest.raises(ValueError):
        _numbered("SELECT 'x' LIKE '%' || %(a)s")


def test_rows_come_back_and_errors_surface_as_sqlalchemys(app):
    with app.app_context():
        if is_sqlite():
            pytest.skip("PostgreSQL only")
        rows = driver_rows("SELECT %(b)s::int + %(a)s::int, %(b)s::text", {"a": 2, "b": 40, "unused": 1})
        assert rows == [(42, "40")]
        with pytest.raises(IntegrityError):
            driver_rows("INSERT INTO villages (id, name, code) VALUES (NULL, %(n)s, %(n)s)", {"n": "x"})
        db.session.rollback()
