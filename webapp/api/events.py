"""Events: a session of many polls under one join code; its questions and current one."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field
from quart import Blueprint, current_app
from quart_schema import validate_querystring, validate_request, validate_response

from webapp import event_exports, events
from webapp.accounts import Account
from webapp.api.auth import current_account, login_required
from webapp.api.contract import problems
from webapp.clients import limit
from webapp.errors import Forbidden
from webapp.event_exports import EventExport
from webapp.events import EventPage, EventView
from webapp.inputs.events import (
    Countdown,
    CurrentMove,
    EventCopy,
    EventCreate,
    EventUpdate,
    QuestionAdd,
    QuestionOrder,
)
from webapp.inputs.polls import PollCreate
from webapp.routing import MAX_ID

blueprint = Blueprint("events", __name__)


class EventQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str | None, Field(pattern=r"^[1-9][0-9]{0,9}$")] = None

    @property
    def before_id(self) -> int | None:
        if self.cursor is None or int(self.cursor) > MAX_ID:
            return None
        return int(self.cursor)


def _may_create(account: Account) -> None:
    if account.is_guest:
        raise Forbidden("Guests can vote but not create events: sign up for an account.")


@blueprint.post("/events")
@problems(403, 409, 429)
@login_required
@validate_request(EventCreate)
@validate_response(EventView, 201)
async def post_event(data: EventCreate, account: Account) -> tuple[EventView, int]:
    """Create an event, optionally with some of your polls as its first questions."""
    _may_create(account)
    # Counted with new polls: an event is as cheap to ask for and as costly to keep.
    await limit("poll_create", str(account.id))
    # No Location header: schemathesis (tests/contract) infers links from it onto the polls'
    # operations that take other parameters; the body holds the new event's id.
    return await events.create_event(account.id, data), 201


@blueprint.get("/events")
@problems()
@login_required
@validate_querystring(EventQuery)
@validate_response(EventPage)
async def list_events(query_args: EventQuery, account: Account) -> EventPage:
    """Your events, newest first."""
    return await events.list_events(
        account.id, limit=query_args.limit, before_id=query_args.before_id
    )


@blueprint.get("/events/<id:event_id>")
@validate_response(EventView)
async def get_event(event_id: int) -> EventView:
    """An event and its questions (drafts only to its owner), and which one is current."""
    account = await current_account()
    return await events.get_event(event_id, account.id if account else None)


@blueprint.patch("/events/<id:event_id>")
@problems(403, 409)
@login_required
@validate_request(EventUpdate)
@validate_response(EventView)
async def patch_event(event_id: int, data: EventUpdate, account: Account) -> EventView:
    """Change the title, the mode (presenter or self_paced) or the open/close window."""
    return await events.update_event(event_id, account.id, data)


@blueprint.delete("/events/<id:event_id>")
@problems(403)
@login_required
async def delete_event(event_id: int, account: Account) -> tuple[str, int]:
    """Delete an event; its polls stay yours."""
    await events.delete_event(event_id, account.id)
    return "", 204


@blueprint.post("/events/<id:event_id>/questions")
@problems(403, 409)
@login_required
@validate_request(QuestionAdd)
@validate_response(EventView, 201)
async def post_question(
    event_id: int, data: QuestionAdd, account: Account
) -> tuple[EventView, int]:
    """Add one of your polls as the last question (a poll is in one event at most)."""
    return await events.add_question(event_id, account.id, data.poll_id), 201


@blueprint.post("/events/<id:event_id>/polls")
@problems(403, 409, 429)
@login_required
@validate_request(PollCreate)
@validate_response(EventView, 201)
async def post_event_poll(
    event_id: int, data: PollCreate, account: Account
) -> tuple[EventView, int]:
    """Create a poll as the event's last question (the body of POST /polls)."""
    _may_create(account)
    await limit("poll_create", str(account.id))
    cap = current_app.extensions["settings"].guest_network_cap
    event, _poll = await events.create_question(event_id, account.id, data, cap)
    return event, 201


@blueprint.put("/events/<id:event_id>/questions")
@problems(403, 409)
@login_required
@validate_request(QuestionOrder)
@validate_response(EventView)
async def put_questions(event_id: int, data: QuestionOrder, account: Account) -> EventView:
    """Reorder the questions: every poll of the event, once, in the new order."""
    return await events.reorder(event_id, account.id, data.poll_ids)


@blueprint.delete("/events/<id:event_id>/questions/<id:poll_id>")
@problems(403)
@login_required
async def delete_question(event_id: int, poll_id: int, account: Account) -> tuple[str, int]:
    """Take a question out of the event; the poll stays yours."""
    await events.remove_question(event_id, account.id, poll_id)
    return "", 204


@blueprint.put("/events/<id:event_id>/current")
@problems(403, 409)
@login_required
@validate_request(CurrentMove)
@validate_response(EventView)
async def put_current(event_id: int, data: CurrentMove, account: Account) -> EventView:
    """Move the audience: to a question (`poll_id`, null for none) or `move` next/previous."""
    if data.move is not None:
        return await events.step(event_id, account.id, 1 if data.move == "next" else -1)
    return await events.go_to(event_id, account.id, data.poll_id)


@blueprint.post("/events/<id:event_id>/countdown")
@problems(403, 409)
@login_required
@validate_request(Countdown)
@validate_response(EventView)
async def post_countdown(event_id: int, data: Countdown, account: Account) -> EventView:
    """Close voting on the current question in `seconds` (5 to 3600), by the server's clock."""
    return await events.start_countdown(event_id, account.id, data.seconds)


@blueprint.post("/events/<id:event_id>/copies")
@problems(403, 429)
@login_required
@validate_request(EventCopy)
@validate_response(EventView, 201)
async def post_duplicate(event_id: int, data: EventCopy, account: Account) -> tuple[EventView, int]:
    """A copy of the event with a draft copy of every question (send {} for the default title)."""
    _may_create(account)
    await limit("poll_create", str(account.id))
    return await event_exports.duplicate_event(event_id, account.id, data.title), 201


@blueprint.get("/events/<id:event_id>/results-export")
@problems(403)
@login_required
@validate_response(EventExport)
async def get_export(event_id: int, account: Account) -> EventExport:
    """Every question's options, counts, percentages and ballots by kind (no voters' names
    or emails); the CSV is a download of the event's page."""
    return await event_exports.export_event(event_id, account.id)
