"""The integrity report against a scripted attack: every figure matches what was done."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from quart import Quart

from tests.pages.helpers import Browser, api_token, bearer, option_ids, signed_up
from webapp.tables import Ballot, Vote

ATTACKER = "203.0.113.9"
HONEST = "198.51.100.1"


async def report_json(app: Quart, poll_id: int, token: str) -> dict[str, Any]:
    response = await app.test_client().get(
        f"/api/v1/polls/{poll_id}/integrity", headers=bearer(token)
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    return dict(await response.get_json())


async def report_until(
    app: Quart, poll_id: int, token: str, refused_total: int, within: float = 10.0
) -> dict[str, Any]:
    """The report once it counts this many refusals (they are written about once a second)."""
    deadline = time.monotonic() + within
    while True:
        report = await report_json(app, poll_id, token)
        if report["refused_total"] >= refused_total or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.1)


@pytest.mark.limits(limit_vote_account="2/minute")
async def test_the_report_matches_a_scripted_attack(limited: Quart) -> None:
    owner = await signed_up(limited, "Owner")
    owner_token = await api_token(limited, "owner@example.org")
    poll_id = await owner.create_poll(guests=True, network_cap="3")
    options = await option_ids(poll_id)

    # One honest account votes, then taps twice more than its limit allows.
    honest = await signed_up(limited, "Honest")
    honest.address = HONEST
    statuses = [(await honest.vote(poll_id, options[n % 2])).status for n in range(4)]
    assert statuses == [303, 303, 429, 429]

    # The attacker starts each time with an empty cookie jar, from one address.
    attempts = []
    bots = [Browser(limited, ATTACKER) for _ in range(5)]
    for n, bot in enumerate(bots):
        await bot.join_as_guest(f"Bot {n}", poll_id)
        attempts.append((await bot.vote(poll_id, options[2])).status)
    assert attempts == [303, 303, 303, 429, 429]
    # One bot that voted keeps its cookies but re-joins under a new name.
    bot = bots[0]
    await bot.sign_out()
    await bot.join_as_guest("Not a bot", poll_id)
    # A new address, same browser: the cap would allow it, the device rule does not.
    bot.address = "203.0.113.200"
    assert (await bot.vote(poll_id, options[2])).status == 409
    # And it guesses an invite code.
    assert (await bot.redeem_invite(poll_id, "GUESS-GUESS")).status == 403

    report = await report_until(limited, poll_id, owner_token, refused_total=6)
    assert report["ballots"] == {"accounts": 1, "guests": 3, "codes": 0, "total": 4}
    assert report["refused"] == {
        "rate_limit": 2,
        "device": 1,
        "network": 2,
        "code": 1,
        "eligibility": 0,
    }
    assert report["refused_total"] == 6
    top = report["top_networks"]
    assert [(n["ballots"], n["guests"]) for n in top] == [(3, 3), (1, 0)]
    assert all(ATTACKER not in n["network"] and HONEST not in n["network"] for n in top)
    assert sum(m["votes"] for m in report["votes_per_minute"]) == await Vote.count().where(
        Vote.poll == poll_id
    )
    stored = await Ballot.select(Ballot.network).where(Ballot.poll == poll_id)
    assert {row["network"] for row in stored} == {n["network"] for n in top}

    # The page shows the same figures, and refreshes them on its own.
    page = await owner.get(f"/polls/{poll_id}/integrity")
    assert page.status == 200
    assert page.dom.find(cls="ballots-guests").text == "3"  # type: ignore[union-attr]
    assert page.dom.find(cls="refused-network").text == "2"  # type: ignore[union-attr]
    assert page.dom.find(cls="refused-device").text == "1"  # type: ignore[union-attr]
    poller = page.dom.find("div", hx_trigger="every 5s")
    assert poller is not None
    fragment = await owner.get(f"/polls/{poll_id}/integrity", htmx=True)
    assert fragment.dom.by_id("integrity") is not None and "<html" not in fragment.text
    assert ATTACKER not in page.text


async def test_only_the_creator_sees_the_report(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll()
    other = await signed_up(app, "Other")
    assert (await other.get(f"/polls/{poll_id}/integrity")).status == 403
    token = await api_token(app, "other@example.org")
    response = await app.test_client().get(
        f"/api/v1/polls/{poll_id}/integrity", headers=bearer(token)
    )
    assert response.status_code == 403
    anonymous = await app.test_client().get(f"/api/v1/polls/{poll_id}/integrity")
    assert anonymous.status_code == 401
