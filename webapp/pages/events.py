"""Event pages: the owner's list and manage page, the audience page (/e/CODE), the projected
presenter view and the presenter's remote. Every change is a plain form (CSRF-checked)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from quart import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from webapp import event_exports, event_touch, events, polls
from webapp.accounts import Account
from webapp.callers import session_account
from webapp.clients import limit
from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.events import EventView
from webapp.inputs.events import EventCreate, EventUpdate
from webapp.inputs.polls import PollCreate
from webapp.live.event_snapshots import EventMessage
from webapp.pages.forms import form_number, validate
from webapp.pages.polls import require_member
from webapp.pages.present import qr_svg
from webapp.polls import PollChanges
from webapp.routing import MAX_ID

blueprint = Blueprint("events", __name__)

RETURNS = {"manage", "present", "remote"}


def _back(event_id: int, where: str | None = None) -> WerkzeugResponse:
    target = where if where in RETURNS else "manage"
    endpoint = {"manage": "events.manage", "present": "events.present", "remote": "events.remote"}
    return redirect(url_for(endpoint[target], event_id=event_id), 303)


def _join_url(event: EventView) -> str:
    return request.host_url.rstrip("/") + url_for("home.join_short", code=event.join_code)


def _instant(raw: str, field: str) -> str | None:
    """A datetime-local field (read as UTC), as the API's RFC 3339 text; blank: none."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC).isoformat()
    except ValueError:
        raise Invalid(field, "Give a date and time, such as 2026-12-24T18:00.") from None


@blueprint.get("/events")
async def list_events() -> Any:
    """Your events, and a form for a new one."""
    me = await require_member()
    page = await events.list_events(me.id, limit=100, before_id=None)
    return await render_template("events/index.html", page=page, errors={}, values={})


@blueprint.post("/events")
async def create_event() -> Any:
    """A new event: a title and a mode; questions are added on its page."""
    me = await require_member()
    form = await request.form
    values = {"title": form.get("title", ""), "mode": form.get("mode", "presenter")}
    data, errors = validate(EventCreate, values)
    if data is None:
        page = await events.list_events(me.id, limit=100, before_id=None)
        html = await render_template("events/index.html", page=page, errors=errors, values=values)
        return html, 422
    await limit("poll_create", str(me.id))
    event = await events.create_event(me.id, data)
    return _back(event.id)


async def _owned(event_id: int) -> tuple[Account, EventView]:
    me = await require_member()
    return me, await events.owned_event(event_id, me.id)


@blueprint.get("/events/<id:event_id>")
async def manage(event_id: int) -> Any:
    """The owner's page: questions in order, settings, links to present and to the remote."""
    me, event = await _owned(event_id)
    mine = await polls.list_polls(me.id, mine=True, limit=100, before_id=None)
    in_events = await events.polls_in_events([poll.id for poll in mine.items])
    addable = [poll for poll in mine.items if poll.id not in in_events]
    return await render_template(
        "events/manage.html", event=event, addable=addable, join_url=_join_url(event), errors={}
    )


@blueprint.post("/events/<id:event_id>/settings")
async def save_settings(event_id: int) -> Any:
    """Title, mode and the open/close window."""
    me, event = await _owned(event_id)
    form = await request.form
    values = {
        "title": form.get("title", ""),
        "mode": form.get("mode", ""),
        "opens_at": _instant(form.get("opens_at", ""), "opens_at"),
        "closes_at": _instant(form.get("closes_at", ""), "closes_at"),
    }
    data, errors = validate(EventUpdate, values)
    if data is None:
        raise Invalid(next(iter(errors)), next(iter(errors.values())))
    await events.update_event(event_id, me.id, data)
    return _back(event_id)


