"""Token revocation across processes: each process keeps known tokens for a while
(webapp/tokencache.py), and a revocation through one reaches the others through NOTIFY.

The caches here trust an entry for ten minutes, so only the revocation notice can explain a
refusal within the test's deadline."""

from __future__ import annotations

import httpx

from tests.conftest import postgres_only
from tests.helpers import until
from tests.live.servers import running_servers
from tests.live.test_servers import api_for

CACHE_FOR_LONG = {"LIVEPOLLS_TOKEN_CACHE_S": "600"}

# Revocations cross processes through PostgreSQL's NOTIFY; SQLite runs in one process.
pytestmark = postgres_only


async def status_of(http: httpx.AsyncClient, token: str) -> int:
    response = await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def test_a_token_revoked_on_one_process_is_refused_by_another_that_cached_it() -> None:
    async with (
        running_servers(2, CACHE_FOR_LONG) as (a, b),
        api_for(a) as api_a,
        api_for(b) as api_b,
    ):
        # Issued through A, known to B at its first use: nothing caches an unknown token.
        user, other = await api_a.users(2)
        assert await status_of(api_b.http, user.token) == 200
        assert await status_of(api_b.http, other.token) == 200  # both now in B's cache
        revoked = await api_a.http.delete(
            "/api/v1/auth/tokens/current", headers={"Authorization": f"Bearer {user.token}"}
        )
        assert revoked.status_code == 204

        async def refused_on_b() -> bool:
            return await status_of(api_b.http, user.token) == 401

        await until(refused_on_b, "B refuses the token revoked through A", within=10)
        assert await status_of(api_a.http, user.token) == 401
        assert await status_of(api_b.http, other.token) == 200  # only that token ended
