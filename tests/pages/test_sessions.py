"""Browser sessions and guests, seen from the token table and the API."""

from __future__ import annotations

from datetime import timedelta

from quart import Quart

from tests.pages.helpers import Browser, guests, signed_up
from webapp import accounts
from webapp.tables import AuthToken


async def test_signing_in_from_a_guest_session_revokes_the_guest_token(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await owner.create_poll("Lunch?", ["Soup", "Salad"], guests=True)
    visitor = Browser(app)
    await visitor.join_as_guest("Gus", poll_id)
    (guest,) = await guests()
    assert await AuthToken.count().where(AuthToken.user == guest["id"]) == 1

    await visitor.sign_up("member")

    assert await AuthToken.count().where(AuthToken.user == guest["id"]) == 0


async def test_a_guest_cannot_create_polls_through_the_api(app: Quart) -> None:
    guest = await accounts.create_guest("Gus")
    token = await accounts.issue_token(guest.id, timedelta(days=1))

    response = await app.test_client().post(
        "/api/v1/polls",
        json={"question": "Mine?", "options": ["a", "b"]},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 403
    assert (await response.get_json())["status"] == 403
