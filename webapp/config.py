"""Settings from the environment, with safe defaults.

pydantic-settings reads and checks the variables (`Environment`: one field per variable,
case-insensitive names); a value it cannot take, a typo such as LIVEPOLLS_ENV=prod included,
is a ConfigError naming the variable at start, never a quiet default. `Settings` is what the
app holds: the same values, derived where one decides another (`cookie_secure` follows
production), frozen.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


class ConfigError(RuntimeError):
    """The environment asks for something the app cannot run with."""


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
    "limit_qa_ask": "LIVEPOLLS_LIMIT_QA_PER_ACCOUNT",
}


def data_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    return Path(env.get("LIVEPOLLS_DATA_DIR") or DEFAULT_DATA_DIR)


ENVIRONMENTS = ("development", "production")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


ENVIRONMENTS = ("development", "production")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _one_of(choices: tuple[str, ...]) -> Callable[[object], str]:
    def pick(raw: object) -> str:
        text = str(raw).strip()
        for choice in choices:
            if text.lower() == choice.lower():
                return choice
        raise ValueError(f"must be one of {', '.join(choices)}")

    return pick


def _limit(raw: str) -> str:
    """A rate limit in the `limits` notation ("10/minute;100/hour"), or "off"."""
    from limits import parse_many

    raw = raw.strip()
    if raw.lower() in {"off", "0", "none"}:
        return "off"
    try:
        parse_many(raw)
    except ValueError as exc:
        raise ValueError("must look like '10/minute' or '5/hour;20/day'") from exc
    return raw


NonNegative = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Limit = Annotated[str, AfterValidator(_limit)]
Env = Annotated[str, BeforeValidator(_one_of(ENVIRONMENTS))]
LogLevel = Annotated[str, BeforeValidator(_one_of(LOG_LEVELS))]
LogFormat = Annotated[str, BeforeValidator(_one_of(LOG_FORMATS))]


class Environment(BaseSettings):
    """Every variable the app reads, as pydantic-settings parses it (an empty one counts as
    unset)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_ignore_empty=True)

    database_url: str = ""
    secret_key: str = ""
    livepolls_env: Env = "development"
    livepolls_data_dir: str = ""
    livepolls_host: str = "127.0.0.1"
    livepolls_port: Annotated[int, Field(ge=0, le=65535)] = 8000
    livepolls_max_body_bytes: Positive = 64 * 1024
    livepolls_db_pool_size: Positive = 10
    livepolls_argon2_time_cost: Positive = 3
    livepolls_argon2_memory_kib: Positive = 64 * 1024
    livepolls_argon2_concurrency: Positive = os.cpu_count() or 2
    livepolls_token_ttl_days: Positive = 30
    livepolls_token_cache_s: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)] = 30.0
    livepolls_live_interval_ms: NonNegative = 75
    livepolls_ping_interval_s: NonNegative = 15
    livepolls_heartbeat_s: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)] = 5.0
    livepolls_stalled_viewer_s: NonNegative = 30
    livepolls_send_buffer_bytes: NonNegative = 32 * 1024
    livepolls_cookie_secure: bool | None = None
    livepolls_listen_database_url: str = ""
    livepolls_proxy_hops: NonNegative = 0
    livepolls_allowed_origins: str = ""
    livepolls_rate_limits: bool = True
    livepolls_rate_limit_storage: str = "database"
    livepolls_limit_signin_per_address: Limit = "30/minute;200/hour"
    livepolls_limit_signin_per_email: Limit = "10/15 minutes"
    livepolls_limit_signup_per_address: Limit = "10/hour"
    livepolls_limit_guests_per_address: Limit = "120/minute;1000/hour"
    livepolls_limit_invites_per_address: Limit = "30/minute"
    livepolls_limit_polls_per_account: Limit = "30/hour"
    livepolls_limit_votes_per_account: Limit = "60/minute"
    livepolls_limit_votes_per_address: Limit = "3000/minute"
    livepolls_limit_qa_per_account: Limit = "5/minute;30/hour"
    livepolls_guest_network_cap: NonNegative = 100
    livepolls_guest_network_window_s: Positive = 3600
    livepolls_guest_prune_after_s: Positive = 86400
    livepolls_log_level: LogLevel = "INFO"
    livepolls_log_format: LogFormat = "text"
    livepolls_access_log: bool = False
    livepolls_metrics_token: str = ""
    livepolls_hypercorn_patches: bool = True

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> Environment:
        """The process environment through pydantic-settings, or (tests) these variables
        through the same fields; a ConfigError names each variable it cannot take."""
        try:
            if env is None:
                return cls()
            given = {name.lower(): value for name, value in env.items() if value.strip()}
            return cls.model_validate({k: v for k, v in given.items() if k in cls.model_fields})
        except ValidationError as exc:
            problems = "; ".join(
                f"{str(error['loc'][0]).upper()} {error['msg'].removeprefix('Value error, ')}"
                f", got {error.get('input')!r}"
                for error in exc.errors(include_url=False)
            )
            raise ConfigError(problems) from None


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
    """The app's settings (from `from_env`; tests replace fields with dataclasses.replace)."""

    database_url: str
    secret_key: str
    production: bool
    host: str
    port: int
    max_body_bytes: int
    db_pool_size: int
    password_time_cost: int
    password_memory_kib: int
    password_concurrency: int
    token_ttl_days: int
    token_cache_s: float
    live_interval_ms: int
    ping_interval_s: int
    heartbeat_s: float
    stalled_viewer_s: int
    send_buffer_bytes: int
    cookie_secure: bool
    listen_database_url: str
    proxy_hops: int
    allowed_origins: tuple[str, ...]
    rate_limits: bool
    rate_limit_storage: str
    limit_signin_address: str
    limit_signin_email: str
    limit_signup: str
    limit_guest: str
    limit_invite: str
    limit_poll_create: str
    limit_vote_account: str
    limit_vote_address: str
    limit_qa_ask: str
    guest_network_cap: int
    guest_network_window_s: int
    guest_prune_after_s: int
    log_level: str
    log_format: str
    access_log: bool
    metrics_token: str
    hypercorn_patches: bool

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        read = Environment.read(env)
        variables = dict(os.environ) if env is None else env
        production = read.livepolls_env == "production"
        cookie_secure = read.livepolls_cookie_secure
        return cls(
            database_url=database_url(variables),
            secret_key=_secret_key(variables, production),
            production=production,
            host=read.livepolls_host,
            port=read.livepolls_port,
            max_body_bytes=read.livepolls_max_body_bytes,
            db_pool_size=read.livepolls_db_pool_size,
            password_time_cost=read.livepolls_argon2_time_cost,
            password_memory_kib=read.livepolls_argon2_memory_kib,
            password_concurrency=read.livepolls_argon2_concurrency,
            token_ttl_days=read.livepolls_token_ttl_days,
            token_cache_s=read.livepolls_token_cache_s,
            live_interval_ms=read.livepolls_live_interval_ms,
            ping_interval_s=read.livepolls_ping_interval_s,
            heartbeat_s=read.livepolls_heartbeat_s,
            stalled_viewer_s=read.livepolls_stalled_viewer_s,
            send_buffer_bytes=read.livepolls_send_buffer_bytes,
            cookie_secure=production if cookie_secure is None else cookie_secure,
            listen_database_url=read.livepolls_listen_database_url.strip(),
            proxy_hops=read.livepolls_proxy_hops,
            allowed_origins=tuple(
                origin.strip().rstrip("/")
                for origin in read.livepolls_allowed_origins.split(",")
                if origin.strip()
            ),
            rate_limits=read.livepolls_rate_limits,
            rate_limit_storage=read.livepolls_rate_limit_storage.strip() or "database",
            guest_network_cap=read.livepolls_guest_network_cap,
            guest_network_window_s=read.livepolls_guest_network_window_s,
            guest_prune_after_s=read.livepolls_guest_prune_after_s,
            log_level=read.livepolls_log_level,
            log_format=read.livepolls_log_format,
            access_log=read.livepolls_access_log,
            metrics_token=read.livepolls_metrics_token.strip(),
            hypercorn_patches=read.livepolls_hypercorn_patches,
            **{field: getattr(read, variable.lower()) for field, variable in RATE_LIMITS.items()},
        )
