"""Audience Q&A on the poll page: ask, upvote and take an upvote back, delete your own
question, and the owner's marks (answered, highlighted, hidden), as small forms that work
without JavaScript; with htmx each swaps the voting block and the results in place."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from webapp import clients
from webapp.errors import DomainError, Invalid
from webapp.pages.polls import _after_vote, require_member
from webapp.responses import qa

blueprint = Blueprint("qa", __name__)

TEXT_FORM_MAX = 4000  # characters read from the form (the question itself: 1,000)
MARKS: dict[str, dict[str, Any]] = {
    "answered": {"answered": True, "highlighted": False},
    "unanswered": {"answered": False},
    "highlight": {"highlighted": True},
    "unhighlight": {"highlighted": False},
    "hide": {"state": "hidden"},
    "show": {"state": "shown"},
}


@blueprint.post("/polls/<id:poll_id>/qa")
async def ask(poll_id: int) -> Any:
    """Ask a question (under your name, or anonymously where the poll allows it)."""
    me = await require_member(allow_guest=True)
    form = await request.form
    text = form.get("text", "")[:TEXT_FORM_MAX]
    try:
        await clients.ask_question(me, poll_id, text, form.get("anonymous") == "1")
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)


async def _upvote(poll_id: int, question_id: int, up: bool) -> Any:
    me = await require_member(allow_guest=True)
    try:
        await clients.upvote_question(me, poll_id, question_id, up)
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)


@blueprint.post("/polls/<id:poll_id>/qa/<id:question_id>/upvote")
async def upvote(poll_id: int, question_id: int) -> Any:
    """Upvote a question (again: nothing changes)."""
    return await _upvote(poll_id, question_id, True)


@blueprint.post("/polls/<id:poll_id>/qa/<id:question_id>/upvote/withdraw")
async def withdraw_upvote(poll_id: int, question_id: int) -> Any:
    """Take my upvote back."""
    return await _upvote(poll_id, question_id, False)


@blueprint.post("/polls/<id:poll_id>/qa/<id:question_id>/delete")
async def delete(poll_id: int, question_id: int) -> Any:
    """Delete my own question."""
    me = await require_member(allow_guest=True)
    try:
        await clients.delete_question(me, poll_id, question_id)
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)


@blueprint.post("/polls/<id:poll_id>/qa/<id:question_id>/mark")
async def mark(poll_id: int, question_id: int) -> Any:
    """The owner's mark on a question: answered, highlighted (on the big screen), hidden."""
    me = await require_member()
    marks = MARKS.get((await request.form).get("mark", ""))
    try:
        if marks is None:
            raise Invalid("mark", f"mark is one of {', '.join(MARKS)}.")
        await qa.mark(me.id, poll_id, question_id, **marks)
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)
