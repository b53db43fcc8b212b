"""Poll pages: create and edit, vote and watch, publish, close, schedule, reset, duplicate,
export, delete."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from quart import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict

from webapp import clients, clock, exports, idempotency, polls
from webapp.accounts import Account
from webapp.callers import session_account
from webapp.clients import limit
from webapp.errors import Conflict, DomainError, Forbidden, Invalid
from webapp.idempotency import Claim, KeyInFlight, Outcome
from webapp.inputs.polls import MAX_OPTIONS, PollCreate, PollUpdate
from webapp.pages.forms import (
    back_to_poll,
    form_number,
    is_htmx,
    retry_headers,
    safe_next,
    validate,
)
from webapp.pages.ranking_form import order_in
from webapp.pages.session import SignInRequired
from webapp.polls import PollChanges, PollView
from webapp.responses import open_text

blueprint = Blueprint("polls", __name__)

BLANK_OPTIONS = 4


async def require_member(*, allow_guest: bool = False) -> Account:
    """The signed-in member; anyone else is sent to sign in and brought back."""
    me = await session_account()
    if me is None or (me.is_guest and not allow_guest):
        raise SignInRequired(request.full_path.rstrip("?"))
    return me


def _cap(raw: str) -> int | str | None:
    """The network cap field: blank is the default, digits a number; anything else is left
    for validation to refuse by name."""
    raw = raw.strip()
    if not raw:
        return None
    number = form_number(raw, 6)
    return raw if number is None else number


@blueprint.app_template_filter("utc")
def utc(value: datetime | None) -> str:
    """A time as the pages show it: UTC, to the minute (seconds when it has them)."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC" if value.second else "%Y-%m-%d %H:%M UTC")


def local_value(value: datetime | None) -> str:
    """A time as a datetime-local field holds it (the fields are in UTC)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value is not None else ""


# What a datetime-local field sends: a time without an offset, which the form says is UTC.
LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")


def _when(raw: str) -> str | None:
    """A schedule field: blank is none; a datetime-local value is UTC; anything else is
    left for validation to refuse by name."""
    raw = raw.strip()
    if not raw:
        return None
    return raw + "Z" if LOCAL_TIME.fullmatch(raw) else raw


def _schedule_form(form: MultiDict[str, str]) -> dict[str, Any]:
    return {name: _when(form.get(name, "")) for name in ("opens_at", "closes_at")}


def _schedule_values(poll: PollView) -> dict[str, str]:
    return {"opens_at": local_value(poll.opens_at), "closes_at": local_value(poll.closes_at)}


def _scale_values(poll: PollView) -> dict[str, Any]:
    if poll.scale is None:
        return {}
    scale = poll.scale
    return {
        "scale": {
            "points": scale.points,
            "low_label": scale.low_label,
            "high_label": scale.high_label,
        }
    }


def _kind_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The kind and the settings the form shows for it (every kind's fields are on the form,
    so that it works without JavaScript; only the chosen kind's are sent on)."""
    kind = form.get("kind", "choice")[:16]
    fields: dict[str, Any] = {"kind": kind}
    if kind in ("choice", "ranking"):
        fields["options"] = [text for text in form.getlist("options") if text.strip()]
    if kind == "choice":
        fields["allows_multiple"] = form.get("choice") == "multiple"
    if kind == "scale":
        fields["scale"] = {
            "points": _cap(form.get("scale_points", "")),
            "low_label": form.get("scale_low", ""),
            "high_label": form.get("scale_high", ""),
        }
    if kind == "word_cloud":
        fields["answers_per_person"] = _cap(form.get("answers_per_person", ""))
    if kind in ("open_text", "qa"):
        fields["premoderated"] = form.get("premoderated") == "on"
    if kind == "qa":
        fields["allows_anonymous"] = form.get("allows_anonymous") == "on"
    return fields


