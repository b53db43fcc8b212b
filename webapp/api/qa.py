"""Audience Q&A: ask, delete your question, upvote, and the owner's marks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import Field
from quart import Blueprint
from quart_schema import validate_request, validate_response

from webapp import clients
from webapp.accounts import Account
from webapp.api.auth import login_required
from webapp.api.contract import idempotent, problems
from webapp.api.responses import answer, no_content
from webapp.idempotency import Outcome
from webapp.inputs.fields import StrictModel
from webapp.kinds.qa import QaMine
from webapp.responses import Change, qa
from webapp.responses.qa import QaQuestion
from webapp.serialize import to_json

blueprint = Blueprint("qa", __name__)


class QuestionAsked(StrictModel):
    """A question (at most 1,000 characters once normalised, 20 lines); `anonymous` only
    where the poll allows it."""

    text: Annotated[str, Field(min_length=1, max_length=4000)]
    anonymous: bool = False


class QuestionMarks(StrictModel):
    """The owner's marks, each optional: `state` shown (approve, unhide) or hidden;
    `answered`; `highlighted` (the one being answered: at most one per poll)."""

    state: Literal["shown", "hidden"] | None = None
    answered: bool | None = None
    highlighted: bool | None = None


class Upvote(StrictModel):
    """No fields: send `{}` (a PUT's body is JSON, as every body of the API)."""


def _asked(poll_id: int) -> Callable[[Change], Awaitable[Outcome]]:
    async def reply(change: Change) -> Outcome:
        assert change.made is not None, "asking makes a question"
        return Outcome(201, to_json(await qa.question(poll_id, change.made)))

    return reply


@blueprint.post("/polls/<id:poll_id>/qa")
@problems(403, 409, 422, 429)
@idempotent
@login_required
@validate_request(QuestionAsked)
@validate_response(QaQuestion, 201)
async def post_question(poll_id: int, data: QuestionAsked, account: Account) -> Any:
    """Ask a question (201; `pending` while a premoderated poll's owner has not shown it)."""
    return await answer(
        account,
        poll_id,
        (data.text, data.anonymous),
        _asked(poll_id),
        lambda keyed: clients.ask_question(account, poll_id, data.text, data.anonymous, keyed),
        QaQuestion,
    )


@blueprint.delete("/polls/<id:poll_id>/qa/<id:question_id>")
@problems(403, 409, 429)
@idempotent
@login_required
async def delete_question(poll_id: int, question_id: int, account: Account) -> Any:
    """Delete your own question, with its upvotes (204)."""
    return await answer(
        account,
        poll_id,
        (question_id,),
        no_content,
        lambda keyed: clients.delete_question(account, poll_id, question_id, keyed),
    )


@blueprint.put("/polls/<id:poll_id>/qa/<id:question_id>/upvote")
@problems(403, 409, 429)
@idempotent
@login_required
@validate_request(Upvote)
async def put_upvote(poll_id: int, question_id: int, data: Upvote, account: Account) -> Any:
    """Upvote a question (204, also when you had already): not your own, nor an answered
    one (409); a hidden one is not there (404)."""
    return await answer(
        account,
        poll_id,
        (question_id,),
        no_content,
        lambda keyed: clients.upvote_question(account, poll_id, question_id, True, keyed),
    )


@blueprint.delete("/polls/<id:poll_id>/qa/<id:question_id>/upvote")
@problems(403, 409, 429)
@idempotent
@login_required
async def delete_upvote(poll_id: int, question_id: int, account: Account) -> Any:
    """Take your upvote back (204, also when you had none)."""
    return await answer(
        account,
        poll_id,
        (question_id,),
        no_content,
        lambda keyed: clients.upvote_question(account, poll_id, question_id, False, keyed),
    )


@blueprint.patch("/polls/<id:poll_id>/qa/<id:question_id>")
@problems(403, 409, 422)
@login_required
@validate_request(QuestionMarks)
@validate_response(QaQuestion)
async def patch_question(
    poll_id: int, question_id: int, data: QuestionMarks, account: Account
) -> QaQuestion:
    """Mark a question answered, highlight it, hide or show it (the poll's owner only); the
    question as it now is."""
    return await qa.marked(account.id, poll_id, question_id, **data.model_dump())


@blueprint.get("/polls/<id:poll_id>/qa/mine")
@problems(409)
@login_required
@validate_response(QaMine)
async def get_my_questions(poll_id: int, account: Account) -> QaMine:
    """The ids of the questions you upvoted and of those you asked (the shared results do
    not say who upvoted what)."""
    return await qa.my_part(poll_id, account.id)
