"""The Hypercorn patches check that they fit before they apply; when they do not (another
Hypercorn) or are turned off, nothing is patched, the log says so, and Hypercorn's own pings
keep every viewer's connection alive."""

from __future__ import annotations

import logging
import time

import pytest
from hypercorn.protocol.ws_stream import WSStream

from tests.live.servers import running_server
from tests.live.test_servers import PING, RawWebSocket, api_for
from webapp import hypercorn_patches


def test_another_hypercorn_is_not_patched(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(hypercorn_patches, "version", lambda _name: "0.19.2")
    accept = WSStream._accept
    with caplog.at_level(logging.WARNING, logger=hypercorn_patches.__name__):
        assert hypercorn_patches.apply() is False
    assert WSStream._accept is accept
    assert "Hypercorn 0.19.2, not 0.18.x" in caplog.text and "own pings" in caplog.text


def test_a_missing_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(WSStream, "_send_wsproto_event")
    assert "no WSStream._send_wsproto_event" in hypercorn_patches.mismatches()
    assert hypercorn_patches.apply() is False


def test_the_pinned_hypercorn_fits() -> None:
    assert hypercorn_patches.mismatches() == []


async def test_without_the_patches_hypercorn_pings_the_viewers() -> None:
    env = {"LIVEPOLLS_HYPERCORN_PATCHES": "off", "LIVEPOLLS_PING_INTERVAL_S": "1"}
    async with running_server(env) as server:
        async with api_for(server) as api:
            owner = await api.user()
            poll = await api.poll(owner)
        viewer = await RawWebSocket.open(server, poll["id"])
        try:
            deadline = time.monotonic() + 15
            opcodes = []
            while PING not in opcodes:
                frame = await viewer._frame(deadline)
                assert frame is not None, "closed before any ping"
                opcodes.append(frame[0])
        finally:
            viewer.sock.close()
        assert "LIVEPOLLS_HYPERCORN_PATCHES=off" in server.log()
