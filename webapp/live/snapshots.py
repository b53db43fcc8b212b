"""Builds a poll's live messages: once per change, per format and visibility, for all viewers.

Each JSON message is a typed dataclass serialised by webapp.serialize, as the API's
responses are (a date reads the same in both): `results` is the API's own `Results`,
serialised once per change and visibility. The HTML ones are the pages' partials, rendered
from the pages' own `PollView` (webapp.polls.view_of) and `Results`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from jinja2 import Environment

from webapp.live.hub import Format, Messages, Snapshot
from webapp.polls import PollView, creator_name, load_row, view_of
from webapp.results import (
    PollState,
    Results,
    audience_sees,
    present,
    tally,
    visible_to,
    voters_among,
)
from webapp.serialize import to_json
from webapp.tables import ResultsVisibility, Voting


@dataclass
class LiveOption:
    id: int
    text: str


@dataclass
class PollMessage:
    """The `poll` message: what a viewer shows of the poll, without counts or join code."""

    type: Literal["poll"] = field(default="poll", kw_only=True)
    poll_id: int
    seq: int
    question: str
    is_published: bool
    allows_multiple: bool
    voting: Voting
    allows_guests: bool
    results_visibility: ResultsVisibility
    results_hidden: bool
    closed: bool
    closed_at: datetime | None
    # The schedule, for a countdown read against the heartbeat's server_time.
    opens_at: datetime | None
    closes_at: datetime | None
    state: PollState
    updated_at: datetime
    options: list[LiveOption]

    @classmethod
    def of(cls, poll: PollView, seq: int) -> PollMessage:
        return cls(
            poll_id=poll.id,
            seq=seq,
            question=poll.question,
            is_published=poll.is_published,
            allows_multiple=poll.allows_multiple,
            voting=poll.voting,
            allows_guests=poll.allows_guests,
            results_visibility=poll.results_visibility,
            results_hidden=poll.results_hidden,
            closed=poll.closed_at is not None,
            closed_at=poll.closed_at,
            opens_at=poll.opens_at,
            closes_at=poll.closes_at,
            state=poll.state,
            updated_at=poll.updated_at,
            options=[LiveOption(o.id, o.text) for o in poll.options],
        )


@dataclass
class ViewersMessage:
    type: Literal["viewers"] = field(default="viewers", kw_only=True)
    count: int


@dataclass
class DeletedMessage:
    type: Literal["deleted"] = field(default="deleted", kw_only=True)


@dataclass
class HeartbeatMessage:
    """Proof of life, every `interval_ms`: a page that misses two reconnects."""

    type: Literal["heartbeat"] = field(default="heartbeat", kw_only=True)
    interval_ms: int
    server_time: datetime


def results_message(results: Results) -> str:
    """The `results` message: the `Results` the API returns (GET /polls/{id}/results),
    serialised once, with its `type` in front."""
    return '{"type":"results",' + to_json(results)[1:]


class SnapshotBuilder(Messages):
    """Loads a poll once per change and renders every variant its viewers may need."""

    def __init__(self, templates: Environment, path_for: Callable[..., str]) -> None:
        # The pages' own environment (its templates, filters and globals), as a synchronous
        # overlay: the hub renders outside any request, so `url_for` is the URL map's paths.
        self._templates = templates
        self._path_for = path_for

    def _render(self, name: str, **context: Any) -> str:
        template = self._templates.get_template(name)
        return template.render(url_for=self._path_for, **context)

    async def load(self, poll_id: int, user_ids: frozenset[int]) -> Snapshot | None:
        row = await load_row(poll_id)
        counts = await tally(poll_id) if row else None
        if row is None or counts is None:
            return None
        depends_on_votes = (
            row["results_visibility"] == ResultsVisibility.after_vote and not row["results_hidden"]
        )
        voted = await voters_among(poll_id, user_ids) if depends_on_votes else frozenset()
        name = await creator_name(row["creator"])
        public = audience_sees(row)
        results = {visible: present(counts, visible, public) for visible in (True, False)}
        # The pages' own view of the poll, so pushed fragments render from what pages do.
        views = {visible: view_of(row, shown, name) for visible, shown in results.items()}
        return Snapshot(
            seq=counts.seq,
            poll_version=f"{row['updated_at'].isoformat()}|{row['closed_at']}",
            results={
                **{("json", visible): results_message(shown) for visible, shown in results.items()},
                **{
                    ("html", visible): self._render(
                        "_partials/results.html", results=shown, poll=views[visible]
                    )
                    for visible, shown in results.items()
                },
            },
            poll={
                "json": to_json(PollMessage.of(views[True], counts.seq)),
                "html": self._render("_partials/status.html", poll=views[True]),
            },
            can_see=lambda user_id: visible_to(row, user_id, user_id in voted),
            checked=user_ids if depends_on_votes else None,
            views=views,
        )

    def viewers(self, fmt: Format, count: int) -> str:
        if fmt == "html":
            return self._render("_partials/viewers.html", count=count)
        return to_json(ViewersMessage(count))

    def deleted(self, fmt: Format) -> str:
        if fmt == "html":
            return self._render("_partials/status.html", poll=None)
        return to_json(DeletedMessage())

    def heartbeat(self, fmt: Format, interval_s: float) -> str:
        message = HeartbeatMessage(round(interval_s * 1000), datetime.now(UTC))
        if fmt == "html":
            return self._render("_partials/heartbeat.html", heartbeat=message)
        return to_json(message)
