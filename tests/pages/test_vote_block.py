"""The voting block alone: what a page fetches when the poll opens or closes live."""

from __future__ import annotations

from quart import Quart

from tests.pages.helpers import Browser, option_ids, signed_up


async def test_the_vote_block_is_a_fragment_with_this_viewers_choice(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await owner.create_poll("Lunch?", ["Soup", "Salad"])
    voter = await signed_up(app, "voter")
    await voter.vote(poll_id, (await option_ids(poll_id))[1])

    page = await voter.get(f"/polls/{poll_id}/vote-block")

    assert page.status == 200
    assert not page.is_full_page
    assert page.chosen() == ["Salad"]


async def test_after_closing_the_vote_block_has_its_buttons_disabled(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await owner.create_poll("Lunch?", ["Soup", "Salad"])
    voter = await signed_up(app, "voter")
    assert (await owner.post(f"/polls/{poll_id}/close", {})).status == 303

    page = await voter.get(f"/polls/{poll_id}/vote-block")

    buttons = page.dom.get("vote").find_all("button", cls="choice")
    assert buttons and all("disabled" in button.attrs for button in buttons)
    assert "Voting is closed." in page.dom.get("vote").text


async def test_the_vote_block_of_someone_elses_draft_is_not_found(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    draft = await owner.create_poll("Secret?", ["A", "B"], action="draft")

    page = await Browser(app).get(f"/polls/{draft}/vote-block")

    assert page.status == 404
