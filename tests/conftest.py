"""Test fixtures: every test gets a fresh, migrated database — SQLite or a real PostgreSQL.

Migrations run once per test session into a template (a SQLite file, a PostgreSQL template
database); each test then gets a copy, which is far quicker than migrating for every test.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from merit_bank import create_app
from merit_bank.extensions import db
from tests.browser_support import CHROMIUM_ARGS, CSP_VIOLATIONS, CspWatchingBrowser, LiveServer, serve

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASES = [d for d in os.environ.get("TEST_DATABASES", "sqlite,postgresql").split(",") if d]

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
    "JWT_SECRET_KEY": "test-jwt-secret-key-that-is-long-enough-000",
    # Argon2 at its cheapest: the tests check logic, not hashing cost.
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_KIB": 1024,
}

_counter = itertools.count()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def _pg_exec(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def _migrate(url: str) -> None:
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    # The pid keeps two test sessions on one machine (or two xdist workers) off each other's template.
    name = f"mb_tpl_{_worker()}_{os.getpid()}"
    try:
        _pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except psycopg.OperationalError as exc:  # pragma: no cover - reported clearly instead of 100 errors
        pytest.exit(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}", returncode=3)
    _pg_exec(f"CREATE DATABASE {name}")
    _migrate(_pg_url(name))
    yield name
    _pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _fresh_database(kind: str, request, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "merit_bank.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"mb_{_worker()}_{os.getpid()}_{next(_counter)}"
    _pg_exec(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    try:
        yield _pg_url(name)
    finally:
        _pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=DATABASES)
def db_url(request, tmp_path) -> Iterator[str]:
    """A fresh migrated database URL; tests using it run once on SQLite and once on PostgreSQL."""
    yield from _fresh_database(request.param, request, tmp_path)


@pytest.fixture
def sqlite_url(request, tmp_path) -> Iterator[str]:
    """A fresh migrated SQLite database only (for tests about the SQLite file itself)."""
    yield from _fresh_database("sqlite", request, tmp_path)


def make_app(url: str, **overrides) -> Flask:
    return create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url, **overrides})


@contextmanager
def app_for(url: str, **overrides) -> Iterator[Flask]:
    """An app on `url` with these settings, its connections closed when the block ends."""
    app = make_app(url, **overrides)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(db_url, tmp_path) -> Iterator[Flask]:
    app = make_app(db_url, UPLOAD_FOLDER=str(tmp_path / "uploads"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def live_server(sqlite_url, tmp_path) -> Iterator[LiveServer]:
    """The app served over HTTP on a fresh SQLite database, for browser tests."""
    app = make_app(sqlite_url, UPLOAD_FOLDER=str(tmp_path / "uploads"))
    with serve(app) as server:
        yield server


@pytest.fixture(scope="session")
def playwright_instance():
    """One Playwright per test process: a second sync_playwright() inside the first is refused."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance, chromium_path):
    browser = CspWatchingBrowser(
        playwright_instance.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    )
    yield browser
    browser.close()


# A test using any of these drives Chromium (some launch their own, through CspWatchingBrowser too).
_BROWSER_FIXTURES = {"browser", "browser_page", "playwright_instance"}


@pytest.fixture
def csp_violations() -> Iterator[list[str]]:
    """The CSP violations the browser reported during this test; any left at its end fail the test.

    A test that provokes a violation on purpose (e.g. framing a page) checks it and clears the list.
    """
    CSP_VIOLATIONS.clear()
    yield CSP_VIOLATIONS
    if CSP_VIOLATIONS:
        found = "\n".join(dict.fromkeys(CSP_VIOLATIONS))
        CSP_VIOLATIONS.clear()
        pytest.fail(f"a page broke its Content-Security-Policy:\n{found}", pytrace=False)


@pytest.fixture(autouse=True)
def _no_csp_violation_in_browser_tests(request) -> None:
    """Every test that drives the browser also checks that no page broke the Content-Security-Policy."""
    if _BROWSER_FIXTURES & set(request.fixturenames):
        request.getfixturevalue("csp_violations")


@pytest.fixture
def browser_page(browser):
    """A phone-sized page (360x740, touch) in a fresh browser context."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path
