"""Database round trips per request: the app in-process, asyncpg's calls counted.

    DATABASE_URL=... python -m bench.statements TOKEN1 TOKEN2 POLL_ID OPTION_ID
    (bench/run.py runs it; two users who have not voted in that poll)

Runs the app with Quart's test client against the benchmark database and records every
statement asyncpg sends (each is one round trip to PostgreSQL, on the pool or the LISTEN
connection) for: one vote with nobody watching, one vote with a viewer watching (adds the live
snapshot reload), one `GET /api/v1/polls/{id}`, and one viewer joining the live WebSocket.
Each vote is a new voter's first vote in the poll.
Prints JSON: {case: [first 80 characters of each statement, in order]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from asyncpg.connection import Connection

calls: list[str] = []


def _count(name: str) -> None:
    original = getattr(Connection, name)

    async def counted(self: Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(" ".join(str(query).split())[:80])
        return await original(self, query, *args, **kwargs)

    setattr(Connection, name, counted)


for _name in ("execute", "fetch", "fetchrow", "fetchval", "executemany"):
    _count(_name)


async def measure(tokens: list[str], poll_id: int, option_id: int) -> dict[str, list[str]]:
    from webapp import create_app

    app = create_app()
    found: dict[str, list[str]] = {}
    async with app.test_app() as test_app:
        client = test_app.test_client()
        await asyncio.sleep(0.5)  # the LISTEN connection settles
        calls.clear()
        response = await client.post(
            f"/api/v1/polls/{poll_id}/votes",
            json={"option_id": option_id},
            headers={"Authorization": f"Bearer {tokens[0]}"},
        )
        assert response.status_code == 201, response.status_code
        await asyncio.sleep(0.3)
        found["vote, nobody watching"] = list(calls)

        calls.clear()
        await client.get(f"/api/v1/polls/{poll_id}")
        found["GET /api/v1/polls/{id}"] = list(calls)

        calls.clear()
        async with client.websocket(f"/api/v1/polls/{poll_id}/live") as socket:
            await socket.receive()
            await asyncio.sleep(0.3)
            found["viewer joins the live WebSocket"] = list(calls)
            calls.clear()
            response = await client.post(
                f"/api/v1/polls/{poll_id}/votes",
                json={"option_id": option_id},
                headers={"Authorization": f"Bearer {tokens[1]}"},
            )
            assert response.status_code == 201, response.status_code
            await socket.receive()
            await asyncio.sleep(0.3)
            found["vote, one viewer watching"] = list(calls)
    return found


if __name__ == "__main__":
    tokens, poll, option = sys.argv[1:3], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(measure(tokens, poll, option))))
