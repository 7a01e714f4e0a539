"""Merit Bank (功德银行): the Flask application factory."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Any

from flask import Flask, request
from sqlalchemy import text

from .config import Config
from .database import end_read, read_without_transaction
from .errors import DomainError, problem, register_error_handlers, wants_problem_json
from .extensions import babel, csrf, db, jwt, migrate
from .openapi import MeritApi, ProblemResponsesPlugin

# Each domain package may hold models.py, api.py (`blp`), views.py (`bp`) and cli.py (`commands`).
DOMAINS = (
    "auth",
    "villages",
    "households",
    "ledger",
    "rules",
    "claims",
    "events",
    "shop",
    "reports",
    "operations",
    "checkpoints",
    "expiry",
    "statements",
)

_ROOT = Path(__file__).resolve().parent.parent


def _domain_module(domain: str, name: str):
    qualified = f"{__name__}.{domain}.{name}"
    try:
        if importlib.util.find_spec(qualified) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(qualified)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides settings (tests pass a database URL and test keys)."""
    app = Flask(
        __name__,
        instance_path=str(_ROOT / "instance"),
        template_folder=str(_ROOT / "templates"),
        static_folder=str(_ROOT / "static"),
    )
    settings = Config()
    app.config.from_object(settings)
    if config:
        app.config.update(config)
        for key in (
            "SECRET_KEY",
            "JWT_SECRET_KEY",
            "PRODUCTION",
            "CHECKPOINT_SIGNING_KEY",
            "CHECKPOINT_SIGNING_KEY_FILE",
        ):
            if key in config:
                setattr(settings, key, config[key])
    settings.check_production_ready()
    if app.config.get("TRUSTED_PROXIES", 0) > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only the last N hops of X-Forwarded-For are believed: those are our own proxies.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_ROOT / "migrations"), compare_type=True, render_as_batch=True)
    jwt.init_app(app)
    csrf.init_app(app)
    from .i18n import compile_catalogs, select_locale, select_timezone

    compile_catalogs(Path(app.root_path) / "translations")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # One Api per app: the OpenAPI spec is built from the schemas each app registers.
    api = MeritApi(
        app,
        spec_kwargs={
            "info": {"description": "功德银行 Merit Bank HTTP API, contract v1"},
            "extra_plugins": [ProblemResponsesPlugin(app)],
        },
    )
    app.extensions["merit_bank.api"] = api

    from . import auth_hooks, inputs, security_headers

    inputs.register(app)  # before any blueprint: routes keep the `int` converter they were built with
    auth_hooks.register(app)
    register_error_handlers(app)
    security_headers.register(app)
    _require_json_bodies(app)

    for domain in DOMAINS:
        _domain_module(domain, "models")
    for domain in DOMAINS:
        api_module = _domain_module(domain, "api")
        if api_module is not None:
            api.register_blueprint(api_module.blp)
        views = _domain_module(domain, "views")
        if views is not None:
            app.register_blueprint(views.bp)
        cli = _domain_module(domain, "cli")
        if cli is not None:
            for command in cli.commands:
                app.cli.add_command(command)

    from . import web
    from .demo import seed_demo_command

    app.register_blueprint(web.bp)
    app.cli.add_command(seed_demo_command)
    _register_operations(app)
    return app


# API endpoints that take a non-JSON body (e.g. a multipart file upload); domains add theirs here.
JSON_EXEMPT_ENDPOINTS: set[str] = {"reports_api.import_households", "claims_api.upload_claim_photo"}
# GET endpoints whose statements run in autocommit: each is a few independent single-row reads (no
# streaming cursor, no snapshot shared between statements); a write in them still gets its transaction.
AUTOCOMMIT_READ_ENDPOINTS: set[str] = {"ledger_api.household_balance"}


def _require_json_bodies(app: Flask) -> None:
    @app.before_request
    def _reads_without_transaction():
        # Hot reads of one or two rows: spare them BEGIN and ROLLBACK (database.read_without_transaction).
        if request.method in ("GET", "HEAD") and request.endpoint in AUTOCOMMIT_READ_ENDPOINTS:
            read_without_transaction()

    @app.before_request
    def _json_only():
        if (
            wants_problem_json()
            and request.endpoint not in JSON_EXEMPT_ENDPOINTS
            and request.method in ("POST", "PUT", "PATCH")
            and (request.content_length or 0) > 0
            and not request.is_json
        ):
            return problem(415, "unsupported-media-type", "Send the body as application/json.")
        return None


def _register_operations(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        """200 when the database answers; load balancers and Docker poll this."""
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:  # any failure of the database is "unhealthy", never a 500 page
            return {"status": "unavailable"}, 503
        finally:
            end_read()
        return {"status": "ok"}


__all__ = ["DomainError", "create_app"]
