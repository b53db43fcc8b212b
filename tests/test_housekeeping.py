"""Housekeeping: expired tokens and idempotency keys, and guests who never voted, are pruned;
the session's CSRF token rotates at sign-in and sign-out; the auth cookie lives as long as its
session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quart import Quart

from tests.pages.helpers import Browser, option_ids, signed_up
from webapp import accounts, housekeeping, invites
from webapp.tables import AuthToken, IdempotencyKey, User


async def test_prune_drops_expired_tokens_and_idle_guests_only(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(guests=True)
    options = await option_ids(poll_id)
    voting_guest = Browser(app)
    await voting_guest.join_as_guest("Voter", poll_id)
    await voting_guest.vote(poll_id, options[0])
    idle_guest = await accounts.create_guest("Idle")
    fresh_guest = await accounts.create_guest("Fresh")
    old = datetime.now(UTC) - timedelta(days=2)
    await User.update({User.created_at: old}).where(User.id != fresh_guest.id)
    owner_row = await User.select(User.id).where(User.name == "Owner").first()
    assert owner_row is not None
    expired = await accounts.issue_token(owner_row["id"], timedelta(seconds=-1))
    live = await accounts.issue_token(owner_row["id"], timedelta(days=1))

    pruned = await housekeeping.prune(guest_age_s=86400)

    assert pruned.guests == 1 and pruned.tokens == 1
    names = {row["name"] for row in await User.select(User.name)}
    assert "Idle" not in names and {"Owner", "Voter", "Fresh"} <= names
    assert await accounts.account_for_token(expired) is None
    assert await accounts.account_for_token(live) is not None
    assert idle_guest.id not in {row["id"] for row in await User.select(User.id)}
    # The voting guest's session still works.
    assert (await voting_guest.get(f"/polls/{poll_id}")).signed_in_as() == "Voter (guest)"


async def test_prune_keeps_invite_voters_whether_or_not_they_voted_yet(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(voting="invite_codes")
    code, later = await invites.issue_codes(poll_id, 1, 2)
    holder, waiting = Browser(app), Browser(app)
    await holder.redeem_invite(poll_id, code)
    await holder.vote(poll_id, (await option_ids(poll_id))[0])
    await waiting.redeem_invite(poll_id, later)
    await User.update({User.created_at: datetime.now(UTC) - timedelta(days=2)}).where(
        User.is_guest == True  # noqa: E712
    )
    assert (await housekeeping.prune(guest_age_s=86400)).guests == 0
    # The one who has not voted yet still can, a day later: the code is theirs.
    assert (await waiting.vote(poll_id, (await option_ids(poll_id))[1])).status == 303


async def test_prune_drops_expired_idempotency_keys_only(app: Quart) -> None:
    await signed_up(app, "Ada")
    ada = await User.select(User.id).where(User.name == "Ada").first()
    assert ada is not None
    now = datetime.now(UTC)
    for key, expires_at in (("old", now - timedelta(seconds=1)), ("new", now + timedelta(hours=1))):
        row = IdempotencyKey(
            user=ada["id"], key=key, fingerprint="f", status=201, body="", expires_at=expires_at
        )
        await row.save()

    pruned = await housekeeping.prune(guest_age_s=86400)

    assert pruned.keys == 1
    assert [row["key"] for row in await IdempotencyKey.select(IdempotencyKey.key)] == ["new"]


async def test_the_csrf_token_rotates_at_sign_in_and_sign_out(app: Quart) -> None:
    await signed_up(app, "Ada")
    browser = Browser(app)
    before = await browser.csrf()
    assert (await browser.sign_in("ada@example.org")).status == 303
    stale = await browser.post("/polls", {"question": "Q?"}, csrf=before)
    assert stale.status == 403, "the token from before sign-in no longer works"
    signed_in = await browser.csrf()
    assert signed_in != before
    assert (await browser.sign_out()).status == 303
    assert (await browser.post("/guest", {"name": "x"}, csrf=signed_in)).status == 403
    assert await browser.csrf() not in {before, signed_in}


async def test_the_auth_cookie_lives_no_longer_than_its_session(app: Quart) -> None:
    browser = Browser(app)
    await browser.sign_up("Ada")
    jar = browser.client.cookie_jar
    assert jar is not None
    (cookie,) = [c for c in jar if c.name == "QUART_AUTH"]
    ttl = app.extensions["settings"].token_ttl_days * 86400
    assert cookie.expires is not None
    lifetime = cookie.expires - datetime.now(UTC).timestamp()
    assert ttl - 120 < lifetime <= ttl + 1
    token = await AuthToken.select(AuthToken.expires_at).first()
    assert token is not None
    assert abs(token["expires_at"].timestamp() - cookie.expires) < 120


async def test_a_pruned_guest_is_signed_out_at_once_though_the_process_knew_its_token(
    app: Quart,
) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll(guests=True)
    idle = Browser(app)
    await idle.join_as_guest("Idle", poll_id)
    assert (await idle.get(f"/polls/{poll_id}")).signed_in_as() == "Idle (guest)"  # cached
    old = datetime.now(UTC) - timedelta(days=2)
    await User.update({User.created_at: old}).where(User.name == "Idle")

    assert (await housekeeping.prune(guest_age_s=86400)).guests == 1

    assert (await idle.get(f"/polls/{poll_id}")).signed_in_as() is None
