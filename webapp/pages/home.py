"""The home page and opening a poll or an event by its join code."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, render_template, request, url_for

from webapp import events, polls
from webapp.callers import session_account
from webapp.errors import NotFound
from webapp.pages.forms import form_number

blueprint = Blueprint("home", __name__)

PAGE_SIZE = 10


@blueprint.get("/")
async def index() -> Any:
    """Published polls, newest first, a join-code box, and the member's own polls."""
    me = await session_account()
    cursor = request.args.get("cursor", "")
    number = form_number(cursor)
    before_id = number if number is not None and 0 < number < 2**31 else None
    page = await polls.list_polls(
        me.id if me else None, mine=False, limit=PAGE_SIZE, before_id=before_id
    )
    mine = None
    if me is not None and not me.is_guest:
        mine = await polls.list_polls(me.id, mine=True, limit=50, before_id=None)
    return await render_template("home.html", page=page, mine=mine, cursor=before_id)


async def _open(code: str) -> Any:
    """The poll or the event a code opens (an event's code is one character longer)."""
    normalized = polls.normalize_code(code[:32])
    try:
        if len(normalized) == events.EVENT_CODE_LENGTH:
            await events.event_id_for_code(normalized)
            return redirect(url_for("events.audience", code=normalized), 303)
        poll_id = await polls.poll_id_for_code(normalized)
    except NotFound:
        return await render_template("home_join_error.html", code=code[:32]), 404
    return redirect(url_for("polls.show_poll", poll_id=poll_id), 303)


@blueprint.get("/join")
async def join() -> Any:
    """Open a poll or an event by its join code (the home page's box)."""
    return await _open(request.args.get("code", ""))


@blueprint.get("/j/<code>")
async def join_short(code: str) -> Any:
    """The short join link printed under the QR code."""
    return await _open(code)
