"""Idempotency-Key on the page's vote and withdraw taps: a retried tap applies nothing again.

The page's script sends the header on its htmx requests (one fresh key per tap, the same key
for that tap's retries); a form without JavaScript can send the key as the hidden field
`idempotency_key`. A retry renders the current state with the first attempt's outcome.
"""

from __future__ import annotations

import asyncio

from quart import Quart

from tests.api.test_idempotency import holding
from tests.helpers import until
from tests.pages.helpers import Browser, Page, counts, option_ids, signed_up, user_id, votes_in
from webapp import idempotency

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


async def tap(
    browser: Browser, poll_id: int, option_id: int, key: str | None, *, htmx: bool = True
) -> Page:
    headers = {HEADER: key} if key is not None else {}
    return await browser.post(
        f"/polls/{poll_id}/vote", {"option_id": str(option_id)}, htmx=htmx, headers=headers
    )


def alert(page: Page) -> str | None:
    found = page.dom.get("vote").find(cls="alert")
    return found.text if found is not None else None


async def test_a_retried_tap_does_not_take_a_multiple_choice_back(app: Quart) -> None:
    ada = await signed_up(app, "Ada")
    poll_id = await ada.create_poll(multiple=True)
    vim, emacs, _ = await option_ids(poll_id)
    first = await tap(ada, poll_id, vim, "tap-1")
    assert first.status == 200 and first.chosen() == ["vim"]
    assert REPLAYED not in first.headers

    retry = await tap(ada, poll_id, vim, "tap-1")

    assert retry.status == 200 and retry.headers[REPLAYED] == "true"
    assert retry.chosen() == ["vim"], "the retry did not toggle the choice off"
    assert retry.dom.by_id("results") is not None
    assert await counts(poll_id) == [1, 0, 0]
    # A new tap (a new key) still toggles, as without keys.
    assert (await tap(ada, poll_id, vim, "tap-2")).chosen() == []
    assert (await tap(ada, poll_id, vim, None)).chosen() == ["vim"]


async def test_a_retry_shows_the_current_state_not_the_state_of_the_first_tap(
    app: Quart,
) -> None:
    ada = await signed_up(app, "Ada")
    poll_id = await ada.create_poll(multiple=True)
    vim, emacs, _ = await option_ids(poll_id)
    await tap(ada, poll_id, vim, "tap-1")
    await tap(ada, poll_id, emacs, "tap-2")

    retry = await tap(ada, poll_id, vim, "tap-1")

    assert retry.headers[REPLAYED] == "true"
    assert retry.chosen() == ["vim", "emacs"]


async def test_a_retried_withdrawal_does_not_withdraw_the_votes_cast_since(app: Quart) -> None:
    ada = await signed_up(app, "Ada")
    poll_id = await ada.create_poll()
    vim, emacs, _ = await option_ids(poll_id)
    await tap(ada, poll_id, vim, "tap-1")
    withdraw = f"/polls/{poll_id}/withdraw"
    assert (await ada.post(withdraw, htmx=True, headers={HEADER: "w-1"})).chosen() == []
    await tap(ada, poll_id, emacs, "tap-2")

    retry = await ada.post(withdraw, htmx=True, headers={HEADER: "w-1"})

    assert retry.headers[REPLAYED] == "true"
    assert retry.chosen() == ["emacs"]
    assert await counts(poll_id) == [0, 1, 0]


async def test_a_tap_retried_while_its_first_attempt_runs_is_a_409_not_swapped(
    app: Quart,
) -> None:
    ada = await signed_up(app, "Ada")
    poll_id = await ada.create_poll(multiple=True)
    vim = (await option_ids(poll_id))[0]
    ada_id = await user_id("ada@example.org")
    async with holding(poll_id):
        first = asyncio.create_task(tap(ada, poll_id, vim, "slow"))
        await until(lambda: (ada_id, "slow") in idempotency.in_flight, "the first is in flight")
        during = await tap(ada, poll_id, vim, "slow")
        assert during.status == 409 and during.headers["Retry-After"] == "1"
        assert "still being processed" in (alert(during) or "")
    assert (await first).chosen() == ["vim"]
    assert (await tap(ada, poll_id, vim, "slow")).chosen() == ["vim"]
    assert await counts(poll_id) == [1, 0, 0]


