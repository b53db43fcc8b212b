"""Helpers shared across the test packages: waiting for a condition, and voting through the API.

Page helpers (a browser, an HTML tree) live in tests/pages/helpers.py; assertions on problem
responses in tests/api/problems.py.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from quart.wrappers import Response

from tests.conftest import Member
from webapp.tables import Poll, Vote

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

# --- waiting ------------------------------------------------------------------------------------


async def until(
    condition: Callable[[], object] | Callable[[], Awaitable[object]],
    what: str,
    within: float = 10.0,
    every: float = 0.01,
) -> None:
    """Wait until `condition()` (sync or async) is true; fail saying `what` after `within` s.

    For what happens in the background: a fixed sleep is either too short under load or
    wastes time everywhere else.
    """
    deadline = time.monotonic() + within
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(every)


async def next_json(ws: Any, kind: str, wait: float = 3.0) -> dict[str, Any]:
    """The next JSON message of this type on a test client's live WebSocket, skipping others
    (viewer counts come and go)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.receive(), wait))
        if message["type"] == kind:
            return dict(message)


# --- voting through the JSON API ---------------------------------------------------------------


def votes_url(poll_id: int) -> str:
    return f"/api/v1/polls/{poll_id}/votes"


def results_url(poll_id: int) -> str:
    return f"/api/v1/polls/{poll_id}/results"


def option_ids(poll: dict[str, Any]) -> list[int]:
    """The option ids of a poll as the API returned it, in order."""
    return [option["id"] for option in poll["options"]]


async def vote(
    client: TestClientProtocol, member: Member | None, poll_id: int, option_id: Any
) -> Response:
    headers = member.auth if member else {}
    return await client.post(votes_url(poll_id), json={"option_id": option_id}, headers=headers)


async def withdraw(
    client: TestClientProtocol, member: Member | None, poll_id: int, option_id: int | None = None
) -> Response:
    """Withdraw one choice, or (option_id None) every vote of the member in the poll."""
    headers = member.auth if member else {}
    url = votes_url(poll_id) if option_id is None else f"{votes_url(poll_id)}/{option_id}"
    return await client.delete(url, headers=headers)


async def get_results(
    client: TestClientProtocol, poll_id: int, member: Member | None = None
) -> dict[str, Any]:
    response = await client.get(results_url(poll_id), headers=member.auth if member else {})
    assert response.status_code == 200, await response.get_data(as_text=True)
    return dict(await response.get_json())


# --- what the database holds -------------------------------------------------------------------


async def vote_rows(poll_id: int) -> list[dict[str, Any]]:
    """Every vote row of the poll: user, option and the single-choice marker."""
    return list(
        await Vote.select(Vote.user, Vote.option, Vote.single_choice).where(Vote.poll == poll_id)
    )


async def stored_voters(poll_id: int) -> int:
    """The running count of voters kept in poll.voters."""
    row = await Poll.select(Poll.voters).where(Poll.id == poll_id).first()
    assert row is not None
    return int(row["voters"])


def break_the_hub(app: Any, monkeypatch: Any) -> None:
    """Make every new live viewer's subscription fail at once, as a broken hub would."""

    async def failing(*_args: Any) -> AsyncIterator[tuple[str, str]]:
        raise RuntimeError("the hub broke")
        yield "results", ""  # an async generator, as Hub.subscribe is

    monkeypatch.setattr(app.extensions["live"].hub, "subscribe", failing)