def _poll_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The poll fields as PollCreate takes them (blank option fields left out)."""
    voting = form.get("voting") or ("guests" if form.get("allows_guests") == "on" else "accounts")
    return {
        "question": form.get("question", ""),
        **_kind_form(form),
        "voting": voting,
        "guest_network_cap": _cap(form.get("guest_network_cap", "")),
        "results_visibility": form.get("results_visibility", "always"),
        "is_published": form.get("action") == "publish",
        **_schedule_form(form),
    }


async def _render_form(
    values: dict[str, Any],
    errors: dict[str, str],
    poll_id: int | None,
    status: int = 200,
    fields: list[str] | None = None,
) -> Any:
    """The form; `fields` are the option fields as submitted, blanks included."""
    if fields is None:
        options = list(values.get("options", []))
        # Room to type: at least BLANK_OPTIONS fields, and an empty one after the filled ones.
        options += [""] * (min(MAX_OPTIONS, max(BLANK_OPTIONS, len(options) + 1)) - len(options))
    else:
        options = fields
    page = await render_template(
        "polls/form.html",
        values=values,
        options=options,
        errors=errors,
        poll_id=poll_id,
        default_cap=current_app.extensions["settings"].guest_network_cap,
        server_now=clock.now(),
    )
    return page, status


def _one_more(fields: list[str]) -> list[str]:
    """The no-JavaScript "Add option": the filled fields in order, then blanks, one more
    field than before (up to the limit)."""
    filled = [text for text in fields if text.strip()]
    count = min(MAX_OPTIONS, len(fields) + 1)
    return filled + [""] * max(0, count - len(filled))


@blueprint.get("/polls/new")
async def new_poll() -> Any:
    """The form for a new poll."""
    await require_member()
    return await _render_form({"results_visibility": "always"}, {}, None)


@blueprint.get("/polls/option")
async def option_input() -> Any:
    """One more option field (htmx adds it to the form)."""
    return await render_template("_partials/option_input.html", text="")


@blueprint.get("/polls/nothing")
async def nothing() -> str:
    """An empty answer: htmx swaps it in to remove an option field."""
    return ""


async def _submitted(poll_id: int | None) -> tuple[PollCreate | None, Any]:
    """The submitted form as a valid poll, or the form to show again (errors, add option)."""
    form = await request.form
    values = _poll_form(form)
    fields = form.getlist("options")
    if form.get("action") == "add_option":
        return None, await _render_form(values, {}, poll_id, fields=_one_more(fields))
    data, errors = validate(PollCreate, values)
    if data is None:
        return None, await _render_form(_shown(values, form), errors, poll_id, 422, fields=fields)
    return data, None


def _shown(values: dict[str, Any], form: MultiDict[str, str]) -> dict[str, Any]:
    """The values to show again in the form: the schedule's fields as they were typed."""
    return {**values, **{name: form.get(name, "") for name in ("opens_at", "closes_at")}}


async def _saved(poll_id: int | None, save: Callable[[PollCreate], Awaitable[PollView]]) -> Any:
    """The submitted form saved (back to the poll), or the form again with its errors: those
    of the fields, and the domain's about them (a closes_at that has passed)."""
    data, form_again = await _submitted(poll_id)
    if data is None:
        return form_again
    try:
        poll = await save(data)
    except Invalid as error:
        form = await request.form
        values = _shown(_poll_form(form), form)
        fields = form.getlist("options")
        field = _field_of(error) or "form"
        return await _render_form(values, {field: error.detail}, poll_id, 422, fields)
    return back_to_poll(poll.id)


@blueprint.post("/polls")
async def create_poll() -> Any:
    """Save a draft or publish; without JavaScript, 'add option' re-renders the form."""
    me = await require_member()

    async def create(data: PollCreate) -> PollView:
        await limit("poll_create", str(me.id))
        cap = current_app.extensions["settings"].guest_network_cap
        return await polls.create_from(data, me.id, cap)

    return await _saved(None, create)


