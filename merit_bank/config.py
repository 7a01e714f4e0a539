"""Configuration read from the environment, with development defaults that run out of the box."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _default_database_url() -> str:
    INSTANCE_DIR.mkdir(exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'merit_bank.sqlite3'}"


def _database_url(raw: str | None) -> str:
    url = raw or _default_database_url()
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the psycopg 3 driver named.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    """Settings for a running deployment; every value can come from the environment."""

    def __init__(self) -> None:
        env = os.environ
        self.SECRET_KEY = env.get("SECRET_KEY", DEV_SECRET)
        self.JWT_SECRET_KEY = env.get("JWT_SECRET_KEY", DEV_JWT_SECRET)
        # The identity-number keyring (see households/identity.py); unset: the key derived from SECRET_KEY.
        self.IDENTITY_KEYS = env.get("IDENTITY_KEYS", "")
        self.IDENTITY_KEYS_FILE = env.get("IDENTITY_KEYS_FILE", "")
        if self.IDENTITY_KEYS or self.IDENTITY_KEYS_FILE:
            from .households.identity import read_keyring

            # A mistyped key stops the start, rather than the first registration of an identity number.
            read_keyring(self.IDENTITY_KEYS, self.IDENTITY_KEYS_FILE, self.SECRET_KEY)
        # The Ed25519 key that signs chain checkpoints (see checkpoints/signing.py): base64 of 32 raw bytes,
        # or a file holding it; never in the database. Unset: a key derived from SECRET_KEY (not production).
        self.CHECKPOINT_SIGNING_KEY = env.get("CHECKPOINT_SIGNING_KEY", "")
        self.CHECKPOINT_SIGNING_KEY_FILE = env.get("CHECKPOINT_SIGNING_KEY_FILE", "")
        self.PRODUCTION = env.get("MERIT_BANK_ENV", env.get("FLASK_ENV", "development")) == "production"
        self.SQLALCHEMY_DATABASE_URI = _database_url(env.get("DATABASE_URL"))
        # No pool_pre_ping (a round trip before every request): a connection that died in the pool is
        # discarded at checkout or on its first statement instead (see database.py).
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {}
        self.MAX_CONTENT_LENGTH = int(env.get("MAX_CONTENT_LENGTH", str(6 * 1024 * 1024)))
        self.UPLOAD_FOLDER = env.get("UPLOAD_FOLDER", str(INSTANCE_DIR / "uploads"))
        self.PUBLIC_BASE_URL = env.get("PUBLIC_BASE_URL", "")
        self.TIMEZONE = env.get("MERIT_BANK_TIMEZONE", "Asia/Shanghai")
        # The Chinese font embedded in printed PDFs (merit_bank/pdf.py): a .ttf/.otf/.ttc path, `path#N` for
        # face N of a collection; unset: the first of the usual Debian/Fedora/Arch paths that exists.
        self.PDF_FONT = env.get("PDF_FONT", "")
        # What time it is, for every domain and for sessions (database.utcnow): None is the system clock.
        # Tests set a callable returning an aware UTC datetime to move time without sleeping.
        self.CLOCK = None

        self.JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=int(env.get("JWT_ACCESS_MINUTES", "15")))
        self.JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=int(env.get("JWT_REFRESH_DAYS", "30")))
        self.JWT_TOKEN_LOCATION = ["headers", "cookies"]
        self.JWT_COOKIE_SECURE = env.get("JWT_COOKIE_SECURE", "1" if self.PRODUCTION else "0") == "1"
        self.JWT_COOKIE_SAMESITE = "Lax"
        # Pages calling the JSON API with the cookie must echo the csrf_access_token cookie in
        # X-CSRF-TOKEN (double submit); HTML forms are protected by Flask-WTF instead.
        self.JWT_COOKIE_CSRF_PROTECT = True
        self.JWT_ACCESS_COOKIE_NAME = "mb_access"
        self.JWT_REFRESH_COOKIE_NAME = "mb_refresh"
        # The HTML session lives as long as the refresh token; the cookie is refreshed on use.
        self.WEB_SESSION_HOURS = int(env.get("WEB_SESSION_HOURS", "12"))
        # A villager's session on their own phone lasts months and slides with use (auth/sessions.py).
        self.VILLAGER_SESSION_DAYS = int(env.get("VILLAGER_SESSION_DAYS", "90"))
        self.VILLAGER_SESSION_RENEW_SECONDS = int(env.get("VILLAGER_SESSION_RENEW_SECONDS", str(24 * 3600)))

        # The Flask session holds the CSRF secret of the HTML forms.
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env.get("SESSION_COOKIE_SECURE", "1" if self.PRODUCTION else "0") == "1"

        self.WTF_CSRF_TIME_LIMIT = None
        self.WTF_CSRF_CHECK_DEFAULT = False  # CSRF is checked for HTML forms only, see web.csrf_protect

        # Failed logins are bounded three ways (see auth.throttle): per address and username in a window,
        # per address across all usernames in a minute, and per username across all addresses in a day.
        self.LOGIN_MAX_FAILURES = int(env.get("LOGIN_MAX_FAILURES", "5"))
        self.LOGIN_WINDOW_SECONDS = int(env.get("LOGIN_WINDOW_SECONDS", str(15 * 60)))
        self.LOGIN_ADDRESS_MAX_PER_MINUTE = int(env.get("LOGIN_ADDRESS_MAX_PER_MINUTE", "10"))
        # 20 a day makes a 6-digit PIN a matter of decades (10^6 / 20 / 365 ≈ 137 years to try them all).
        self.LOGIN_ACCOUNT_MAX_PER_DAY = int(env.get("LOGIN_ACCOUNT_MAX_PER_DAY", "20"))
        # How many reverse proxies in front of the app may be believed about X-Forwarded-For (0: none,
        # the socket's address is the client's).
        self.TRUSTED_PROXIES = int(env.get("TRUSTED_PROXIES", "0"))
        # How long a clerk's printed activation code stays good.
        self.ACTIVATION_CODE_DAYS = int(env.get("ACTIVATION_CODE_DAYS", "14"))

        self.BABEL_DEFAULT_LOCALE = "zh_CN"
        self.BABEL_DEFAULT_TIMEZONE = self.TIMEZONE
        self.LANGUAGES = ["zh_CN", "en"]

        self.API_TITLE = "Merit Bank 功德银行"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"

    def check_production_ready(self) -> None:
        """Refuse to run a production deployment on the development secrets, or on a mistyped signing key."""
        from .checkpoints.signing import load_private_key

        # A mistyped key stops the start, rather than the first night's checkpoint.
        load_private_key(self.CHECKPOINT_SIGNING_KEY, self.CHECKPOINT_SIGNING_KEY_FILE, self.SECRET_KEY)
        if not self.PRODUCTION:
            return
        missing = []
        if self.SECRET_KEY == DEV_SECRET:
            missing.append("SECRET_KEY")
        if self.JWT_SECRET_KEY == DEV_JWT_SECRET:
            missing.append("JWT_SECRET_KEY")
        if not (self.CHECKPOINT_SIGNING_KEY or self.CHECKPOINT_SIGNING_KEY_FILE):
            # Checkpoints signed with a key derived from SECRET_KEY would fall with it; a separate key can
            # live off the database server.
            missing.append("CHECKPOINT_SIGNING_KEY (or CHECKPOINT_SIGNING_KEY_FILE)")
        if missing:
            hint = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            key_hint = "python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"
            raise RuntimeError(
                f"Refusing to start in production with development defaults: set {' and '.join(missing)}"
                f" to long random values, e.g. from `{hint}` (the signing key from `{key_hint}`)."
            )
