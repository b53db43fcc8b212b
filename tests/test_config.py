"""Settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.cli import main
from webapp.config import ConfigError, Settings


def test_defaults_use_a_sqlite_file_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"LIVEPOLLS_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'livepolls.sqlite3'}"
    assert settings.max_body_bytes == 64 * 1024
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_development_generates_a_secret_key_once_and_keeps_it(tmp_path: Path) -> None:
    env = {"LIVEPOLLS_DATA_DIR": str(tmp_path)}
    first = Settings.from_env(env).secret_key
    assert len(first) >= 32
    assert Settings.from_env(env).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"LIVEPOLLS_ENV": "production", "LIVEPOLLS_DATA_DIR": str(tmp_path)})
    assert not (tmp_path / "secret_key").exists()


def test_environment_values_override_the_defaults() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@db/livepolls",
            "SECRET_KEY": "k" * 40,
            "LIVEPOLLS_ENV": "production",
            "LIVEPOLLS_PORT": "9000",
            "LIVEPOLLS_MAX_BODY_BYTES": "1024",
        }
    )
    assert settings.database_url == "postgresql://u@db/livepolls"
    assert settings.production and settings.port == 9000 and settings.max_body_bytes == 1024


def test_a_malformed_number_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigError, match="LIVEPOLLS_PORT"):
        Settings.from_env({"SECRET_KEY": "k", "LIVEPOLLS_PORT": "eighty"})


def test_a_negative_ping_interval_is_refused_and_zero_is_accepted() -> None:
    with pytest.raises(ConfigError, match="LIVEPOLLS_PING_INTERVAL_S"):
        Settings.from_env({"SECRET_KEY": "k", "LIVEPOLLS_PING_INTERVAL_S": "-1"})
    settings = Settings.from_env({"SECRET_KEY": "k", "LIVEPOLLS_PING_INTERVAL_S": "0"})
    assert settings.ping_interval_s == 0


def test_serve_refuses_several_workers_on_sqlite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    with pytest.raises(SystemExit, match="SQLite runs in one process"):
        main(["serve", "--workers", "2"])


def test_the_process_environment_is_read_through_pydantic_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIVEPOLLS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("livepolls_port", "9123")  # names are case-insensitive
    monkeypatch.setenv("LIVEPOLLS_PROXY_HOPS", "")  # empty counts as unset
    settings = Settings.from_env()
    assert settings.port == 9123 and settings.proxy_hops == 0
    monkeypatch.setenv("LIVEPOLLS_ENV", "prod")
    with pytest.raises(ConfigError, match="LIVEPOLLS_ENV must be one of development, production"):
        Settings.from_env()


def test_given_variables_are_all_that_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEPOLLS_PORT", "not a number")
    settings = Settings.from_env({"SECRET_KEY": "k", "LIVEPOLLS_PORT": "8080"})
    assert settings.port == 8080


def test_every_bad_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(
            {
                "SECRET_KEY": "k",
                "LIVEPOLLS_PORT": "eighty",
                "LIVEPOLLS_LIMIT_SIGNUP_PER_ADDRESS": "x",
            }
        )
    assert "LIVEPOLLS_PORT" in str(raised.value)
    assert "LIVEPOLLS_LIMIT_SIGNUP_PER_ADDRESS" in str(raised.value)
