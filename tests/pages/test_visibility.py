"""Results visibility (always, after_vote, after_close, and the presenter's hide toggle) on every
channel: the pages, the JSON API and the live stream (JSON and the HTML variant)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from quart import Quart

from tests.helpers import next_json, until
from tests.pages.helpers import (
    Browser,
    Element,
    api_token,
    bearer,
    next_html,
    option_ids,
    signed_up,
)

RULES = ["always", "after_vote", "after_close"]
VIEWERS = ["anonymous", "member", "voter", "creator"]
# Who sees the counts of an open poll: "member" has not voted, "voter" has.
SEES = {
    "always": {"anonymous": True, "member": True, "voter": True, "creator": True},
    "after_vote": {"anonymous": False, "member": False, "voter": True, "creator": True},
    "after_close": {"anonymous": False, "member": False, "voter": False, "creator": True},
}
CASES = [(rule, viewer, SEES[rule][viewer]) for rule in RULES for viewer in VIEWERS]


@dataclass
class Cast:
    """A poll with its creator, a member who has not voted, a voter and an anonymous visitor;
    the voter has voted for the first option, so the counts are [1, 0, 0]."""

    app: Quart
    poll_id: int
    options: list[int]
    browsers: dict[str, Browser]
    tokens: dict[str, str | None]

    def live_path(self, fmt: str = "json") -> str:
        suffix = "?format=html" if fmt == "html" else ""
        return f"/api/v1/polls/{self.poll_id}/live{suffix}"


async def cast(app: Quart, rule: str) -> Cast:
    creator = await signed_up(app, "Creator")
    member = await signed_up(app, "Member")
    voter = await signed_up(app, "Voter")
    poll_id = await creator.create_poll("Best editor?", visibility=rule)
    options = await option_ids(poll_id)
    assert (await voter.vote(poll_id, options[0])).status == 303
    tokens: dict[str, str | None] = {"anonymous": None}
    for name in ("creator", "member", "voter"):
        tokens[name] = await api_token(app, f"{name}@example.org")
    browsers = {"anonymous": Browser(app), "creator": creator, "member": member, "voter": voter}
    return Cast(app, poll_id, options, browsers, tokens)


# --- what each channel shows -----------------------------------------------------------------


async def page_shows(c: Cast, viewer: str) -> bool:
    page = await c.browsers[viewer].get(f"/polls/{c.poll_id}")
    assert page.status == 200
    return page.results_shown()


async def api_get(c: Cast, path: str, viewer: str) -> dict[str, Any]:
    token = c.tokens[viewer]
    headers = bearer(token) if token else {}
    response = await c.app.test_client().get(path, headers=headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return dict(await response.get_json())


def results_seen(results: dict[str, Any], counts: list[int] | None = None) -> bool:
    """Whether a results body (API or live JSON: the same model) shows the counts; null
    counts and null percentages when not."""
    votes = [option["votes"] for option in results["options"]]
    shares = [option["percent"] for option in results["options"]]
    if results["visible"]:
        assert all(isinstance(v, int) for v in votes)
        assert all(isinstance(share, int) for share in shares)
        assert results["total_votes"] == sum(votes) and isinstance(results["voters"], int)
        if counts is not None:
            assert votes == counts
        return True
    assert votes == [None] * len(votes)
    assert shares == [None] * len(shares), "hidden results leak their percentages"
    assert results["total_votes"] is None and results["voters"] is None
    return False


def poll_seen(poll: dict[str, Any]) -> bool:
    """Whether GET /api/v1/polls/ID shows counts; null counts when it does not."""
    votes = [option["votes"] for option in poll["options"]]
    if poll["results_visible"]:
        assert all(isinstance(v, int) for v in votes) and isinstance(poll["voters"], int)
        return True
    assert votes == [None] * len(votes)
    assert poll["total_votes"] is None and poll["voters"] is None
    return False


async def api_shows(c: Cast, viewer: str) -> bool:
    body = await api_get(c, f"/api/v1/polls/{c.poll_id}/results", viewer)
    assert all("percent" in option for option in body["options"])
    results = results_seen(body)
    poll = poll_seen(await api_get(c, f"/api/v1/polls/{c.poll_id}", viewer))
    assert results == poll, "the results and the poll disagree"
    return results


def live_headers(c: Cast, viewer: str) -> dict[str, str]:
    token = c.tokens[viewer]
    return bearer(token) if token else {}


async def live_json_shows(c: Cast, viewer: str) -> bool:
    client = c.app.test_client()
    async with client.websocket(c.live_path(), headers=live_headers(c, viewer)) as ws:
        return results_seen(await next_json(ws, "results"))


def fragment_shown(results: Element) -> bool:
    bars = results.find("ol", cls="bars")
    hidden = results.find(cls="results-hidden")
    assert (bars is None) != (hidden is None)
    return bars is not None


async def live_html_shows(c: Cast, viewer: str) -> bool:
    """The HTML variant, riding on the browser's cookie session like the real pages."""
    client = c.browsers[viewer].client
    async with client.websocket(c.live_path("html")) as ws:
        return fragment_shown(await next_html(ws, "results"))


