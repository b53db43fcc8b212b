"""/metrics on a server with two workers sums both: any worker's answer is the whole count."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.helpers import until
from tests.live.servers import running_server, wait_listening
from tests.live.test_servers import api_for, next_of, results_until, total_is, watch
from tests.test_metrics import sample

VOTES = 30


async def fresh_connection_get(url: str) -> str:
    async with httpx.AsyncClient(trust_env=False, timeout=15) as http:
        response = await http.get(url)
        assert response.status_code == 200
        return response.text


async def test_every_worker_reports_the_votes_of_all_workers(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    async with running_server({"PROMETHEUS_MULTIPROC_DIR": str(folder)}, workers=2) as server:
        await wait_listening(server, 2)
        async with api_for(server) as api:
            owner = await api.user()
            poll = await api.poll(owner)
            voters = await api.users(VOTES)
        option = poll["options"][0]["id"]

        async def vote(user_auth: dict[str, str]) -> None:
            # A connection of its own each time: the kernel spreads them over both workers.
            async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as http:
                response = await http.post(
                    f"/api/v1/polls/{poll['id']}/votes",
                    json={"option_id": option},
                    headers=user_auth,
                )
                assert response.status_code == 201, response.text

        await asyncio.gather(*(vote(user.auth) for user in voters))

        writers = {int(path.stem.rsplit("_", 1)[1]) for path in folder.glob("counter_*.db")}
        assert len(writers - {server.pid}) == 2, writers  # both workers counted something
        scrapes = await asyncio.gather(
            *(fresh_connection_get(f"{server.base_url}/metrics") for _ in range(8))
        )
        assert {sample(text, "livepolls_votes_total") for text in scrapes} == {float(VOTES)}


async def scrape_until(url: str, done: Callable[[str], bool], what: str) -> str:
    scraped: list[str] = []

    async def matches() -> bool:
        scraped.append(await fresh_connection_get(url))
        return done(scraped[-1])

    await until(matches, what, within=15.0, every=0.1)
    return scraped[-1]


async def test_viewers_fanout_and_notify_are_counted_across_workers() -> None:
    async with running_server(workers=2) as server:
        await wait_listening(server, 2)
        metrics_url = f"{server.base_url}/metrics"
        async with api_for(server) as api:
            owner = await api.user()
            poll = await api.poll(owner)
            async with watch(server, poll["id"], owner.token) as ws:
                await next_of(ws, "results")
                await scrape_until(
                    metrics_url, lambda t: sample(t, "livepolls_viewers") == 1, "1 viewer"
                )
                await api.vote(owner, poll, 0)
                await results_until(ws, total_is(1), within=15)
                text = await scrape_until(
                    metrics_url,
                    lambda t: sample(t, "livepolls_notify_received_total") >= 2,
                    "both workers heard the NOTIFY",
                )
                assert sample(text, "livepolls_notify_sent_total") >= 1
                assert sample(text, "livepolls_fanout_seconds_count") >= 1
                assert sample(text, "livepolls_live_messages_sent_total") >= 1
        await scrape_until(metrics_url, lambda t: sample(t, "livepolls_viewers") == 0, "0 viewers")