async def test_a_form_without_javascript_can_send_the_key_as_a_hidden_field(app: Quart) -> None:
    ada = await signed_up(app, "Ada")
    poll_id = await ada.create_poll(multiple=True)
    vim = (await option_ids(poll_id))[0]
    fields = {"option_id": str(vim), "idempotency_key": "form-1"}
    first = await ada.post(f"/polls/{poll_id}/vote", fields)
    assert first.status == 303

    resubmitted = await ada.post(f"/polls/{poll_id}/vote", fields)

    assert resubmitted.status == 303 and resubmitted.headers[REPLAYED] == "true"
    assert (await ada.get(f"/polls/{poll_id}")).chosen() == ["vim"]
    assert len(await votes_in(poll_id)) == 1


async def test_a_retried_refusal_shows_the_first_error_and_changes_nothing(app: Quart) -> None:
    ada = await signed_up(app, "Ada")
    poll_id = await ada.create_poll()
    vim = (await option_ids(poll_id))[0]
    assert (await ada.post(f"/polls/{poll_id}/close")).status == 303
    refused = await tap(ada, poll_id, vim, "late", htmx=False)
    assert refused.status == 409 and "This poll is closed." in refused.text
    htmx_refused = await tap(ada, poll_id, vim, "late-htmx")
    assert alert(htmx_refused) == "This poll is closed."
    assert (await ada.post(f"/polls/{poll_id}/reopen")).status == 303

    again = await tap(ada, poll_id, vim, "late", htmx=False)
    htmx_again = await tap(ada, poll_id, vim, "late-htmx")

    assert again.status == 409 and again.headers[REPLAYED] == "true"
    assert "This poll is closed." in again.text
    assert alert(htmx_again) == "This poll is closed." and htmx_again.chosen() == []
    assert await votes_in(poll_id) == []


async def test_the_same_key_for_another_option_is_refused_and_not_applied(app: Quart) -> None:
    ada = await signed_up(app, "Ada")
    poll_id = await ada.create_poll(multiple=True)
    vim, emacs, _ = await option_ids(poll_id)
    await tap(ada, poll_id, vim, "k")

    other = await tap(ada, poll_id, emacs, "k", htmx=False)
    other_htmx = await tap(ada, poll_id, emacs, "k")

    assert other.status == 422 and HEADER in other.text
    assert HEADER in (alert(other_htmx) or "") and other_htmx.chosen() == ["vim"]
    assert await counts(poll_id) == [1, 0, 0]


async def test_keys_belong_to_their_user_on_the_pages_too(app: Quart) -> None:
    ada, bob = await signed_up(app, "Ada"), await signed_up(app, "Bob")
    poll_id = await ada.create_poll()
    vim = (await option_ids(poll_id))[0]
    assert (await tap(ada, poll_id, vim, "same")).chosen() == ["vim"]

    bobs = await tap(bob, poll_id, vim, "same")

    assert REPLAYED not in bobs.headers and bobs.chosen() == ["vim"]
    assert await counts(poll_id) == [2, 0, 0]


async def test_a_malformed_key_on_a_tap_is_a_400_naming_the_header(app: Quart) -> None:
    ada = await signed_up(app, "Ada")
    poll_id = await ada.create_poll()
    vim = (await option_ids(poll_id))[0]
    for key in ("a b", "x" * 256, '"open'):
        page = await tap(ada, poll_id, vim, key, htmx=False)
        assert page.status == 400 and HEADER in page.text, key
    field = {"option_id": str(vim), "idempotency_key": "x" * 256}
    assert (await ada.post(f"/polls/{poll_id}/vote", field)).status == 400
    assert await votes_in(poll_id) == []


async def test_each_rendered_vote_form_carries_a_fresh_key_so_a_resent_form_counts_once(
    app: Quart,
) -> None:
    ada = await signed_up(app, "Ada")
    poll_id = await ada.create_poll(multiple=True)
    page = await ada.get(f"/polls/{poll_id}")
    forms = page.dom.find_all("form", **{"data-tap": "vote"})
    keys = [form.find("input", name="idempotency_key").attrs["value"] for form in forms]  # type: ignore[union-attr]
    assert len(keys) == 3 and len(set(keys)) == 3
    again = await ada.get(f"/polls/{poll_id}")
    assert not set(keys) & {
        form.find("input", name="idempotency_key").attrs["value"]  # type: ignore[union-attr]
        for form in again.dom.find_all("form", **{"data-tap": "vote"})
    }
    fields = {
        field.attrs["name"]: field.attrs["value"]
        for field in forms[0].find_all("input")
        if field.attrs.get("name") != "csrf_token"
    }
    await ada.post(f"/polls/{poll_id}/vote", fields)
    resent = await ada.post(f"/polls/{poll_id}/vote", fields)  # a toggle, were it new
    assert resent.headers[REPLAYED] == "true"
    assert (await ada.get(f"/polls/{poll_id}")).chosen() == ["vim"]
