"""Merit Bank (功德银行): the Flask application factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, request
from sqlalchemy import text

from .config import Config
from .database import end_read, install_listeners, read_without_transaction
from .errors import DomainError, problem, register_error_handlers, wants_problem_json
from .extensions import babel, csrf, db, jwt, migrate
from .openapi import MeritApi, ProblemResponsesPlugin

_ROOT = Path(__file__).resolve().parent.parent


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

    install_listeners()
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

    from . import auth_hooks, inputs, security_headers, static_files

    inputs.register(app)  # before any blueprint: routes keep the `int` converter they were built with
    auth_hooks.register(app)
    register_error_handlers(app)
    security_headers.register(app)
    static_files.register(app)
    _require_json_bodies(app)

    _register_domains(app, api)
    _register_operations(app)
    return app


def _register_domains(app: Flask, api: MeritApi) -> None:
    """Every domain's models, API and page blueprints, commands and app-wide hooks, named one by one."""
    from . import demo, web
    from .auth import api as auth_api
    from .auth import cli as auth_cli
    from .auth import models as auth_models
    from .auth import views as auth_views
    from .checkpoints import api as checkpoints_api
    from .checkpoints import cli as checkpoints_cli
    from .checkpoints import models as checkpoints_models
    from .checkpoints import views as checkpoints_views
    from .claims import api as claims_api
    from .claims import cli as claims_cli
    from .claims import models as claims_models
    from .claims import services as claims_services
    from .claims import views as claims_views
    from .events import api as events_api
    from .events import cli as events_cli
    from .events import models as events_models
    from .events import views as events_views
    from .expiry import api as expiry_api
    from .expiry import cli as expiry_cli
    from .expiry import models as expiry_models
    from .expiry import views as expiry_views
    from .households import api as households_api
    from .households import cli as households_cli
    from .households import models as households_models
    from .ledger import api as ledger_api
    from .ledger import cli as ledger_cli
    from .ledger import models as ledger_models
    from .operations import cli as operations_cli
    from .reports import api as reports_api
    from .reports import cli as reports_cli
    from .reports import models as reports_models
    from .reports import views as reports_views
    from .rules import api as rules_api
    from .rules import cli as rules_cli
    from .rules import models as rules_models
    from .rules import views as rules_views
    from .shop import api as shop_api
    from .shop import cli as shop_cli
    from .shop import models as shop_models
    from .shop import views as shop_views
    from .stars import api as stars_api
    from .stars import models as stars_models
    from .stars import views as stars_views
    from .statements import api as statements_api
    from .statements import views as statements_views
    from .supervision import api as supervision_api
    from .supervision import models as supervision_models
    from .supervision import views as supervision_views
    from .villages import api as villages_api
    from .villages import models as villages_models

    # Every table is mapped before the first query (and before Alembic compares the schema).
    del auth_models, villages_models, households_models, ledger_models, rules_models, claims_models
    del events_models, shop_models, checkpoints_models, supervision_models, stars_models
    del reports_models, expiry_models
    for blueprint in (
        auth_api.blp, villages_api.blp, households_api.blp, ledger_api.blp, rules_api.blp, claims_api.blp,
        events_api.blp, shop_api.blp, reports_api.blp, checkpoints_api.blp, supervision_api.blp,
        stars_api.blp, expiry_api.blp, statements_api.blp,
    ):  # fmt: skip
        api.register_blueprint(blueprint)
    for blueprint in (
        auth_views.bp, rules_views.bp, claims_views.bp, events_views.bp, shop_views.bp, reports_views.bp,
        checkpoints_views.bp, supervision_views.bp, stars_views.bp,
        expiry_views.bp, statements_views.bp, web.bp,
    ):  # fmt: skip
        app.register_blueprint(blueprint)
    for commands in (
        auth_cli.commands, households_cli.commands, ledger_cli.commands, rules_cli.commands,
        claims_cli.commands, shop_cli.commands, reports_cli.commands,
        operations_cli.commands, checkpoints_cli.commands, expiry_cli.commands, [demo.seed_demo_command],
    ):  # fmt: skip
        for command in commands:
            app.cli.add_command(command)
    web.configure(
        app,
        nav=[
            auth_views.nav,
            rules_views.nav,
            claims_views.nav,
            events_views.nav,
            shop_views.nav,
            reports_views.nav,
            supervision_views.nav,
            stars_views.nav,
            expiry_views.nav,
            statements_views.nav,
        ],
        villager_sections=[
            "claims/_villager_section.html",
            "events/home_section.html",
            "shop/_villager_section.html",
            "expiry/_villager_section.html",
            "statements/_villager_section.html",
        ],
        board_sections=["stars/_board.html", "expiry/_board_section.html"],
    )
    demo.configure(
        app,
        setup_seeders=[rules_cli.seed_demo_rulebook, shop_cli.seed_shop],
        seeders=[claims_cli.seed_demo_claims, events_cli.seed_demo_events, reports_cli.seed_demo_notes],
    )
    # The member whose deed a posting was, in a household's history: the ledger does not import claims.
    app.extensions["merit_bank.history_annotators"] = (claims_services.name_deed_doers,)
    app.add_template_filter(events_views.time_span)
    app.context_processor(claims_views.claims_globals)
    app.context_processor(events_views.template_helpers)
    app.context_processor(shop_views.template_globals)
    app.context_processor(expiry_views.template_globals)
    app.context_processor(web.template_globals)
    app.add_template_global(checkpoints_views.latest_checkpoint)
    app.before_request(web.csrf_for_forms)
    app.after_request(web.renew_sliding_session)


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
