"""Audience Q&A on the poll page: ask, upvote and take an upvote back, delete your own
question, and the owner's marks (answered, highlighted, hidden), as small forms that work
without JavaScript; with htmx each swaps the voting block and the results in place. And the
list page: the questions sorted by upvotes now ("Sort now") or past the first 100 ("Show
more questions"), for this viewer only."""

from __future__ import annotations

import dataclasses
from typing import Any

from quart import Blueprint, render_template, request

from webapp import clients, polls
from webapp.callers import session_account
from webapp.errors import DomainError, Invalid, NotFound
from webapp.kinds import qa as qa_list
from webapp.kinds.details import QaDetail
from webapp.pages.forms import is_htmx
from webapp.pages.polls import _after_vote, require_member
from webapp.responses import qa
from webapp.tables import Kind

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
    # The toggle says what it asks for (`up=0`: withdraw), so a repeat changes nothing.
    up = up and (await request.form).get("up", "1") != "0"
    try:
        await clients.upvote_question(me, poll_id, question_id, up)
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)


@blueprint.post("/polls/<id:poll_id>/qa/<id:question_id>/upvote")
async def upvote(poll_id: int, question_id: int) -> Any:
    """Upvote a question (again: nothing changes); `up=0` takes the upvote back."""
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


def _position(raw: str | None) -> int:
    """A list position from the query string; anything else is the top."""
    return int(raw) if raw and raw.isdigit() and len(raw) <= 7 else 0


@blueprint.get("/polls/<id:poll_id>/qa/questions")
async def list_questions(poll_id: int) -> Any:
    """The questions from `after`, in the screens' order or (`sort=upvotes`) sorted now;
    htmx gets the results block to swap in place (at the top only)."""
    me = await session_account()
    seen = await polls.seen_by(poll_id, me.id if me else None)
    if seen.poll.kind != Kind.qa:
        raise NotFound("No such list.")
    fully_sorted = request.args.get("sort") == "upvotes"
    after = 0 if is_htmx() else _position(request.args.get("after"))
    found = await qa_list.page(
        poll_id, seen.results.visible, after, qa_list.SHOWN, fully_sorted=fully_sorted
    )
    results = seen.results
    if found.questions is not None and isinstance(results.detail, QaDetail):
        end = after + len(found.questions)
        detail = QaDetail(
            questions=found.questions,
            highlighted_id=results.detail.highlighted_id if after == 0 else None,
            settled=fully_sorted or results.detail.settled,
            more=max(0, (found.total or 0) - end),
        )
        results = dataclasses.replace(results, detail=detail)
    context = {
        "poll": seen.poll,
        "results": results,
        "response": seen.response,
        "qa_after": after,
        "qa_sort": "upvotes" if fully_sorted else None,
    }
    if is_htmx():
        return await render_template("_partials/results.html", **context)
    return await render_template("polls/qa_questions.html", **context)