@blueprint.post("/events/<id:event_id>/questions")
async def add_question(event_id: int) -> Any:
    """Add one of your polls, or a new one written here."""
    me, _event = await _owned(event_id)
    form = await request.form
    existing = form_number(form.get("poll_id", ""))
    if existing is not None and existing > MAX_ID:  # no such poll: as the domain says it
        raise Forbidden(f"Poll {existing} is not one of your polls.")
    if existing is not None:
        await events.add_question(event_id, me.id, existing)
        return _back(event_id)
    lines = [line.strip() for line in form.get("options", "").splitlines() if line.strip()]
    values = {
        "question": form.get("question", ""),
        "options": lines,
        "allows_multiple": form.get("choice") == "multiple",
        "voting": form.get("voting", "guests"),
        "is_published": True,
    }
    data, errors = validate(PollCreate, values)
    if data is None:
        field, message = next(iter(errors.items()))
        raise Invalid(field, f"{field}: {message}")
    await limit("poll_create", str(me.id))
    cap = current_app.extensions["settings"].guest_network_cap
    await events.create_question(event_id, me.id, data, cap)
    return _back(event_id)


@blueprint.post("/events/<id:event_id>/questions/<id:poll_id>/move")
async def move_question(event_id: int, poll_id: int) -> Any:
    """One place up or down."""
    me, event = await _owned(event_id)
    order = [q.poll_id for q in event.questions]
    if poll_id not in order:
        raise NotFound("That poll is not a question of this event.")
    i = order.index(poll_id)
    j = i - 1 if (await request.form).get("direction") == "up" else i + 1
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
        await events.reorder(event_id, me.id, order)
    return _back(event_id)


@blueprint.post("/events/<id:event_id>/questions/<id:poll_id>/remove")
async def remove_question(event_id: int, poll_id: int) -> Any:
    """Take a question out (the poll stays yours)."""
    me, _event = await _owned(event_id)
    await events.remove_question(event_id, me.id, poll_id)
    return _back(event_id)


@blueprint.post("/events/<id:event_id>/current")
async def set_current(event_id: int) -> Any:
    """Next, previous, or a question by its poll id (the presenter's and the remote's)."""
    me, _event = await _owned(event_id)
    form = await request.form
    action = form.get("move", "")
    if action in ("next", "previous"):
        await events.step(event_id, me.id, 1 if action == "next" else -1)
    elif action == "none":
        await events.go_to(event_id, me.id, None)
    else:
        poll_id = form_number(form.get("poll_id", ""))
        if poll_id is None:
            raise Invalid("poll_id", "Choose a question.")
        await events.go_to(event_id, me.id, poll_id)
    return _back(event_id, form.get("return_to"))


async def _current(event_id: int) -> tuple[Account, EventView, int]:
    me, event = await _owned(event_id)
    if event.current_poll_id is None:
        raise Conflict("No question is current: move to one first.")
    return me, event, event.current_poll_id


@blueprint.post("/events/<id:event_id>/results-hidden")
async def set_results_hidden(event_id: int) -> Any:
    """Hide the current question's results from every screen, or reveal them."""
    me, _event, poll_id = await _current(event_id)
    form = await request.form
    await polls.update_poll(poll_id, me.id, PollChanges(results_hidden=form.get("hidden") == "1"))
    return _back(event_id, form.get("return_to"))


@blueprint.post("/events/<id:event_id>/close")
async def close_current(event_id: int) -> Any:
    """Stop voting on the current question."""
    me, _event, poll_id = await _current(event_id)
    await polls.update_poll(poll_id, me.id, PollChanges(closed=True))
    await event_touch.touch(event_id)
    return _back(event_id, (await request.form).get("return_to"))


@blueprint.post("/events/<id:event_id>/countdown")
async def countdown(event_id: int) -> Any:
    """Close voting on the current question in N seconds, on the server's clock."""
    me, _event, _poll_id = await _current(event_id)
    form = await request.form
    seconds = form_number(form.get("seconds", ""), 4)
    if seconds is None:
        raise Invalid("seconds", "Give the countdown in whole seconds.")
    await events.start_countdown(event_id, me.id, seconds)
    return _back(event_id, form.get("return_to"))


@blueprint.post("/events/<id:event_id>/duplicate")
async def duplicate(event_id: int) -> Any:
    """A copy of the event, its questions as fresh drafts."""
    me, _event = await _owned(event_id)
    await limit("poll_create", str(me.id))
    copy = await event_exports.duplicate_event(event_id, me.id)
    return _back(copy.id)


