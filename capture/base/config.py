"""Configuration read from the environment, with safe development defaults."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import load_dotenv
from flask import Flask

from capture.base.lifecycle import parse_overrides

DEFAULT_SUBMIT_LIMIT = "30/minute;300/hour"
# Failed back-office logins allowed per address and per account before a 429.
DEFAULT_LOGIN_LIMIT = "10/minute;50/hour"
DEFAULT_LOGIN_ACCOUNT_LIMIT = "5/minute;20/hour"
DEFAULT_FORM_LIMIT = "300/minute"
DEFAULT_GLOBAL_LIMIT = "3000/minute"
CAPTCHA_PROVIDERS = ("turnstile", "hcaptcha", "recaptcha")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
METRICS_TOKEN_MIN_LENGTH = 24
# Host names a development server answers when neither PUBLIC_BASE_URL nor
# LEADGATE_TRUSTED_HOSTS is set: links built from the request's host stay on this machine.
DEVELOPMENT_HOSTS = ("localhost", "127.0.0.1")


class UnsafeConfiguration(RuntimeError):
    """Raised at start-up when production mode meets a setting that would be unsafe."""


class InvalidConfiguration(ValueError):
    """Raised at start-up for a setting that cannot be read, rather than failing later."""


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None) -> list[str] | None:
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    return items or None


def _development_secret(instance: Path, name: str = "secret_key") -> str:
    """A per-checkout random key, so development never ships a guessable one."""
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _database_url(url: str) -> str:
    # Users paste `postgres://` and `postgresql://` URLs; we ship psycopg 3, not psycopg2.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(app: Flask, test_config: dict[str, Any] | None = None) -> None:
    """Fill `app.config` from the environment (and `.env`), then check production safety."""
    load_dotenv(Path(app.root_path) / ".env", override=False)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    env = os.environ.get
    test_config = test_config or {}

    environment = test_config.get("LEADGATE_ENV", env("LEADGATE_ENV", "development"))
    secret = test_config.get("SECRET_KEY") or env("SECRET_KEY")
    if not secret and environment != "production":
        secret = _development_secret(instance)
    # Keys the suppression list (HMAC of erased addresses). Its own key: rotating SECRET_KEY
    # must not make erased people unrecognisable.
    suppression_key = test_config.get("SUPPRESSION_KEY") or env("SUPPRESSION_KEY")
    if not suppression_key and environment != "production":
        suppression_key = _development_secret(instance, "suppression_key")

    app.config.from_mapping(
        LEADGATE_ENV=environment,
        SECRET_KEY=secret,
        SUPPRESSION_KEY=suppression_key,
        # Rotation: the old keys, comma separated. They still verify what they signed (links in
        # e-mails, sessions); only SECRET_KEY signs anything new.
        SECRET_KEY_FALLBACKS=[
            key.strip() for key in env("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()
        ],
        SQLALCHEMY_DATABASE_URI=_database_url(
            env("DATABASE_URL") or f"sqlite:///{instance / 'leadgate.sqlite3'}"
        ),
        # Dead connections are noticed without a query per request: capture.ops.liveness.
        SQLALCHEMY_ENGINE_OPTIONS={},
        STORAGE_URL=env("STORAGE_URL") or (instance / "magnets").as_uri(),
        S3_ENDPOINT_URL=env("S3_ENDPOINT_URL") or None,
        MAIL_URL=env("MAIL_URL", "console://"),
        # Console mail prints names and addresses into the logs: production needs this flag.
        ALLOW_CONSOLE_MAIL=_flag(env("LEADGATE_ALLOW_CONSOLE_MAIL")),
        MAIL_FROM=env("MAIL_FROM", "Leadgate <no-reply@localhost>"),
        # An address for List-Unsubscribe's mailto: besides the https link (read by people).
        MAIL_UNSUBSCRIBE_MAILTO=(env("MAIL_UNSUBSCRIBE_MAILTO") or "").strip() or None,
        RATELIMIT_STORAGE_URI=env("RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_ENABLED=_flag(env("RATELIMIT_ENABLED"), default=True),
        RATELIMIT_SUBMIT=env("RATELIMIT_SUBMIT", DEFAULT_SUBMIT_LIMIT),
        RATELIMIT_LOGIN=env("RATELIMIT_LOGIN", DEFAULT_LOGIN_LIMIT),
        RATELIMIT_LOGIN_ACCOUNT=env("RATELIMIT_LOGIN_ACCOUNT", DEFAULT_LOGIN_ACCOUNT_LIMIT),
        # Per form and for the whole site, on top of the per-address RATELIMIT_SUBMIT.
        RATELIMIT_SUBMIT_FORM=env("RATELIMIT_SUBMIT_FORM", DEFAULT_FORM_LIMIT),
        RATELIMIT_SUBMIT_GLOBAL=env("RATELIMIT_SUBMIT_GLOBAL", DEFAULT_GLOBAL_LIMIT),
        # Page views from track.js, per address (docs/tracking.md).
        RATELIMIT_ACTIVITY=env("RATELIMIT_ACTIVITY", "120/minute;2000/hour"),
        RATELIMIT_HEADERS_ENABLED=True,
        # Several installations may share one Redis: each keeps its own counters.
        RATELIMIT_KEY_PREFIX=env("RATELIMIT_KEY_PREFIX", "leadgate"),
        # Redis down must never cost a lead: count in memory until it is back.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        # The back office shows times in this zone (an IANA name); stored times are UTC.
        BABEL_DEFAULT_TIMEZONE=env("LEADGATE_TIMEZONE") or "UTC",
        PUBLIC_BASE_URL=(env("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        # Host names the app answers (Flask's TRUSTED_HOSTS; others get 400): comma separated,
        # ".example.com" also takes every subdomain. See trusted_hosts() for the default.
        TRUSTED_HOSTS=_list(env("LEADGATE_TRUSTED_HOSTS")),
        WEBHOOK_ALLOW_PRIVATE_TARGETS=_flag(env("WEBHOOK_ALLOW_PRIVATE_TARGETS")),
        # Conversion kinds re-mapped to another class: "video_view=SQL,phone_call=MQL".
        CONVERSION_CLASSES=env("LEADGATE_CONVERSION_CLASSES", ""),
        # Scoring rules merged over the defaults: inline JSON or a .json/.yaml file path.
        SCORING_RULES=env("LEADGATE_SCORING_RULES", ""),
        # Spam protection on public forms.
        FORM_MIN_FILL_SECONDS=float(env("LEADGATE_FORM_MIN_FILL_SECONDS", "2")),
        FORM_TOKEN_MAX_AGE=int(env("LEADGATE_FORM_TOKEN_MAX_AGE", str(24 * 3600))),
        HONEYPOT_FIELD=env("LEADGATE_HONEYPOT_FIELD", "homepage_url"),
        # Optional CAPTCHA step (turnstile, hcaptcha or recaptcha), verified on the server.
        CAPTCHA_PROVIDER=(env("LEADGATE_CAPTCHA") or "").strip().lower() or None,
        CAPTCHA_SITE_KEY=env("LEADGATE_CAPTCHA_SITE_KEY") or None,
        CAPTCHA_SECRET=env("LEADGATE_CAPTCHA_SECRET") or None,
        CAPTCHA_VERIFY_URL=env("LEADGATE_CAPTCHA_VERIFY_URL") or None,
        CAPTCHA_SCRIPT_URL=env("LEADGATE_CAPTCHA_SCRIPT_URL") or None,
        CAPTCHA_TIMEOUT=float(env("LEADGATE_CAPTCHA_TIMEOUT", "5")),
        # Google Tag Manager container (GTM-XXXX) on hosted and landing pages; unset: none.
        TAG_MANAGER_ID=(env("LEADGATE_TAG_MANAGER_ID") or "").strip().upper() or None,
        # Refuse throw-away addresses (the disposable-email-domains list).
        BLOCK_DISPOSABLE_EMAILS=_flag(env("LEADGATE_BLOCK_DISPOSABLE_EMAILS")),
        # Bodies of public submissions; uploads raise their own limit per request.
        MAX_CONTENT_LENGTH=int(env("LEADGATE_MAX_SUBMISSION_BYTES", str(64 * 1024))),
        MAX_FORM_PARTS=200,
        # How many reverse proxies in front of us set X-Forwarded-For (0: none).
        PROXY_COUNT=int(env("LEADGATE_PROXY_COUNT", "0")),
        TRUNCATE_IP=_flag(env("LEADGATE_TRUNCATE_IP")),
        ALLOW_SQLITE_IN_PRODUCTION=_flag(env("LEADGATE_ALLOW_SQLITE")),
        DRAIN_OUTBOX_IN_PROCESS=_flag(env("LEADGATE_DRAIN_OUTBOX_IN_PROCESS")),
        # Outbox delivery: how long a claimed batch is leased to one worker before another
        # may take it (longer than a batch can take), and when retrying stops.
        OUTBOX_BATCH_SIZE=int(env("LEADGATE_OUTBOX_BATCH_SIZE", "10")),
        OUTBOX_LEASE_SECONDS=int(env("LEADGATE_OUTBOX_LEASE_SECONDS", "600")),
        OUTBOX_GIVE_UP_SECONDS=int(env("LEADGATE_OUTBOX_GIVE_UP_SECONDS", str(24 * 3600))),
        OUTBOX_RETRY_BASE_SECONDS=float(env("LEADGATE_OUTBOX_RETRY_BASE_SECONDS", "30")),
        OUTBOX_RETRY_MAX_SECONDS=float(env("LEADGATE_OUTBOX_RETRY_MAX_SECONDS", "3600")),
        MAIL_TIMEOUT_SECONDS=float(env("LEADGATE_MAIL_TIMEOUT_SECONDS", "20")),
        # JSON lines for collectors in production, readable lines on a developer's terminal.
        LOG_FORMAT=(
            env("LOG_FORMAT") or ("json" if environment == "production" else "text")
        ).lower(),
        LOG_LEVEL=(env("LOG_LEVEL") or "info").upper(),
        # Bearer token for GET /metrics; unset, there is no metrics endpoint at all.
        METRICS_TOKEN=env("METRICS_TOKEN") or None,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent.parent / "translations"),
        # argon2 parameters by argon2.profiles name; tests use CHEAPEST, production refuses it.
        # A set of argon2 parameters, not a password.
        PASSWORD_HASH_PROFILE="RFC_9106_LOW_MEMORY",  # noqa: S106  # nosec B106
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=environment == "production",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(env("LEADGATE_SESSION_HOURS", "12"))),
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(test_config)
    app.config["PUBLIC_BASE_URL"] = check_base_url(app.config.get("PUBLIC_BASE_URL"))
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)
    check_unsubscribe_mailto(app.config.get("MAIL_UNSUBSCRIBE_MAILTO"))
    check_captcha(app.config)
    check_logs(app.config)
    check_production(app.config)
    try:
        parse_overrides(app.config["CONVERSION_CLASSES"])
    except ValueError as exc:
        # Read on every submission: a typo must stop the start, not fail each one with a 500.
        raise InvalidConfiguration(f"LEADGATE_CONVERSION_CLASSES: {exc}") from exc


def check_base_url(base: str | None) -> str | None:
    """`PUBLIC_BASE_URL` without its trailing slash; an address links cannot start with stops
    the start rather than going out in every e-mail."""
    if not base:
        return None
    base = base.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise InvalidConfiguration(
            f"PUBLIC_BASE_URL must be an http(s) address such as https://leads.example.com, "
            f"not {base!r}."
        )
    return base


def check_unsubscribe_mailto(address: str | None) -> None:
    """A bare address (`unsubscribe@example.com`): it goes into every e-mail's header."""
    if address is None:
        return
    local, at, domain = address.partition("@")
    if not (local and at and "." in domain) or any(c in address for c in ' <>,;:?"\\'):
        raise InvalidConfiguration(
            f"MAIL_UNSUBSCRIBE_MAILTO must be a plain e-mail address such as "
            f"unsubscribe@example.com, not {address!r}."
        )


