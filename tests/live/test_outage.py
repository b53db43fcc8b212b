"""The database going away and coming back, against a real server on PostgreSQL: 503 with
Retry-After meanwhile (a problem for the API, a page for the browser), logged once, health
checks that say so, and recovery on its own. The database sits behind the suite's own TCP
proxy (tests/live/proxy.py), so the shared PostgreSQL itself is never stopped."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.conftest import DB_URL
from tests.live.proxy import proxy_to
from tests.live.servers import running_server

RECOVERY_DEADLINE = 30.0


def through(port: int) -> str:
    parts = urlsplit(DB_URL)
    netloc = f"{parts.username or 'postgres'}@127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def until(http: httpx.AsyncClient, path: str, status: int, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if (await http.get(path)).status_code == status:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not answer {status} within {within}s")
        await asyncio.sleep(0.2)


async def test_a_database_outage_is_a_503_logged_once_and_the_app_recovers() -> None:
    parts = urlsplit(DB_URL)
    async with proxy_to(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        env = {"DATABASE_URL": through(proxy.port), "LIVEPOLLS_LISTEN_DATABASE_URL": ""}
        async with (
            running_server(env) as server,
            httpx.AsyncClient(base_url=server.base_url, timeout=10, trust_env=False) as http,
        ):
            assert (await http.get("/api/v1/polls")).status_code == 200
            await until(http, "/readyz", 200, RECOVERY_DEADLINE)

            await proxy.cut()
            for _ in range(10):
                response = await http.get("/api/v1/polls")
                assert response.status_code == 503
                assert response.headers["Content-Type"] == "application/problem+json"
                assert int(response.headers["Retry-After"]) > 0
            page = await http.get("/")
            assert page.status_code == 503 and "text/html" in page.headers["Content-Type"]
            assert "try again" in page.text
            assert (await http.get("/healthz")).status_code == 200
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"].startswith("unavailable")

            await proxy.restore()
            await until(http, "/api/v1/polls", 200, RECOVERY_DEADLINE)
            await until(http, "/readyz", 200, RECOVERY_DEADLINE)
            log = server.log(100_000)
    assert log.count("database unavailable") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert "database available again" in log