def hub_settled(c: Cast) -> bool:
    """Whether the hub holds nothing for the poll any more (its earlier viewers gone, its last
    flush done): a viewer connecting now gets a snapshot loaded afresh, where one connecting
    during the coalescing interval may first get the previous one."""
    return c.poll_id not in c.app.extensions["live"].hub._channels


CHANNELS = {
    "page": page_shows,
    "api": api_shows,
    "live-json": live_json_shows,
    "live-html": live_html_shows,
}


# --- each rule on each channel --------------------------------------------------------------------


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize(("rule", "viewer", "sees"), CASES)
async def test_an_open_poll_shows_results_per_its_rule(
    app: Quart, rule: str, viewer: str, sees: bool, channel: str
) -> None:
    c = await cast(app, rule)
    assert await CHANNELS[channel](c, viewer) is sees


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("viewer", VIEWERS)
async def test_after_close_shows_everyone_the_results_once_voting_closes(
    app: Quart, viewer: str, channel: str
) -> None:
    c = await cast(app, "after_close")
    assert (await c.browsers["creator"].post(f"/polls/{c.poll_id}/close")).status == 303
    assert await CHANNELS[channel](c, viewer) is True


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("rule", RULES)
async def test_the_hide_toggle_hides_results_from_everyone_but_the_creator(
    app: Quart, rule: str, viewer: str, channel: str
) -> None:
    """The creator's own screen keeps the counts (the presenter screen does not: see
    test_present.py); everyone else's loses them, even once the poll has closed."""
    c = await cast(app, rule)
    creator = c.browsers["creator"]
    await creator.post(f"/polls/{c.poll_id}/close")  # even a closed poll stays hidden
    assert (await creator.post(f"/polls/{c.poll_id}/results-hidden", {"hidden": "1"})).status == 303
    assert await CHANNELS[channel](c, viewer) is (viewer == "creator")
    assert (await creator.post(f"/polls/{c.poll_id}/results-hidden", {"hidden": "0"})).status == 303
    if channel.startswith("live"):
        # Here we test the toggle, not the hub's coalescing (see the stale-snapshot test below).
        await until(lambda: hub_settled(c), "the hub let go of the poll")
    # Revealed, the closed poll follows its rule again: once closed, every rule shows them.
    assert await CHANNELS[channel](c, viewer) is True


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("viewer", VIEWERS)
async def test_after_vote_shows_everyone_the_results_once_voting_closes(
    app: Quart, viewer: str, channel: str
) -> None:
    c = await cast(app, "after_vote")
    assert (await c.browsers["creator"].post(f"/polls/{c.poll_id}/close")).status == 303
    if channel.startswith("live"):
        await until(lambda: hub_settled(c), "the hub let go of the poll")
    assert await CHANNELS[channel](c, viewer) is True


async def test_the_hidden_notice_says_why(app: Quart) -> None:
    c = await cast(app, "after_vote")
    page = await c.browsers["member"].get(f"/polls/{c.poll_id}")
    assert page.dom.get("results").find(cls="results-hidden").text == (  # type: ignore[union-attr]
        "Results appear once you have voted."
    )
    c2 = await cast_again(app, "after_close")
    page = await c2.browsers["member"].get(f"/polls/{c2.poll_id}")
    assert page.dom.get("results").find(cls="results-hidden").text == (  # type: ignore[union-attr]
        "Results appear when voting closes."
    )
    page = await c2.browsers["creator"].get(f"/polls/{c2.poll_id}")
    assert page.dom.get("results").find(cls="results-private").text == (  # type: ignore[union-attr]
        "Only you see these counts: the audience sees them when voting closes."
    )
    await c2.browsers["creator"].post(f"/polls/{c2.poll_id}/results-hidden", {"hidden": "1"})
    page = await c2.browsers["member"].get(f"/polls/{c2.poll_id}")
    assert page.dom.get("results").find(cls="results-hidden").text == (  # type: ignore[union-attr]
        "The presenter is keeping the results hidden for now."
    )
    page = await c2.browsers["creator"].get(f"/polls/{c2.poll_id}")
    assert page.results_shown()
    assert page.dom.get("results").find(cls="results-private").text == (  # type: ignore[union-attr]
        "Only you see these counts: the audience and the presenter screen see them once you"
        " reveal them."
    )


