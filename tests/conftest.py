"""Fixtures: one migrated database per run, clean tables per test, an app and clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.dbchoice import choose

DB_KIND, DB_URL = choose()
os.environ["DATABASE_URL"] = DB_URL
os.environ.setdefault("SECRET_KEY", "test-secret-key")

# Imported only now: piccolo_conf reads DATABASE_URL at import.
from quart import Quart  # noqa: E402
from quart.typing import TestClientProtocol  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.db import engine  # noqa: E402

CHEAP_HASHING = {"password_time_cost": 1, "password_memory_kib": 8, "password_concurrency": 8}
# Tests sign up many users from one address: rate limits only where a test turns them on.
# No live heartbeats unless a test asks: they would interleave with the messages tests expect.
TEST_SETTINGS = {**CHEAP_HASHING, "rate_limits": False, "heartbeat_s": 0}
TABLES = [
    "idempotency_key",
    "refusal",
    "invite_code",
    "ballot",
    "vote",
    "poll_option",
    "poll",
    "auth_token",
    "app_user",
    "rate_limit",
]

postgres_only = pytest.mark.skipif(DB_KIND != "postgres", reason="needs PostgreSQL")
# Tests of several server processes on one database exist only in the PostgreSQL pass.
collect_ignore = (
    []
    if DB_KIND == "postgres"
    else [
        "live/test_integrity_servers.py",
        "live/test_metrics_servers.py",
        "live/test_outage.py",
        "live/test_supervision.py",
    ]
)


def pytest_report_header() -> str:
    return f"livepolls tests on {DB_KIND}: {DB_URL}"


async def _reset_schema() -> None:
    if DB_KIND == "postgres":
        await engine().run_ddl("DROP SCHEMA public CASCADE")
        await engine().run_ddl("CREATE SCHEMA public")


@pytest.fixture(scope="session", autouse=True)
async def migrated_database() -> AsyncIterator[None]:
    """Start every run from an empty database and apply the migrations to it."""
    from webapp.cli import _migrate

    await _reset_schema()
    assert await _migrate(), "migrations failed"
    yield


@pytest.fixture(autouse=True)
async def clean_tables(migrated_database: None) -> None:
    if DB_KIND == "postgres":
        await engine().run_ddl(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    else:
        for table in TABLES:
            await engine().run_ddl(f"DELETE FROM {table}")


@pytest.fixture
async def app() -> AsyncIterator[Quart]:
    app = create_app(TEST_SETTINGS)
    async with app.test_app():
        yield app


@pytest.fixture
async def limited(request: pytest.FixtureRequest) -> AsyncIterator[Quart]:
    """An app with rate limits on; a test sets them with @pytest.mark.limits(...)."""
    marker = request.node.get_closest_marker("limits")
    settings: dict[str, Any] = {**TEST_SETTINGS, "rate_limits": True}
    # Everything else generous, so only the limit under test can refuse.
    for field in ("signin_address", "signin_email", "signup", "guest", "invite", "poll_create"):
        settings[f"limit_{field}"] = "1000/minute"
    settings.update({"limit_vote_account": "1000/minute", "limit_vote_address": "1000/minute"})
    settings.update(marker.kwargs if marker else {})
    app = create_app(settings)
    async with app.test_app():
        yield app


@pytest.fixture
def client(app: Quart) -> TestClientProtocol:
    return app.test_client()


@dataclass
class Member:
    id: int
    name: str
    email: str
    password: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeMember = Callable[..., Awaitable[Member]]


@pytest.fixture
def make_member(client: TestClientProtocol) -> MakeMember:
    """Sign up and sign in a new user through the API."""
    counter = 0

    async def make(name: str | None = None, password: str = "correct horse") -> Member:
        nonlocal counter
        counter += 1
        name = name or f"user{counter}"
        email = f"{name}@example.org"
        response = await client.post(
            "/api/v1/users", json={"name": name, "email": email, "password": password}
        )
        assert response.status_code == 201, await response.get_data()
        user_id = (await response.get_json())["id"]
        response = await client.post(
            "/api/v1/auth/tokens", json={"email": email, "password": password}
        )
        assert response.status_code == 201, await response.get_data()
        token = (await response.get_json())["token"]
        return Member(user_id, name, email, password, token)

    return make


MakePoll = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_poll(client: TestClientProtocol) -> MakePoll:
    """Create a poll through the API as the given member; published unless told otherwise."""

    async def make(
        member: Member,
        options: list[str] | None = None,
        *,
        is_published: bool = True,
        allows_multiple: bool = False,
        question: str = "Best editor?",
    ) -> dict[str, Any]:
        body = {
            "question": question,
            "options": options or ["vim", "emacs", "nano"],
            "is_published": is_published,
            "allows_multiple": allows_multiple,
        }
        response = await client.post("/api/v1/polls", json=body, headers=member.auth)
        assert response.status_code == 201, await response.get_data()
        return dict(await response.get_json())

    return make
