"""`livepolls demo` sets up a presentable poll, and reuses it on the next run."""

from __future__ import annotations

from quart import Quart
from quart.typing import TestClientProtocol as Client

from webapp.demo import DEMO_EMAIL, ensure_demo


async def test_demo_creates_a_published_poll_and_an_account_that_can_sign_in(
    app: Quart, client: Client
) -> None:
    demo = await ensure_demo(app.extensions["passwords"])
    assert demo.poll.is_published and demo.poll.allows_guests and demo.poll.join_code
    response = await client.post(
        "/api/v1/auth/tokens", json={"email": DEMO_EMAIL, "password": demo.password}
    )
    assert response.status_code == 201


async def test_running_the_demo_again_reuses_the_poll_with_a_fresh_password(
    app: Quart, client: Client
) -> None:
    first = await ensure_demo(app.extensions["passwords"])
    second = await ensure_demo(app.extensions["passwords"])
    assert second.poll.id == first.poll.id
    assert second.poll.join_code == first.poll.join_code
    old = await client.post(
        "/api/v1/auth/tokens", json={"email": DEMO_EMAIL, "password": first.password}
    )
    assert old.status_code == 401
