"""Settings from the environment, with safe defaults."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path("data")


class ConfigError(RuntimeError):
    """The environment asks for something the app cannot run with."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _non_negative(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {value}")
    return value


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be 1 or more, got {value}")
    return value


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _limits(env: dict[str, str], name: str, default: str) -> str:
    """A rate limit in the `limits` notation ("10/minute;100/hour"), or "off"."""
    from limits import parse_many

    raw = env.get(name, "").strip() or default
    if raw.lower() in {"off", "0", "none"}:
        return "off"
    try:
        parse_many(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{name} must look like '10/minute' or '5/hour;20/day', got {raw!r}"
        ) from exc
    return raw


# Rate limits: (setting, environment variable, default). Sign-in, sign-up, guests, invite
# codes and poll creation are counted where every worker sees them; votes per process.
RATE_LIMITS = {
    "limit_signin_address": "LIVEPOLLS_LIMIT_SIGNIN_PER_ADDRESS",
    "limit_signin_email": "LIVEPOLLS_LIMIT_SIGNIN_PER_EMAIL",
    "limit_signup": "LIVEPOLLS_LIMIT_SIGNUP_PER_ADDRESS",
    "limit_guest": "LIVEPOLLS_LIMIT_GUESTS_PER_ADDRESS",
    "limit_invite": "LIVEPOLLS_LIMIT_INVITES_PER_ADDRESS",
    "limit_poll_create": "LIVEPOLLS_LIMIT_POLLS_PER_ACCOUNT",
    "limit_vote_account": "LIVEPOLLS_LIMIT_VOTES_PER_ACCOUNT",
    "limit_vote_address": "LIVEPOLLS_LIMIT_VOTES_PER_ADDRESS",
}


def data_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    return Path(env.get("LIVEPOLLS_DATA_DIR") or DEFAULT_DATA_DIR)


ENVIRONMENTS = ("development", "production")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    """One of `choices` (case-insensitive): a typo such as LIVEPOLLS_ENV=prod is an error,
    not a quiet fall back to the default."""
    raw = env.get(name, "").strip() or default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {raw!r}")


def _environment(env: dict[str, str]) -> str:
    return _choice(env, "LIVEPOLLS_ENV", ENVIRONMENTS, "development")


def database_url(env: dict[str, str] | None = None) -> str:
    """The configured database: DATABASE_URL, or a SQLite file in the data folder."""
    env = dict(os.environ) if env is None else env
    url = env.get("DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{data_dir(env) / 'livepolls.sqlite3'}"


def _secret_key(env: dict[str, str], production: bool) -> str:
    key = env.get("SECRET_KEY", "").strip()
    if key:
        return key
    if production:
        raise ConfigError("SECRET_KEY must be set when LIVEPOLLS_ENV=production")
    # Development: generate once and keep it beside the SQLite data, so sessions survive restarts.
    path = data_dir(env) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    production: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 64 * 1024
    db_pool_size: int = 10
    password_time_cost: int = 3
    password_memory_kib: int = 64 * 1024
    password_concurrency: int = 2
    token_ttl_days: int = 30
    live_interval_ms: int = 75
    ping_interval_s: int = 15
    stalled_viewer_s: int = 30
    send_buffer_bytes: int = 32 * 1024
    cookie_secure: bool = False
    listen_database_url: str = ""
    proxy_hops: int = 0
    allowed_origins: tuple[str, ...] = ()
    rate_limits: bool = True
    rate_limit_storage: str = "database"
    limit_signin_address: str = "30/minute;200/hour"
    limit_signin_email: str = "10/15 minutes"
    limit_signup: str = "10/hour"
    limit_guest: str = "120/minute;1000/hour"
    limit_invite: str = "30/minute"
    limit_poll_create: str = "30/hour"
    limit_vote_account: str = "60/minute"
    limit_vote_address: str = "3000/minute"
    guest_network_cap: int = 100
    guest_network_window_s: int = 3600
    guest_prune_after_s: int = 86400
    log_level: str = "INFO"
    log_format: str = "text"
    access_log: bool = False
    metrics_token: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        production = _environment(env) == "production"
        fields = cls.__dataclass_fields__
        limits = {
            field: _limits(env, name, str(fields[field].default))
            for field, name in RATE_LIMITS.items()
        }
        return cls(
            database_url=database_url(env),
            secret_key=_secret_key(env, production),
            production=production,
            host=env.get("LIVEPOLLS_HOST", "127.0.0.1"),
            port=_int(env, "LIVEPOLLS_PORT", 8000),
            max_body_bytes=_int(env, "LIVEPOLLS_MAX_BODY_BYTES", 64 * 1024),
            db_pool_size=_int(env, "LIVEPOLLS_DB_POOL_SIZE", 10),
            password_time_cost=_int(env, "LIVEPOLLS_ARGON2_TIME_COST", 3),
            password_memory_kib=_int(env, "LIVEPOLLS_ARGON2_MEMORY_KIB", 64 * 1024),
            password_concurrency=_int(env, "LIVEPOLLS_ARGON2_CONCURRENCY", os.cpu_count() or 2),
            token_ttl_days=_int(env, "LIVEPOLLS_TOKEN_TTL_DAYS", 30),
            live_interval_ms=_int(env, "LIVEPOLLS_LIVE_INTERVAL_MS", 75),
            ping_interval_s=_non_negative(env, "LIVEPOLLS_PING_INTERVAL_S", 15),
            stalled_viewer_s=_non_negative(env, "LIVEPOLLS_STALLED_VIEWER_S", 30),
            send_buffer_bytes=_non_negative(env, "LIVEPOLLS_SEND_BUFFER_BYTES", 32 * 1024),
            cookie_secure=_flag(env, "LIVEPOLLS_COOKIE_SECURE", production),
            listen_database_url=env.get("LIVEPOLLS_LISTEN_DATABASE_URL", "").strip(),
            proxy_hops=_int(env, "LIVEPOLLS_PROXY_HOPS", 0),
            allowed_origins=tuple(
                origin.strip().rstrip("/")
                for origin in env.get("LIVEPOLLS_ALLOWED_ORIGINS", "").split(",")
                if origin.strip()
            ),
            rate_limits=_flag(env, "LIVEPOLLS_RATE_LIMITS", True),
            rate_limit_storage=env.get("LIVEPOLLS_RATE_LIMIT_STORAGE", "").strip() or "database",
            guest_network_cap=_non_negative(env, "LIVEPOLLS_GUEST_NETWORK_CAP", 100),
            guest_network_window_s=_positive(env, "LIVEPOLLS_GUEST_NETWORK_WINDOW_S", 3600),
            guest_prune_after_s=_positive(env, "LIVEPOLLS_GUEST_PRUNE_AFTER_S", 86400),
            log_level=_choice(env, "LIVEPOLLS_LOG_LEVEL", LOG_LEVELS, "INFO"),
            log_format=_choice(env, "LIVEPOLLS_LOG_FORMAT", LOG_FORMATS, "text"),
            access_log=_flag(env, "LIVEPOLLS_ACCESS_LOG", False),
            metrics_token=env.get("LIVEPOLLS_METRICS_TOKEN", "").strip(),
            **limits,
        )