async def cast_again(app: Quart, rule: str) -> Cast:
    """A second poll by the same creator, with the same people (already signed up)."""
    creator = Browser(app)
    await creator.sign_in("creator@example.org")
    member = Browser(app)
    await member.sign_in("member@example.org")
    voter = Browser(app)
    await voter.sign_in("voter@example.org")
    poll_id = await creator.create_poll("Best shell?", visibility=rule)
    options = await option_ids(poll_id)
    await voter.vote(poll_id, options[0])
    browsers = {"anonymous": Browser(app), "creator": creator, "member": member, "voter": voter}
    return Cast(app, poll_id, options, browsers, {"anonymous": None})


async def test_the_home_page_does_not_leak_voter_counts_of_hidden_results(app: Quart) -> None:
    c = await cast(app, "after_close")
    page = await Browser(app).get("/")
    item = page.dom.find("li", cls="poll-item")
    assert item is not None
    assert "voter" not in item.text
    creator_home = await c.browsers["creator"].get("/")
    item = creator_home.dom.find("li", cls="poll-item")
    assert item is not None and "1 voter" in item.text


# --- after_vote: the counts appear once the viewer has voted --------------------------------------


async def test_after_vote_the_htmx_vote_response_reveals_the_results(app: Quart) -> None:
    c = await cast(app, "after_vote")
    member = c.browsers["member"]
    assert not (await member.get(f"/polls/{c.poll_id}")).results_shown()
    page = await member.vote(c.poll_id, c.options[1], htmx=True)
    assert page.results_shown()
    results = page.dom.get("results")
    assert results.attrs.get("hx-swap-oob") == "true"
    figures = [f.text for f in results.find_all(cls="bar-figures")]
    assert figures == ["1 vote · 50%", "1 vote · 50%", "0 votes · 0%"]
    assert (await member.get(f"/polls/{c.poll_id}")).results_shown()
    assert await api_shows(c, "member") is True


async def test_after_vote_the_api_vote_response_reveals_the_results(app: Quart) -> None:
    c = await cast(app, "after_vote")
    token = c.tokens["member"]
    assert token
    response = await app.test_client().post(
        f"/api/v1/polls/{c.poll_id}/votes", json={"option_id": c.options[2]}, headers=bearer(token)
    )
    assert response.status_code == 201
    assert results_seen(await response.get_json(), [1, 0, 1])


async def test_after_close_a_vote_does_not_reveal_the_results(app: Quart) -> None:
    c = await cast(app, "after_close")
    page = await c.browsers["member"].vote(c.poll_id, c.options[1], htmx=True)
    assert not page.results_shown()
    token = c.tokens["member"]
    assert token
    response = await app.test_client().post(
        f"/api/v1/polls/{c.poll_id}/votes", json={"option_id": c.options[2]}, headers=bearer(token)
    )
    assert response.status_code == 201
    assert not results_seen(await response.get_json())


async def test_after_vote_the_live_stream_shows_counts_once_the_viewer_votes(app: Quart) -> None:
    c = await cast(app, "after_vote")
    member_token, voter_token = c.tokens["member"], c.tokens["voter"]
    assert member_token and voter_token
    member_ws = app.test_client().websocket(c.live_path(), headers=bearer(member_token))
    anonymous_ws = app.test_client().websocket(c.live_path())
    async with member_ws as member, anonymous_ws as anonymous:
        assert not results_seen(await next_json(member, "results"))
        assert not results_seen(await next_json(anonymous, "results"))
        response = await app.test_client().post(
            f"/api/v1/polls/{c.poll_id}/votes",
            json={"option_id": c.options[1]},
            headers=bearer(member_token),
        )
        assert response.status_code == 201
        assert results_seen(await next_json(member, "results"), [1, 1, 0])
        assert not results_seen(await next_json(anonymous, "results"))


