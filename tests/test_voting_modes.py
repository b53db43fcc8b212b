"""Who may vote, per poll: accounts only, guests (one ballot per browser, a cap per network),
or holders of one-time invite codes. Each ballot is a row the database keeps unique."""

from __future__ import annotations

import csv
import io
from typing import Any

from quart import Quart

from tests.helpers import stored_voters
from tests.pages.helpers import Browser, api_token, bearer, option_ids, signed_up
from webapp import integrity, invites, refusals
from webapp.clients import DEVICE_COOKIE
from webapp.tables import Ballot, InviteCode, Poll, Vote


async def ballots(poll_id: int) -> list[dict[str, Any]]:
    return list(
        await Ballot.select(Ballot.user, Ballot.kind, Ballot.network, Ballot.device)
        .where(Ballot.poll == poll_id)
        .order_by(Ballot.id)
    )


async def vote_rows(poll_id: int) -> int:
    return int(await Vote.count().where(Vote.poll == poll_id))


# --- guests: one ballot per browser -----------------------------------------------------------


async def test_a_guest_who_signs_out_and_rejoins_under_another_name_cannot_vote_again(
    app: Quart,
) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(guests=True)
    options = await option_ids(poll_id)
    browser = Browser(app)
    assert (await browser.join_as_guest("Gus", poll_id)).status == 303
    assert browser.cookie(DEVICE_COOKIE), "joining as a guest gives the browser a device id"
    assert (await browser.vote(poll_id, options[0])).status == 303
    assert (await browser.sign_out()).status == 303
    assert browser.cookie(DEVICE_COOKIE), "the device id outlives the session"
    assert (await browser.join_as_guest("Totally someone else", poll_id)).status == 303
    page = await browser.vote(poll_id, options[1])
    assert page.status == 409
    assert "already voted in this poll" in page.text
    assert len(await ballots(poll_id)) == 1 and await stored_voters(poll_id) == 1
    assert await vote_rows(poll_id) == 1
    # A guest ballot in another poll from the same browser is fine.
    other = await owner.create_poll("Another?", guests=True)
    assert (await browser.vote(other, (await option_ids(other))[0])).status == 303