@blueprint.route("/polls/<id:poll_id>/edit", methods=["GET", "POST"])
async def edit_poll(poll_id: int) -> Any:
    """Edit a draft (question, options, settings), then save or publish."""
    me = await require_member()
    poll = await polls.get_poll(poll_id, me.id)
    if poll.creator.id != me.id:
        raise Forbidden("Only the poll's creator can edit it.")
    if poll.is_published:
        raise Conflict("A published poll can no longer be edited.")
    if request.method == "GET":
        values = {
            "question": poll.question,
            "allows_multiple": poll.allows_multiple,
            "voting": poll.voting.value,
            "guest_network_cap": poll.guest_network_cap,
            "results_visibility": poll.results_visibility.value,
            "options": [option.text for option in poll.options],
            "kind": poll.kind.value,
            "answers_per_person": poll.answers_per_person,
            "premoderated": poll.premoderated,
            "allows_anonymous": poll.allows_anonymous,
            **_scale_values(poll),
            **_schedule_values(poll),
        }
        return await _render_form(values, {}, poll_id)

    async def save(data: PollCreate) -> PollView:
        return await polls.update_poll(poll_id, me.id, polls.draft_changes(data))

    return await _saved(poll_id, save)


def _watching(poll_id: int) -> int:
    """Viewers connected to this process right now (the live feed keeps it current)."""
    return int(current_app.extensions["live"].hub.viewer_count(poll_id))


def _field_of(error: DomainError | None) -> str | None:
    """The field a 422 names (the first), if any."""
    if error is None or not error.errors:
        return None
    return str(error.errors[0]["field"])


async def poll_page(
    poll_id: int, error: DomainError | None = None, schedule: dict[str, Any] | None = None
) -> Any:
    """The poll page; with an error, that error's status and message (and Retry-After);
    `schedule`: the schedule form as sent, shown again with the error on its field."""
    me = await session_account()
    viewer_id = me.id if me else None
    seen = await polls.seen_by(poll_id, viewer_id)
    field = _field_of(error) if schedule is not None else None
    page = await render_template(
        "polls/show.html",
        poll=seen.poll,
        results=seen.results,
        mine=seen.mine,
        response=seen.response,
        answers=await open_text.queue_seen_by(
            poll_id, seen.poll.kind, seen.poll.creator.id, viewer_id
        ),
        error=error.detail if error and not field else None,
        count=_watching(poll_id),
        schedule_values=schedule if schedule is not None else _schedule_values(seen.poll),
        schedule_errors={field: error.detail} if error and field else {},
        server_now=clock.now(),
    )
    if error is None:
        return page, 200
    return page, error.status, retry_headers(error)


@blueprint.get("/polls/<id:poll_id>")
async def show_poll(poll_id: int) -> Any:
    """Vote with one tap and watch the results move."""
    return await poll_page(poll_id)


async def _after_vote(poll_id: int, me: Account, error: DomainError | None = None) -> Any:
    """htmx gets the voting block and the results (out of band); plain forms a redirect."""
    if error is not None and not is_htmx():
        return await poll_page(poll_id, error)
    if not is_htmx():
        # Back where the form was, when it says (an event's audience page: /e/CODE).
        return redirect(safe_next(url_for("polls.show_poll", poll_id=poll_id)), 303)
    seen = await polls.seen_by(poll_id, me.id)
    vote_block = await render_template(
        "_partials/vote.html",
        poll=seen.poll,
        mine=seen.mine,
        response=seen.response,
        error=error.detail if error else None,
    )
    results_block = await render_template(
        "_partials/results.html", results=seen.results, poll=seen.poll, response=seen.response
    )
    return vote_block + results_block


@blueprint.get("/polls/<id:poll_id>/vote-block")
async def vote_block(poll_id: int) -> Any:
    """This viewer's voting block alone (fetched when the poll opens or closes live)."""
    me = await session_account()
    seen = await polls.seen_by(poll_id, me.id if me else None)
    return await render_template(
        "_partials/vote.html", poll=seen.poll, mine=seen.mine, response=seen.response, error=None
    )


def _done(results: Any, changed: bool) -> Outcome:
    """What a page's vote or withdrawal stores: the page shows the current state anyway."""
    return Outcome(200, '{"changed": true}' if changed else '{"changed": false}')