def trusted_hosts(config: dict[str, Any]) -> list[str] | None:
    """The Host names to answer. Links never come from an arbitrary Host header: with
    `PUBLIC_BASE_URL` links use it and any host may be answered unless a list is given;
    without it, links use the request's host, so that host must be trusted: the list given, or
    in development only this machine's names. Production needs one or the other
    (`check_production`)."""
    listed = config.get("TRUSTED_HOSTS")
    if listed:
        return list(listed)
    if config.get("PUBLIC_BASE_URL") or config["LEADGATE_ENV"] == "production":
        return None
    return list(DEVELOPMENT_HOSTS)


def check_captcha(config: dict[str, Any]) -> None:
    """A CAPTCHA switched on but impossible to verify would quarantine every submission."""
    provider = config.get("CAPTCHA_PROVIDER")
    if not provider:
        return
    if provider not in CAPTCHA_PROVIDERS:
        raise UnsafeConfiguration(
            f"LEADGATE_CAPTCHA must be one of {', '.join(CAPTCHA_PROVIDERS)}, not {provider!r}."
        )
    if not config.get("CAPTCHA_SITE_KEY") or not config.get("CAPTCHA_SECRET"):
        raise UnsafeConfiguration(
            "LEADGATE_CAPTCHA needs LEADGATE_CAPTCHA_SITE_KEY and LEADGATE_CAPTCHA_SECRET."
        )