@blueprint.get("/events/<id:event_id>/export.<any(csv, json):kind>")
async def export(event_id: int, kind: str) -> Any:
    """The results of every question, as a download (also while the event runs)."""
    me, _event = await _owned(event_id)
    data = await event_exports.export_event(event_id, me.id)
    body = event_exports.as_csv(data) if kind == "csv" else event_exports.as_json(data)
    mimetype = "text/csv" if kind == "csv" else "application/json"
    filename = f"event-{event_id}-results.{kind}"
    return (
        body,
        200,
        {
            "Content-Type": f"{mimetype}; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@blueprint.post("/events/<id:event_id>/reset")
async def reset(event_id: int) -> Any:
    """Every vote on the current question gone, once the box is ticked (counts to zero)."""
    me, _event = await _owned(event_id)
    form = await request.form
    if form.get("confirm") != "yes":
        raise Invalid("confirm", "Tick the box to confirm resetting the results.")
    await events.reset_current(event_id, me.id)
    return _back(event_id, form.get("return_to"))


@blueprint.post("/events/<id:event_id>/delete")
async def delete_event(event_id: int) -> Any:
    """Delete the event (its polls stay), once the box is ticked."""
    me, _event = await _owned(event_id)
    if (await request.form).get("confirm") != "yes":
        raise Invalid("confirm", "Tick the box to confirm deleting the event.")
    await events.delete_event(event_id, me.id)
    return redirect(url_for("events.list_events"), 303)


def _message(event: EventView) -> EventMessage:
    return EventMessage.of(event, datetime.now(UTC))


@blueprint.get("/events/<id:event_id>/present")
async def present(event_id: int) -> Any:
    """For the big screen: the current question, its live results, the join code and QR."""
    _me, event = await _owned(event_id)
    return await _screen("events/present.html", event)


@blueprint.get("/events/<id:event_id>/remote")
async def remote(event_id: int) -> Any:
    """For the presenter's phone: the controls that drive the big screen."""
    _me, event = await _owned(event_id)
    return await _screen("events/remote.html", event)


async def _screen(template: str, event: EventView) -> Any:
    poll = results = None
    if event.current_poll_id is not None:
        poll = await polls.get_poll(event.current_poll_id, None)
        results = await polls.results_for(event.current_poll_id, None, as_audience=True)
    join_url = _join_url(event)
    return await render_template(
        template,
        event=event,
        message=_message(event),
        poll=poll,
        results=results,
        join_url=join_url,
        qr=qr_svg(join_url),
        controls=request.args.get("controls") != "off",
        count=current_app.extensions["live"].events.viewer_count(event.id),
    )


@dataclass(frozen=True)
class _AudiencePath:
    """What the voting block reads of the request, as on the audience page: its sign-in and
    guest forms bring the person back to the event, not to the block's own URL."""

    path: str
    args: Any


@blueprint.get("/e/<code>/questions/<id:poll_id>/vote-block")
async def vote_block(code: str, poll_id: int) -> Any:
    """This viewer's voting block for a question of the event (fetched when it changes)."""
    event_id = await events.event_id_for_code(code[:32])
    if await events.event_of_poll(poll_id) != event_id:
        raise NotFound("That poll is not a question of this event.")
    me = await session_account()
    seen = await polls.seen_by(poll_id, me.id if me else None)
    back = _AudiencePath(url_for("events.audience", code=code[:32]), request.args)
    return await render_template(
        "_partials/vote.html",
        poll=seen.poll,
        mine=seen.mine,
        response=seen.response,
        error=None,
        request=back,
    )


@blueprint.get("/e/<code>")
async def audience(code: str) -> Any:
    """The audience's page: the current question (or, self-paced, the one they are on)."""
    event = await events.get_event(await events.event_id_for_code(code[:32]), None)
    me = await session_account()
    question = event.current
    number = None
    if event.mode == "self_paced":
        number = form_number(request.args.get("q", "1"), 3) or 1
        question = event.question_at(number)
    seen = None
    if question is not None:
        seen = await polls.seen_by(question.poll_id, me.id if me else None)
    return await render_template(
        "events/show.html",
        event=event,
        message=_message(event),
        number=number,
        poll=seen.poll if seen else None,
        results=seen.results if seen else None,
        mine=seen.mine if seen else [],
        response=seen.response if seen else None,
        error=None,
        count=current_app.extensions["live"].events.viewer_count(event.id),
    )
