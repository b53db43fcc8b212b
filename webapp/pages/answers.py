"""The owner's moderation of an open-text poll's answers, from the poll page: approve (or
unhide) and hide, as small forms that need no JavaScript."""

from __future__ import annotations

from typing import Any, Literal

from quart import Blueprint, request

from webapp import polls
from webapp.errors import DomainError
from webapp.pages.forms import back_to_poll
from webapp.pages.polls import poll_page, require_member
from webapp.polls import PollChanges
from webapp.responses import open_text

blueprint = Blueprint("answers", __name__)


async def _moderate(poll_id: int, answer_id: int, state: Literal["shown", "hidden"]) -> Any:
    me = await require_member()
    try:
        await open_text.set_state(poll_id, answer_id, me.id, state)
    except DomainError as error:
        return await poll_page(poll_id, error)
    return back_to_poll(poll_id)


@blueprint.post("/polls/<id:poll_id>/answers/<id:answer_id>/show")
async def show_answer(poll_id: int, answer_id: int) -> Any:
    """Approve a pending answer or unhide a hidden one (the poll's owner only)."""
    return await _moderate(poll_id, answer_id, "shown")


@blueprint.post("/polls/<id:poll_id>/answers/<id:answer_id>/hide")
async def hide_answer(poll_id: int, answer_id: int) -> Any:
    """Hide an answer from everyone but the owner (the poll's owner only)."""
    return await _moderate(poll_id, answer_id, "hidden")


@blueprint.post("/polls/<id:poll_id>/premoderated")
async def set_premoderated(poll_id: int) -> Any:
    """Turn approval before showing on or off (the poll's owner; open text and Q&A only)."""
    me = await require_member()
    on = (await request.form).get("premoderated") == "1"
    try:
        await polls.update_poll(poll_id, me.id, PollChanges(premoderated=on))
    except DomainError as error:
        return await poll_page(poll_id, error)
    return back_to_poll(poll_id)
