"""Builds an event's live messages: once per change of the event, per format, for everyone.

The `event` message says which question is current (with its countdown's `closes_at` and
the server's time, so that each device can count down on the server's clock); the current
question's own messages (`results`, `poll`) follow it on the same connection
(webapp/live/routes.py). The HTML one is templates/events/_live.html: elements swapped in by
id, as the poll's partials are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from jinja2 import Environment

from webapp import events
from webapp.errors import NotFound
from webapp.events import EventView
from webapp.live.hub import Format, Messages, Snapshot
from webapp.live.snapshots import HeartbeatMessage, ViewersMessage
from webapp.serialize import to_json
from webapp.tables import EventMode


@dataclass
class CurrentQuestion:
    poll_id: int
    number: int  # 1 for the first question
    question: str
    closed: bool
    closes_at: datetime | None  # when its countdown (or schedule) closes voting


@dataclass
class EventMessage:
    """The `event` message: the event's state as the audience follows it."""

    type: Literal["event"] = field(default="event", kw_only=True)
    event_id: int
    seq: int
    title: str
    mode: EventMode
    join_code: str
    opens_at: datetime | None
    closes_at: datetime | None
    questions: int
    current: CurrentQuestion | None
    server_time: datetime

    @classmethod
    def of(cls, event: EventView, now: datetime) -> EventMessage:
        question = event.current
        current = None
        if question is not None:
            current = CurrentQuestion(
                poll_id=question.poll_id,
                number=event.number_of(question.poll_id) or 0,
                question=question.question,
                closed=question.closed_at is not None,
                closes_at=question.closes_at,
            )
        return cls(
            event_id=event.id,
            seq=event.seq,
            title=event.title,
            mode=event.mode,
            join_code=event.join_code,
            opens_at=event.opens_at,
            closes_at=event.closes_at,
            questions=len(event.questions),
            current=current,
            server_time=now,
        )


@dataclass
class EventDeletedMessage:
    type: Literal["event_deleted"] = field(default="event_deleted", kw_only=True)


def current_poll_of(message: str, fmt: Format) -> int | None:
    """The current question's poll id named by a built event message (0 for none)."""
    marker = '"current_poll":' if fmt == "json" else 'data-current-poll="'
    start = message.find(marker)
    if start < 0:
        return None
    digits = ""
    for char in message[start + len(marker) :]:
        if not char.isdigit():
            break
        digits += char
    return int(digits) if digits else 0


class EventSnapshotBuilder(Messages):
    """Loads an event once per change and renders its message for each format."""

    def __init__(self, templates: Environment, path_for: Callable[..., str]) -> None:
        self._templates = templates
        self._path_for = path_for

    def _render(self, name: str, **context: Any) -> str:
        return self._templates.get_template(name).render(url_for=self._path_for, **context)

    async def load(self, event_id: int, user_ids: frozenset[int]) -> Snapshot | None:
        try:
            # As the audience sees it, whoever watches: drafts are nobody's current question.
            event = await events.get_event(event_id, None)
        except NotFound:
            return None
        message = EventMessage.of(event, datetime.now(UTC))
        current = message.current.poll_id if message.current else 0
        # The poll id first, where the relay reads it back (current_poll_of).
        json = f'{{"current_poll":{current},' + to_json(message)[1:]
        html = self._render("events/_live.html", event=event, message=message)
        return Snapshot(
            seq=event.seq,
            poll_version="",  # no `poll` messages of its own: the event message is the state
            results={
                ("json", True): json,
                ("json", False): json,
                ("html", True): html,
                ("html", False): html,
            },
            poll={"json": "", "html": ""},
            can_see=lambda _user_id: True,
        )

    def viewers(self, fmt: Format, count: int) -> str:
        if fmt == "html":
            return self._render("_partials/viewers.html", count=count)
        return to_json(ViewersMessage(count))

    def deleted(self, fmt: Format) -> str:
        if fmt == "html":
            return self._render("events/_deleted.html")
        return to_json(EventDeletedMessage())

    def heartbeat(self, fmt: Format, interval_s: float) -> str:
        message = HeartbeatMessage(round(interval_s * 1000), datetime.now(UTC))
        if fmt == "html":
            return self._render("_partials/heartbeat.html", heartbeat=message)
        return to_json(message)