async def test_a_guest_changes_their_own_vote_without_a_second_ballot(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(guests=True)
    options = await option_ids(poll_id)
    guest = Browser(app)
    await guest.join_as_guest("Gus", poll_id)
    for option in (options[0], options[1], options[2]):
        assert (await guest.vote(poll_id, option)).status == 303
    (ballot,) = await ballots(poll_id)
    assert ballot["kind"] == "guest" and ballot["device"]
    assert await vote_rows(poll_id) == 1


async def test_withdrawing_every_vote_closes_the_ballot(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(multiple=True)
    options = await option_ids(poll_id)
    voter = await signed_up(app, "Voter")
    await voter.vote(poll_id, options[0])
    await voter.vote(poll_id, options[1])
    assert len(await ballots(poll_id)) == 1
    await voter.vote(poll_id, options[0])  # a second tap takes it back
    assert len(await ballots(poll_id)) == 1
    await voter.post(f"/polls/{poll_id}/withdraw")
    assert await ballots(poll_id) == [] and await stored_voters(poll_id) == 0


# --- guests: a cap per network ----------------------------------------------------------------


async def test_the_network_cap_refuses_the_sixth_new_guest_ballot_from_one_address(
    app: Quart,
) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(guests=True, network_cap="5")
    options = await option_ids(poll_id)
    statuses = []
    for n in range(6):
        guest = Browser(app, address="203.0.113.50")  # a fresh browser each time
        await guest.join_as_guest(f"Guest {n}", poll_id)
        page = await guest.vote(poll_id, options[n % 3])
        statuses.append(page.status)
        if page.status == 429:
            assert int(page.headers["Retry-After"]) > 0
            assert "guest votes from your network" in page.text
    assert statuses == [303] * 5 + [429]
    assert await stored_voters(poll_id) == 5
    # Another network, and an account on the same one, still vote.
    elsewhere = Browser(app, address="198.51.100.7")
    await elsewhere.join_as_guest("Far away", poll_id)
    assert (await elsewhere.vote(poll_id, options[0])).status == 303
    member = await signed_up(app, "Member")
    member.address = "203.0.113.50"
    assert (await member.vote(poll_id, options[0])).status == 303
    assert await stored_voters(poll_id) == 7


async def test_an_ipv6_network_is_its_64_prefix(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(guests=True, network_cap="1")
    options = await option_ids(poll_id)
    first = Browser(app, address="2001:db8:1:2::10")
    await first.join_as_guest("One", poll_id)
    assert (await first.vote(poll_id, options[0])).status == 303
    same_64 = Browser(app, address="2001:db8:1:2:ffff::1")
    await same_64.join_as_guest("Two", poll_id)
    assert (await same_64.vote(poll_id, options[0])).status == 429
    other_64 = Browser(app, address="2001:db8:1:3::10")
    await other_64.join_as_guest("Three", poll_id)
    assert (await other_64.vote(poll_id, options[0])).status == 303


async def test_a_cap_of_zero_lifts_it_and_the_creator_can_change_it(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    token = await api_token(app, "owner@example.org")
    client = app.test_client()
    body = {"question": "Q?", "options": ["a", "b"], "voting": "guests", "is_published": True}
    response = await client.post("/api/v1/polls", json=body, headers=bearer(token))
    created = await response.get_json()
    assert created["guest_network_cap"] == 100, "the deployment default"
    assert created["voting"] == "guests" and created["allows_guests"] is True
    poll_id = created["id"]
    response = await client.patch(
        f"/api/v1/polls/{poll_id}", json={"guest_network_cap": 0}, headers=bearer(token)
    )
    assert (await response.get_json())["guest_network_cap"] == 0
    options = await option_ids(poll_id)
    for n in range(3):
        guest = Browser(app, address="203.0.113.77")
        await guest.join_as_guest(f"G{n}", poll_id)
        assert (await guest.vote(poll_id, options[0])).status == 303
    assert owner  # the creator's browser was only needed to sign up


async def test_the_api_refuses_a_voting_mode_that_disagrees_with_allows_guests(app: Quart) -> None:
    await signed_up(app, "Owner")
    token = await api_token(app, "owner@example.org")
    body = {"question": "Q?", "options": ["a", "b"], "voting": "accounts", "allows_guests": True}
    response = await app.test_client().post("/api/v1/polls", json=body, headers=bearer(token))
    assert response.status_code == 422
    assert await Poll.count() == 0


# --- invite codes -----------------------------------------------------------------------------


async def invite_poll(app: Quart) -> tuple[Browser, int, list[int], str]:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(voting="invite_codes")
    token = await api_token(app, "owner@example.org")
    return owner, poll_id, await option_ids(poll_id), token


async def test_the_creator_issues_codes_and_downloads_them_as_csv(app: Quart) -> None:
    owner, poll_id, _, token = await invite_poll(app)
    client = app.test_client()
    response = await client.post(
        f"/api/v1/polls/{poll_id}/invite-codes", json={"count": 3}, headers=bearer(token)
    )
    assert response.status_code == 201
    codes = (await response.get_json())["codes"]
    assert len(codes) == 3 and all(len(code) == 10 for code in codes)
    assert (await owner.post(f"/polls/{poll_id}/invite-codes", {"count": "2"})).status == 303
    download = await owner.client.get(f"/polls/{poll_id}/invite-codes.csv")
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await download.get_data(as_text=True))))
    assert len(rows) == 5
    assert rows[0]["code"] == invites.display(codes[0]) and rows[0]["used"] == "no"
    assert rows[0]["link"].endswith(f"/polls/{poll_id}?code={invites.display(codes[0])}")
    listed = await client.get(f"/api/v1/polls/{poll_id}/invite-codes", headers=bearer(token))
    assert [item["code"] for item in (await listed.get_json())["items"]][:3] == codes


async def test_only_the_creator_manages_invite_codes(app: Quart) -> None:
    _, poll_id, _, _ = await invite_poll(app)
    other = await signed_up(app, "Other")
    token = await api_token(app, "other@example.org")
    client = app.test_client()
    response = await client.post(
        f"/api/v1/polls/{poll_id}/invite-codes", json={"count": 3}, headers=bearer(token)
    )
    assert response.status_code == 403
    assert (await other.client.get(f"/polls/{poll_id}/invite-codes.csv")).status_code == 403
    assert await InviteCode.count() == 0


async def test_a_code_casts_and_changes_one_ballot_and_cannot_be_redeemed_twice(
    app: Quart,
) -> None:
    _, poll_id, options, token = await invite_poll(app)
    (code,) = await invites.issue_codes(poll_id, 1, 1)
    holder = Browser(app)
    page = await holder.get(f"/polls/{poll_id}?code={invites.display(code)}")
    box = page.dom.find("input", name="code")
    assert box is not None and box.attrs["value"] == invites.display(code)
    assert (await holder.redeem_invite(poll_id, invites.display(code).lower())).status == 303
    assert (await holder.vote(poll_id, options[0])).status == 303
    assert (await holder.vote(poll_id, options[2])).status == 303
    (ballot,) = await ballots(poll_id)
    assert ballot["kind"] == "code" and await vote_rows(poll_id) == 1
    # The same code from another browser, or through the API, is used up.
    again = await Browser(app).redeem_invite(poll_id, code)
    assert again.status == 409 and "already been used" in again.text
    response = await app.test_client().post(
        f"/api/v1/polls/{poll_id}/invite-codes/redeem", json={"code": code}
    )
    assert response.status_code == 409
    unknown = await app.test_client().post(
        f"/api/v1/polls/{poll_id}/invite-codes/redeem", json={"code": "NOPE-NOPE"}
    )
    assert unknown.status_code == 403
    await refusals.flush()
    report = await integrity.report(poll_id, 1)
    assert report.refused["code"] == 3
    assert report.invite_codes.issued == 1 and report.invite_codes.redeemed == 1
    assert token


async def test_only_code_holders_vote_in_an_invite_poll_and_only_there(app: Quart) -> None:
    owner, poll_id, options, _ = await invite_poll(app)
    member = await signed_up(app, "Member")
    page = await member.vote(poll_id, options[0])
    assert page.status == 403 and "invite code only" in page.text
    page = await owner.vote(poll_id, options[0])
    assert page.status == 403, "the creator needs a code too"
    (code,) = await invites.issue_codes(poll_id, 1, 1)
    response = await app.test_client().post(
        f"/api/v1/polls/{poll_id}/invite-codes/redeem", json={"code": code}
    )
    assert response.status_code == 201
    body = await response.get_json()
    assert body["user"]["invited_to"] == poll_id and body["user"]["is_guest"] is True
    voter = bearer(body["token"])
    client = app.test_client()
    cast = await client.post(
        f"/api/v1/polls/{poll_id}/votes", json={"option_id": options[1]}, headers=voter
    )
    assert cast.status_code == 201
    elsewhere = await owner.create_poll("Open to guests?", guests=True)
    response = await client.post(
        f"/api/v1/polls/{elsewhere}/votes",
        json={"option_id": (await option_ids(elsewhere))[0]},
        headers=voter,
    )
    assert response.status_code == 403
    assert "another poll" in (await response.get_json())["detail"]
    assert await vote_rows(elsewhere) == 0


async def test_the_creator_tightens_the_network_cap_from_the_poll_page(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(guests=True)
    page = await owner.get(f"/polls/{poll_id}")
    cap = page.dom.find("input", name="guest_network_cap")
    assert cap is not None and cap.attrs["value"] == "100"
    assert (
        await owner.post(f"/polls/{poll_id}/network-cap", {"guest_network_cap": "1"})
    ).status == 303
    row = await Poll.select(Poll.guest_network_cap).where(Poll.id == poll_id).first()
    assert row is not None and row["guest_network_cap"] == 1
    bad = await owner.post(f"/polls/{poll_id}/network-cap", {"guest_network_cap": "many"})
    assert bad.status == 422
    other = await signed_up(app, "Other")
    assert (
        await other.post(f"/polls/{poll_id}/network-cap", {"guest_network_cap": "0"})
    ).status == 403
    row = await Poll.select(Poll.guest_network_cap).where(Poll.id == poll_id).first()
    assert row is not None and row["guest_network_cap"] == 1


async def test_a_browser_that_voted_as_an_account_cannot_add_a_guest_ballot(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(guests=True)
    options = await option_ids(poll_id)
    browser = await signed_up(app, "Member")
    assert browser.cookie(DEVICE_COOKIE), "every browser gets its device id on its first page"
    assert (await browser.vote(poll_id, options[0])).status == 303
    await browser.sign_out()
    await browser.join_as_guest("Also me", poll_id)
    assert (await browser.vote(poll_id, options[1])).status == 409
    assert len(await ballots(poll_id)) == 1


async def test_the_old_allows_guests_flag_never_opens_an_invite_poll(app: Quart) -> None:
    await signed_up(app, "Owner")
    token = await api_token(app, "owner@example.org")
    client = app.test_client()
    body = {"question": "Q?", "options": ["a", "b"], "voting": "invite_codes"}
    created = await (
        await client.post("/api/v1/polls", json=body, headers=bearer(token))
    ).get_json()
    patched = await client.patch(
        f"/api/v1/polls/{created['id']}",
        json={"allows_guests": False, "results_hidden": True},
        headers=bearer(token),
    )
    assert (await patched.get_json())["voting"] == "invite_codes"
    guests = await client.patch(
        f"/api/v1/polls/{created['id']}", json={"allows_guests": True}, headers=bearer(token)
    )
    assert (await guests.get_json())["voting"] == "guests"
    back = await client.patch(
        f"/api/v1/polls/{created['id']}", json={"allows_guests": False}, headers=bearer(token)
    )
    assert (await back.get_json())["voting"] == "accounts"