async def _claim(me: Account, poll_id: int, option_id: int | None) -> Claim | None:
    """The tap's Idempotency-Key (sent by the page's script, or a form's hidden field)."""
    raw = request.headers.get(idempotency.HEADER)
    if raw is None:
        raw = (await request.form).get(idempotency.FORM_FIELD) or None
    key = idempotency.parse_key(raw)
    if key is None:
        return None
    route = request.url_rule.rule if request.url_rule else request.path
    return Claim(me.id, key, (request.method, route, poll_id, option_id), _done)


async def _vote_once(
    poll_id: int, me: Account, claim: Claim | None, act: Callable[[Claim | None], Awaitable[None]]
) -> Any:
    """Apply a tap, at most once per key: a retry shows the current state with the first
    attempt's outcome (its error, if it had one), and changes nothing."""
    try:
        if claim is None:
            await act(None)
            return await _after_vote(poll_id, me)
        outcome = await idempotency.once(claim, lambda: act(claim))
    except KeyInFlight as error:
        # A 409 for htmx too (not swapped): the page's script retries the tap with its key.
        response = await make_response(await _after_vote(poll_id, me, error))
        response.status_code = error.status
        response.headers.update(retry_headers(error))
        return response
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    if not outcome.replayed:
        return await _after_vote(poll_id, me)
    response = await make_response(await _after_vote(poll_id, me, outcome.error()))
    response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response


@blueprint.post("/polls/<id:poll_id>/vote")
async def vote(poll_id: int) -> Any:
    """Vote for an option; in a multiple-choice poll a second tap takes it back."""
    me = await require_member(allow_guest=True)
    raw = (await request.form).get("option_id", "")
    number = form_number(raw)
    option_id = number if number is not None and 0 < number < 2**31 else 0

    async def toggle(claim: Claim | None) -> None:
        seen = await polls.seen_by(poll_id, me.id)
        if seen.poll.allows_multiple and option_id in seen.mine:
            await clients.withdraw_votes(me, poll_id, option_id, claim)
        else:
            await clients.cast_vote(me, poll_id, option_id, claim)

    return await _vote_once(poll_id, me, await _claim(me, poll_id, option_id), toggle)


@blueprint.post("/polls/<id:poll_id>/withdraw")
async def withdraw(poll_id: int) -> Any:
    """Withdraw all of my votes in this poll."""
    me = await require_member(allow_guest=True)

    async def withdraw_all(claim: Claim | None) -> None:
        await clients.withdraw_votes(me, poll_id, None, claim)

    return await _vote_once(poll_id, me, await _claim(me, poll_id, None), withdraw_all)


@blueprint.post("/polls/<id:poll_id>/respond")
async def respond(poll_id: int) -> Any:
    """Give or change my response in a poll of another kind than choice (a rating)."""
    me = await require_member(allow_guest=True)
    form = await request.form
    values: dict[str, object] = {"rating": form.get("rating", "")[:8]}
    if "text" in form:  # open text (cut well past its limit: too long is still a 422)
        values = {"text": form["text"][:2000]}
    if "rank_1" in form:  # a ranking's selects, best first
        values = {"order": order_in(form)}
    try:
        await clients.put_response(me, poll_id, values)
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)


@blueprint.post("/polls/<id:poll_id>/respond/withdraw")
async def withdraw_response(poll_id: int) -> Any:
    """Withdraw my response in a poll of another kind than choice."""
    me = await require_member(allow_guest=True)
    try:
        await clients.withdraw_response(me, poll_id)
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)


async def _change(poll_id: int, changes: PollChanges) -> Any:
    """Apply a creator's change, then return to the poll page or the presenter view."""
    me = await require_member()
    await polls.update_poll(poll_id, me.id, changes)
    if (await request.form).get("return_to") == "present":
        return redirect(url_for("present.present_poll", poll_id=poll_id), 303)
    return back_to_poll(poll_id)


@blueprint.post("/polls/<id:poll_id>/publish")
async def publish(poll_id: int) -> Any:
    """Publish a draft: it gets its join code and opens for votes."""
    return await _change(poll_id, PollChanges(is_published=True))


