"""Browser sessions and guests, seen from the token table and the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from itsdangerous import BadSignature
from quart import Quart

from tests.pages.helpers import Browser, guests, signed_up
from webapp import accounts
from webapp.pages.session import SignedCookieSessions
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


async def test_the_session_signer_is_made_once_per_key_and_still_checks_the_cookie(
    app: Quart, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = app.session_interface
    assert isinstance(sessions, SignedCookieSessions)
    signer = sessions.get_signing_serializer(app)
    assert signer is not None and sessions.get_signing_serializer(app) is signer
    cookie = signer.dumps({"csrf_token": "t"})

    old_key = app.config["SECRET_KEY"]
    monkeypatch.setitem(app.config, "SECRET_KEY", "another key, after a rotation")
    rotated = sessions.get_signing_serializer(app)
    assert rotated is not None and rotated is not signer
    with pytest.raises(BadSignature):
        rotated.loads(cookie)
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [old_key])
    with_fallback = sessions.get_signing_serializer(app)
    assert with_fallback is not None and with_fallback.loads(cookie) == {"csrf_token": "t"}
