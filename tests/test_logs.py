"""Logs an operator can read: request ids, the access log, JSON lines, strict settings."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.conftest import TEST_SETTINGS
from webapp import create_app
from webapp.config import ConfigError, Settings
from webapp.logs import JsonLines, RequestIdFilter, request_id_from


async def test_every_response_carries_a_request_id_and_a_sane_incoming_one_is_kept(
    client: Client,
) -> None:
    fresh = await client.get("/healthz")
    generated = fresh.headers["X-Request-ID"]
    assert (
        len(generated) == 32 and generated != (await client.get("/healthz")).headers["X-Request-ID"]
    )
    kept = await client.get("/api/v1/polls", headers={"X-Request-ID": "lb-7f3a.1_x"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a.1_x"
    missing = await client.get("/api/v1/polls/99")
    assert missing.status_code == 404 and len(missing.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("forged", ["a b", "x\nFAKE LOG LINE", "é", "a" * 65, ""])
def test_an_id_that_could_forge_a_log_line_is_replaced(forged: str) -> None:
    replaced = request_id_from(forged)
    assert replaced != forged and len(replaced) == 32


class Keep(logging.Handler):
    """Keeps each record with the request id its filter saw when it was emitted."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def access_lines() -> Iterator[Keep]:
    """What the access log emits meanwhile, at INFO whatever the logger's level was."""
    keep = Keep()
    access = logging.getLogger("livepolls.access")
    access.addHandler(keep)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        yield keep
    finally:
        access.removeHandler(keep)
        access.setLevel(level)


async def test_the_access_log_names_method_path_status_and_the_request_id() -> None:
    """The line is logged while the request is served, so it carries the request's id."""
    app = create_app({**TEST_SETTINGS, "access_log": True})
    with access_lines() as keep:
        async with app.test_app():
            await app.test_client().get("/api/v1/polls/7", headers={"X-Request-ID": "req-42"})
    (line,) = keep.records
    assert line.getMessage().startswith("GET /api/v1/polls/7 404 ")
    assert line.request_id == "req-42"  # type: ignore[attr-defined]
    assert (line.method, line.path, line.status) == ("GET", "/api/v1/polls/7", 404)  # type: ignore[attr-defined]
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "later", (), None)
    assert keep.filter(outside) and outside.request_id == "-"  # type: ignore[attr-defined]


async def test_no_access_log_unless_asked(app: Quart) -> None:
    with access_lines() as keep:
        await app.test_client().get("/healthz")
    assert keep.records == []


def test_json_lines_are_one_object_per_line_with_the_request_id() -> None:
    record = logging.LogRecord("livepolls.x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    record.request_id = "abc"
    line = json.loads(JsonLines().format(record))
    assert line["message"] == "boom now" and line["level"] == "ERROR"
    assert line["request_id"] == "abc" and line["logger"] == "livepolls.x"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVEPOLLS_ENV", "prod"),
        ("LIVEPOLLS_LOG_FORMAT", "xml"),
        ("LIVEPOLLS_LOG_LEVEL", "LOUD"),
    ],
)
def test_an_unknown_choice_is_a_configuration_error(tmp_path: Path, name: str, value: str) -> None:
    env = {"LIVEPOLLS_DATA_DIR": str(tmp_path), "SECRET_KEY": "k", name: value}
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_choices_are_case_insensitive(tmp_path: Path) -> None:
    env = {"LIVEPOLLS_DATA_DIR": str(tmp_path), "SECRET_KEY": "k", "LIVEPOLLS_ENV": "Production"}
    settings = Settings.from_env(
        {**env, "LIVEPOLLS_LOG_FORMAT": "JSON", "LIVEPOLLS_LOG_LEVEL": "debug"}
    )
    assert settings.production and settings.log_format == "json" and settings.log_level == "DEBUG"
