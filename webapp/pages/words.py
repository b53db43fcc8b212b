"""A word cloud on the poll page: give an answer, take one back, and (the owner) hide a word.

Plain forms that work without JavaScript (a redirect back to the poll, or the page again
with the reason for a refusal); with htmx the voting block comes back with the results out
of band, as for every other kind (`polls._after_vote`).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from webapp import clients
from webapp.errors import DomainError
from webapp.pages.polls import _after_vote, require_member
from webapp.questions.answers import ANSWER_MAX, KEY_MAX
from webapp.responses.words import hide_word

blueprint = Blueprint("words", __name__)


@blueprint.post("/polls/<id:poll_id>/words")
async def add_word(poll_id: int) -> Any:
    """Give an answer to a word cloud."""
    me = await require_member(allow_guest=True)
    # Cut well past the limit, so that too long is still refused (422) and says so.
    text = (await request.form).get("answer", "")[: 4 * ANSWER_MAX]
    try:
        await clients.add_word(me, poll_id, text)
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)


@blueprint.post("/polls/<id:poll_id>/words/<id:slot>/remove")
async def remove_word(poll_id: int, slot: int) -> Any:
    """Take back one of my answers."""
    me = await require_member(allow_guest=True)
    try:
        await clients.remove_word(me, poll_id, slot)
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)


@blueprint.post("/polls/<id:poll_id>/words/hide")
async def hide(poll_id: int) -> Any:
    """The owner hides a word from every screen, or shows it again."""
    me = await require_member()
    form = await request.form
    try:
        await hide_word(poll_id, me.id, form.get("key", "")[:KEY_MAX], form.get("hidden") == "1")
    except DomainError as error:
        return await _after_vote(poll_id, me, error)
    return await _after_vote(poll_id, me)
