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


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def data_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    return Path(env.get("LIVEPOLLS_DATA_DIR") or DEFAULT_DATA_DIR)


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
    max_body_bytes: int = 16 * 1024
    db_pool_size: int = 10
    password_time_cost: int = 3
    password_memory_kib: int = 64 * 1024
    password_concurrency: int = 2
    token_ttl_days: int = 30
    live_interval_ms: int = 75
    ping_interval_s: int = 15
    cookie_secure: bool = False
    listen_database_url: str = ""
    proxy_hops: int = 0
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        production = env.get("LIVEPOLLS_ENV", "development").lower() == "production"
        return cls(
            database_url=database_url(env),
            secret_key=_secret_key(env, production),
            production=production,
            host=env.get("LIVEPOLLS_HOST", "127.0.0.1"),
            port=_int(env, "LIVEPOLLS_PORT", 8000),
            max_body_bytes=_int(env, "LIVEPOLLS_MAX_BODY_BYTES", 16 * 1024),
            db_pool_size=_int(env, "LIVEPOLLS_DB_POOL_SIZE", 10),
            password_time_cost=_int(env, "LIVEPOLLS_ARGON2_TIME_COST", 3),
            password_memory_kib=_int(env, "LIVEPOLLS_ARGON2_MEMORY_KIB", 64 * 1024),
            password_concurrency=_int(env, "LIVEPOLLS_ARGON2_CONCURRENCY", os.cpu_count() or 2),
            token_ttl_days=_int(env, "LIVEPOLLS_TOKEN_TTL_DAYS", 30),
            live_interval_ms=_int(env, "LIVEPOLLS_LIVE_INTERVAL_MS", 75),
            ping_interval_s=_non_negative(env, "LIVEPOLLS_PING_INTERVAL_S", 15),
            cookie_secure=_flag(env, "LIVEPOLLS_COOKIE_SECURE", production),
            listen_database_url=env.get("LIVEPOLLS_LISTEN_DATABASE_URL", "").strip(),
            proxy_hops=_int(env, "LIVEPOLLS_PROXY_HOPS", 0),
            allowed_origins=tuple(
                origin.strip().rstrip("/")
                for origin in env.get("LIVEPOLLS_ALLOWED_ORIGINS", "").split(",")
                if origin.strip()
            ),
        )