@blueprint.post("/polls/<id:poll_id>/close")
async def close(poll_id: int) -> Any:
    """Stop voting."""
    return await _change(poll_id, PollChanges(closed=True))


@blueprint.post("/polls/<id:poll_id>/reopen")
async def reopen(poll_id: int) -> Any:
    """Open voting again."""
    return await _change(poll_id, PollChanges(closed=False))


@blueprint.post("/polls/<id:poll_id>/results-hidden")
async def set_results_hidden(poll_id: int) -> Any:
    """The presenter's toggle: hide the results from every screen, or reveal them."""
    hidden = (await request.form).get("hidden") == "1"
    return await _change(poll_id, PollChanges(results_hidden=hidden))


@blueprint.post("/polls/<id:poll_id>/network-cap")
async def set_network_cap(poll_id: int) -> Any:
    """Tighten or lift the cap of new guest ballots per network (0 lifts it)."""
    cap = form_number((await request.form).get("guest_network_cap", ""), 6)
    if cap is None:
        await require_member()
        error = Invalid("guest_network_cap", "The cap is a whole number: 0 lifts it.")
        return await poll_page(poll_id, error)
    return await _change(poll_id, PollChanges(guest_network_cap=cap))


@blueprint.route("/polls/<id:poll_id>/delete", methods=["GET", "POST"])
async def delete(poll_id: int) -> Any:
    """Confirm, then delete the poll with its votes."""
    me = await require_member()
    poll = await polls.get_poll(poll_id, me.id)
    if poll.creator.id != me.id:
        raise Forbidden("Only the poll's creator can delete it.")
    if request.method == "GET":
        return await render_template("polls/delete.html", poll=poll)
    await polls.delete_poll(poll_id, me.id)
    return redirect(url_for("home.index"), 303)


@blueprint.post("/polls/<id:poll_id>/schedule")
async def set_schedule(poll_id: int) -> Any:
    """Set, move or clear when voting opens and closes (UTC, by the server's clock)."""
    me = await require_member()
    form = await request.form
    typed = {name: form.get(name, "") for name in ("opens_at", "closes_at")}
    data, errors = validate(PollUpdate, _schedule_form(form))
    if data is None:
        field, detail = next(iter(errors.items()))
        return await poll_page(poll_id, Invalid(field, detail), typed)
    try:
        await polls.schedule_poll(poll_id, me.id, opens_at=data.opens_at, closes_at=data.closes_at)
    except Invalid as error:
        return await poll_page(poll_id, error, typed)
    return back_to_poll(poll_id)


@blueprint.route("/polls/<id:poll_id>/reset", methods=["GET", "POST"])
async def reset(poll_id: int) -> Any:
    """Confirm, then remove every vote: the counts start again from zero on every screen."""
    me = await require_member()
    poll = await polls.get_poll(poll_id, me.id)
    if poll.creator.id != me.id:
        raise Forbidden("Only the poll's creator can reset its results.")
    if request.method == "GET" or (await request.form).get("confirm") != "yes":
        return await render_template("polls/reset.html", poll=poll)
    await polls.reset_results(poll_id, me.id)
    return back_to_poll(poll_id)


@blueprint.post("/polls/<id:poll_id>/duplicate")
async def duplicate(poll_id: int) -> Any:
    """A draft copy of the poll (question, options, settings), opened for editing."""
    me = await require_member()
    await limit("poll_create", str(me.id))
    copy = await polls.duplicate_poll(poll_id, me.id)
    return redirect(url_for("polls.edit_poll", poll_id=copy.id), 303)


@blueprint.get("/polls/<id:poll_id>/export.<any(csv, json):kind>")
async def export(poll_id: int, kind: str) -> Any:
    """Download the results (counts, percentages, ballots by kind; nobody's name or email)."""
    me = await require_member()
    data = await exports.export_poll(poll_id, me.id)
    body = exports.as_csv(data) if kind == "csv" else exports.as_json(data)
    media = "text/csv; charset=utf-8" if kind == "csv" else "application/json"
    disposition = exports.attachment(exports.filename(data, kind))
    return Response(body, content_type=media, headers={"Content-Disposition": disposition})
