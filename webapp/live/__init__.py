"""Live results: the hub, the cross-process feed and the WebSocket route, wired onto the app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment
from quart import Quart

from webapp import notices
from webapp.config import Settings
from webapp.db import is_postgres_url
from webapp.live.event_snapshots import EventSnapshotBuilder
from webapp.live.feed import PostgresFeed
from webapp.live.frames import Pinger
from webapp.live.hub import Hub
from webapp.live.snapshots import SnapshotBuilder
from webapp.notices import Revoked
from webapp.polls import PollView
from webapp.tokencache import TokenCache


class Live:
    """One per app process: local fan-out always, PostgreSQL LISTEN/NOTIFY when configured."""

    def __init__(
        self, settings: Settings, templates: Environment, path_for: Callable[..., str]
    ) -> None:
        interval = settings.live_interval_ms / 1000
        builder = SnapshotBuilder(templates, path_for)
        self.hub = Hub(builder.load, builder, interval)
        # The event channel (#14): the same hub, keyed by event id, whose one message type
        # says which question is current; viewers follow that question on self.hub too.
        event_builder = EventSnapshotBuilder(templates, path_for)
        self.events = Hub(event_builder.load, event_builder, interval)
        self.pinger = Pinger(settings.ping_interval_s, settings.stalled_viewer_s)
        self.heartbeat_s = settings.heartbeat_s
        # Known tokens, trusted while this process hears every revocation: always with
        # SQLite (one process), with PostgreSQL while the LISTEN connection is up.
        self.tokens = TokenCache(settings.token_cache_s, usable=self._hears_revocations)
        self.feed = (
            PostgresFeed(
                settings.listen_database_url or settings.database_url,
                self.hub,
                interval,
                on_revoked=self._forget,
                on_connected=self.tokens.clear,
                events=self.events,
            )
            if is_postgres_url(settings.database_url)
            else None
        )
        self._unsubscribe: list[Callable[[], None]] = []

    def _hears_revocations(self) -> bool:
        return self.feed is None or self.feed.connected.is_set()

    def _forget(self, what: Revoked) -> None:
        for digest in what.digests:
            self.tokens.forget(digest)
        for user_id in what.user_ids:
            self.tokens.forget_user(user_id)

    def _on_revoked(self, what: Revoked) -> None:
        self._forget(what)
        if self.feed is not None:
            self.feed.revoke(what)

    def _on_change(self, poll_id: int, seq: int | None) -> None:
        self.hub.changed(poll_id, seq)
        if self.feed is not None:
            self.feed.announce(poll_id, seq)

    def _on_event_change(self, event_id: int, seq: int | None) -> None:
        self.events.changed(event_id, seq)
        if self.feed is not None:
            self.feed.announce_event(event_id, seq)

    def watched_view(self, poll_id: int, viewer_id: int | None) -> tuple[PollView, int] | None:
        """A watched (or recently read) poll as this viewer sees it, and its seq, from the
        hub's snapshot (no database read); None when the database must answer: the hub holds
        no snapshot of it here, a reload is due, the viewer's visibility is not known here,
        or it is a draft. A poll the database answered for is then kept for a while
        (Hub.keep_for_reads)."""
        snapshot = self.hub.current(poll_id)
        shown = snapshot.views.get(True) if snapshot is not None else None
        if snapshot is None:
            self.hub.keep_for_reads(poll_id)
            return None
        if not isinstance(shown, PollView) or not shown.is_published:
            return None
        if viewer_id == shown.creator.id:  # the creator sees the counts, whoever voted
            return shown, snapshot.seq
        if not snapshot.covers(viewer_id):
            return None
        view = snapshot.views.get(snapshot.can_see(viewer_id))
        return (view, snapshot.seq) if isinstance(view, PollView) else None

    async def start(self) -> None:
        self._unsubscribe = [
            notices.subscribe(self._on_change),
            notices.subscribe_revocations(self._on_revoked),
            notices.subscribe_events(self._on_event_change),
        ]
        self.pinger.start()
        self.hub.start_heartbeats(self.heartbeat_s)
        self.events.start_heartbeats(self.heartbeat_s)
        if self.feed is not None:
            await self.feed.start()

    async def close_sockets(self, code: int) -> None:
        await self.hub.close_all(code)
        await self.events.close_all(code)

    async def stop(self) -> None:
        await self.hub.close_all(1001)
        await self.events.close_all(1001)
        await self.pinger.stop()
        await self.hub.stop_heartbeats()
        await self.events.stop_heartbeats()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self.feed is not None:
            await self.feed.stop()


def setup(app: Quart, settings: Settings) -> Live:
    from webapp.live.routes import blueprint

    urls = app.url_map.bind("localhost")

    def path_for(endpoint: str, **values: Any) -> str:
        return str(urls.build(endpoint, values))

    # The pages' environment, synchronous: pushed fragments are the pages' own partials.
    live = Live(settings, app.jinja_env.overlay(enable_async=False), path_for)
    app.extensions["live"] = live
    app.extensions["tokens"] = live.tokens
    app.register_blueprint(blueprint)
    return live