async def test_after_vote_the_html_stream_shows_bars_once_the_viewer_votes_on_the_page(
    app: Quart,
) -> None:
    c = await cast(app, "after_vote")
    member = c.browsers["member"]
    async with member.client.websocket(c.live_path("html")) as ws:
        assert not fragment_shown(await next_html(ws, "results"))
        await member.vote(c.poll_id, c.options[2], htmx=True)
        results = await next_html(ws, "results")
        assert fragment_shown(results)
        assert results.attrs.get("hx-swap-oob") == "true"
        figures = [f.text for f in results.find_all(cls="bar-figures")]
        assert figures == ["1 vote · 50%", "0 votes · 0%", "1 vote · 50%"]


@pytest.mark.parametrize("fmt", ["json", "html"])
async def test_after_vote_a_voter_joining_a_poll_someone_already_watches_sees_the_counts(
    app: Quart, fmt: str
) -> None:
    """The hub's cached snapshot only knows the votes of the viewers it was built for: a voter
    who joins later must not be served it as if they had not voted."""
    c = await cast(app, "after_vote")
    member, voter = c.browsers["member"], c.browsers["voter"]
    async with member.client.websocket(c.live_path(fmt)) as watching:
        if fmt == "json":
            assert not results_seen(await next_json(watching, "results"))
        else:
            assert not fragment_shown(await next_html(watching, "results"))
        async with voter.client.websocket(c.live_path(fmt)) as joining:
            if fmt == "json":
                assert results_seen(await next_json(joining, "results"), [1, 0, 0])
            else:
                assert fragment_shown(await next_html(joining, "results"))


# --- the toggle and closing, live -----------------------------------------------------------------


async def test_the_hide_toggle_is_pushed_to_watching_viewers_and_reveal_undoes_it(
    app: Quart,
) -> None:
    c = await cast(app, "always")
    creator_token = c.tokens["creator"]
    assert creator_token
    creator = c.browsers["creator"]
    creator_ws = app.test_client().websocket(c.live_path(), headers=bearer(creator_token))
    anonymous_ws = app.test_client().websocket(c.live_path("html"))
    async with creator_ws as watching, anonymous_ws as anonymous:
        assert results_seen(await next_json(watching, "results"), [1, 0, 0])
        assert fragment_shown(await next_html(anonymous, "results"))

        await creator.post(f"/polls/{c.poll_id}/results-hidden", {"hidden": "1"})
        poll = await next_json(watching, "poll")
        assert poll["results_hidden"] is True
        # The creator keeps the counts, told that the audience does not see them.
        mine = await next_json(watching, "results")
        assert results_seen(mine, [1, 0, 0]) and mine["audience_sees"] is False
        hidden = await next_html(anonymous, "results")
        assert not fragment_shown(hidden)
        assert hidden.find(cls="results-hidden").text == (  # type: ignore[union-attr]
            "The presenter is keeping the results hidden for now."
        )

        await creator.post(f"/polls/{c.poll_id}/results-hidden", {"hidden": "0"})
        mine = await next_json(watching, "results")
        assert results_seen(mine, [1, 0, 0]) and mine["audience_sees"] is True
        assert fragment_shown(await next_html(anonymous, "results"))


async def test_closing_an_after_close_poll_pushes_the_results_to_viewers(app: Quart) -> None:
    c = await cast(app, "after_close")
    member_token = c.tokens["member"]
    assert member_token
    async with app.test_client().websocket(c.live_path(), headers=bearer(member_token)) as ws:
        assert not results_seen(await next_json(ws, "results"))
        await c.browsers["creator"].post(f"/polls/{c.poll_id}/close")
        results = await next_json(ws, "results")
        assert results["closed"] is True
        assert results_seen(results, [1, 0, 0])


async def test_a_viewer_connecting_right_after_a_change_first_gets_the_current_results(
    app: Quart,
) -> None:
    """The snapshot sent on connect is the poll as it is now, not the hub's previous one."""
    c = await cast(app, "always")
    creator = c.browsers["creator"]
    async with app.test_client().websocket(c.live_path()) as first:
        assert results_seen(await next_json(first, "results"))
        await creator.post(f"/polls/{c.poll_id}/results-hidden", {"hidden": "1"})
        assert not results_seen(await next_json(first, "results"))
        await creator.post(f"/polls/{c.poll_id}/results-hidden", {"hidden": "0"})
        async with app.test_client().websocket(c.live_path()) as second:
            assert results_seen(await next_json(second, "results"), [1, 0, 0])