def check_logs(config: dict[str, Any]) -> None:
    if config["LOG_FORMAT"] not in LOG_FORMATS:
        raise InvalidConfiguration(
            f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {config['LOG_FORMAT']!r}."
        )
    if config["LOG_LEVEL"] not in LOG_LEVELS:
        raise InvalidConfiguration(
            f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {config['LOG_LEVEL']!r}."
        )


def check_production(config: dict[str, Any]) -> None:
    """Refuse to start production with debug on, no secret key, or SQLite by accident."""
    if config["LEADGATE_ENV"] != "production":
        return
    if config.get("DEBUG") or _flag(os.environ.get("FLASK_DEBUG")):
        raise UnsafeConfiguration("LEADGATE_ENV=production refuses to run with debug on.")
    # Blanks count for nothing: 40 spaces are as guessable as no key.
    if len((config.get("SECRET_KEY") or "").strip()) < 32:
        raise UnsafeConfiguration("LEADGATE_ENV=production needs SECRET_KEY (32+ characters).")
    if len((config.get("SUPPRESSION_KEY") or "").strip()) < 32:
        raise UnsafeConfiguration(
            "LEADGATE_ENV=production needs SUPPRESSION_KEY (32+ characters, never rotated)."
        )
    if config.get("PASSWORD_HASH_PROFILE") == "CHEAPEST":
        raise UnsafeConfiguration("PASSWORD_HASH_PROFILE=CHEAPEST is for tests only.")
    token = config.get("METRICS_TOKEN")
    if token is not None and len(token) < METRICS_TOKEN_MIN_LENGTH:
        raise UnsafeConfiguration(
            f"METRICS_TOKEN must be {METRICS_TOKEN_MIN_LENGTH}+ characters in production."
        )
    uri = config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite") and not config.get("ALLOW_SQLITE_IN_PRODUCTION"):
        raise UnsafeConfiguration(
            "LEADGATE_ENV=production needs DATABASE_URL (PostgreSQL); "
            "set LEADGATE_ALLOW_SQLITE=1 to run on SQLite anyway."
        )
    if not config.get("PUBLIC_BASE_URL") and not config.get("TRUSTED_HOSTS"):
        raise UnsafeConfiguration(
            "LEADGATE_ENV=production needs PUBLIC_BASE_URL (the https:// address links in "
            "e-mails and answers start with) or LEADGATE_TRUSTED_HOSTS; links are never "
            "built from an unchecked Host header."
        )
    console_mail = urlsplit(config.get("MAIL_URL") or "").scheme == "console"
    if console_mail and not config.get("ALLOW_CONSOLE_MAIL"):
        raise UnsafeConfiguration(
            "LEADGATE_ENV=production refuses MAIL_URL=console:// (the default): it writes "
            "people's names and addresses into the logs. Set MAIL_URL to smtp://, smtps:// or "
            "ses://, or LEADGATE_ALLOW_CONSOLE_MAIL=1 to log e-mails anyway."
        )
