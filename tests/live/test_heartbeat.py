"""The live stream's heartbeat, from a real server: every viewer gets one each interval, in
its format, whether frames go straight to the socket (the patched path) or through Hypercorn
(patches off); pages learn the interval from the page itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.live.servers import running_server
from tests.live.test_servers import api_for, next_of, watch

HEARTBEAT_S = "0.3"


@pytest.mark.parametrize("patches", ["on", "off"])
async def test_every_viewer_gets_heartbeats_after_its_snapshot(patches: str) -> None:
    env = {"LIVEPOLLS_HEARTBEAT_S": HEARTBEAT_S, "LIVEPOLLS_HYPERCORN_PATCHES": patches}
    async with running_server(env) as server:
        async with api_for(server) as api:
            poll = await api.poll(await api.user())
        async with watch(server, poll["id"]) as ws:
            first = await next_of(ws, "results")
            assert first["poll_id"] == poll["id"]
            beats = [await next_of(ws, "heartbeat", 10) for _ in range(3)]
        for beat in beats:
            assert set(beat) == {"type", "interval_ms", "server_time"}
            assert beat["interval_ms"] == 300
            at = datetime.fromisoformat(beat["server_time"])
            # The server's clock, in UTC (generous: this checks the zone, not the speed).
            assert at.utcoffset() == timedelta(0)
            assert abs(datetime.now(UTC) - at) < timedelta(minutes=5)
        times = [datetime.fromisoformat(beat["server_time"]) for beat in beats]
        assert times == sorted(times) and len(set(times)) == 3


async def test_a_viewer_gets_a_fresh_heartbeat_right_after_its_snapshot() -> None:
    """Not at the next round (a minute away here): the snapshot a late joiner gets may be old,
    and a page sets its clock, a countdown's with it, by the last server_time it received."""
    async with running_server({"LIVEPOLLS_HEARTBEAT_S": "60"}) as server:
        async with api_for(server) as api:
            poll = await api.poll(await api.user())
        async with watch(server, poll["id"]) as early:
            await next_of(early, "results")
            joined = datetime.now(UTC)
            async with watch(server, poll["id"]) as late:
                await next_of(late, "results")
                beat = await next_of(late, "heartbeat", 10)
    assert beat["interval_ms"] == 60_000
    # Stamped as it went out, not when the poll's snapshot was built for the first viewer.
    assert datetime.fromisoformat(beat["server_time"]) >= joined - timedelta(seconds=1)


async def test_the_page_stream_gets_the_heartbeat_element_and_the_page_its_interval() -> None:
    async with running_server({"LIVEPOLLS_HEARTBEAT_S": HEARTBEAT_S}) as server:
        async with api_for(server) as api:
            poll = await api.poll(await api.user())
        async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as http:
            page = (await http.get(f"/polls/{poll['id']}")).text
        assert re.search(r'id="live-heartbeat"[^>]*data-interval-ms="300"', page), page
        url = server.live_url(poll["id"]) + "?format=html"
        async with connect(url, proxy=None, open_timeout=5) as ws:
            for _ in range(20):
                message = str(await ws.recv())
                if 'id="live-heartbeat"' in message:
                    break
            else:
                raise AssertionError("no heartbeat among the first 20 messages")
        element = re.fullmatch(
            r'<div id="live-heartbeat" hx-swap-oob="true" hidden data-interval-ms="300"'
            r' data-server-time="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"></div>\s*',
            message,
        )
        assert element is not None, message
