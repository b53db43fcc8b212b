"""Rate limits on sign-in, sign-up, guests, invite codes, poll creation and votes: 429 with
Retry-After once over, before any password is hashed, on the API and the forms alike."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from tests.pages.helpers import Browser, api_token, bearer, option_ids, signed_up
from webapp import integrity, refusals
from webapp.config import ConfigError, Settings
from webapp.tables import Poll

PASSWORD = "correct horse battery"


async def creator_of(poll_id: int) -> int:
    row = await Poll.select(Poll.creator).where(Poll.id == poll_id).first()
    assert row is not None
    return int(row["creator"])


class CountingPasswords:
    """Counts the password checks the app makes (argon2 hashes computed)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.verified = 0

    async def verify(self, stored: str | None, password: str) -> bool:
        self.verified += 1
        return bool(await self.inner.verify(stored, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def assert_rate_limited(response: Any, body: dict[str, Any], window: int = 60) -> None:
    assert response.status_code == 429
    assert response.headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(response.headers["Retry-After"]) <= window
    assert body["status"] == 429 and body["type"].endswith("/rate-limited")


@pytest.mark.limits(limit_signin_email="3/minute")
async def test_api_sign_in_is_refused_after_the_limit_before_any_password_is_checked(
    limited: Quart,
) -> None:
    await signed_up(limited, "Ada")
    counting = CountingPasswords(limited.extensions["passwords"])
    limited.extensions["passwords"] = counting
    client = limited.test_client()
    wrong = {"email": "ada@example.org", "password": "wrong password"}
    for _ in range(3):
        assert (await client.post("/api/v1/auth/tokens", json=wrong)).status_code == 401
    assert counting.verified == 3
    response = await client.post("/api/v1/auth/tokens", json={**wrong, "email": "ADA@example.org"})
    assert_rate_limited(response, await response.get_json())
    right = await client.post("/api/v1/auth/tokens", json={**wrong, "password": PASSWORD})
    assert right.status_code == 429, "the right password is refused too while over the limit"
    assert counting.verified == 3, "no password was hashed once over the limit"
    # Another account from the same address is not affected by this account's limit.
    await signed_up(limited, "Bob")
    other = await client.post(
        "/api/v1/auth/tokens", json={"email": "bob@example.org", "password": PASSWORD}
    )
    assert other.status_code == 201


@pytest.mark.limits(limit_signin_address="2/minute")
async def test_sign_in_per_address_counts_every_account_tried(limited: Quart) -> None:
    client = limited.test_client()
    for name in ("a", "b"):
        body = {"email": f"{name}@example.org", "password": "whatever it is"}
        assert (await client.post("/api/v1/auth/tokens", json=body)).status_code == 401
    body = {"email": "c@example.org", "password": "whatever it is"}
    response = await client.post("/api/v1/auth/tokens", json=body)
    assert_rate_limited(response, await response.get_json())
    # Another address still gets through.
    response = await client.post(
        "/api/v1/auth/tokens", json=body, scope_base={"client": ("198.51.100.9", 1)}
    )
    assert response.status_code == 401


@pytest.mark.limits(limit_signin_email="2/minute")
async def test_the_sign_in_form_shows_the_limit_as_a_page_with_retry_after(limited: Quart) -> None:
    await signed_up(limited, "Ada")
    browser = Browser(limited)
    for _ in range(2):
        assert (await browser.sign_in("ada@example.org", "wrong password")).status == 422
    page = await browser.sign_in("ada@example.org", "wrong password")
    assert page.status == 429
    assert int(page.headers["Retry-After"]) >= 1
    alert = page.dom.find("p", cls="alert")
    assert alert is not None and "Too many sign-in attempts" in alert.text
    assert page.input_value("email") == "ada@example.org"


@pytest.mark.limits(limit_signup="2/hour")
async def test_sign_up_is_limited_per_address_on_the_api_and_the_form(limited: Quart) -> None:
    client = limited.test_client()
    for n in range(2):
        body = {"name": f"u{n}", "email": f"u{n}@example.org", "password": PASSWORD}
        assert (await client.post("/api/v1/users", json=body)).status_code == 201
    body = {"name": "u3", "email": "u3@example.org", "password": PASSWORD}
    response = await client.post("/api/v1/users", json=body)
    assert_rate_limited(response, await response.get_json(), 3600)
    assert int(response.headers["Retry-After"]) > 60, "an hourly window says so"
    # The form from the same address (the test client's) is refused too, and creates nobody.
    browser = Browser(limited, address="<local>")
    page = await browser.sign_up("Form")
    assert page.status == 429 and "Too many new accounts" in page.text
    token = await api_token(limited, "u0@example.org")
    assert (await client.get("/api/v1/users/3", headers=bearer(token))).status_code == 404


@pytest.mark.limits(limit_guest="2/minute")
async def test_joining_as_a_guest_is_limited_per_address(limited: Quart) -> None:
    owner = await signed_up(limited, "Owner")
    poll_id = await owner.create_poll(guests=True)
    for n in range(2):
        page = await Browser(limited, "203.0.113.5").join_as_guest(f"Guest {n}", poll_id)
        assert page.status == 303
    page = await Browser(limited, "203.0.113.5").join_as_guest("Guest 3", poll_id)
    assert page.status == 429 and int(page.headers["Retry-After"]) >= 1
    assert "Too many guests" in page.text
    assert (await Browser(limited, "203.0.113.6").join_as_guest("Elsewhere", poll_id)).status == 303


@pytest.mark.limits(limit_poll_create="2/hour")
async def test_poll_creation_is_limited_per_account(limited: Quart) -> None:
    owner = await signed_up(limited, "Owner")
    token = await api_token(limited, "owner@example.org")
    client = limited.test_client()
    body = {"question": "Q?", "options": ["a", "b"]}
    assert (await client.post("/api/v1/polls", json=body, headers=bearer(token))).status_code == 201
    assert (await owner.submit_poll("Q2?", ["a", "b"])).status == 303
    response = await client.post("/api/v1/polls", json=body, headers=bearer(token))
    assert_rate_limited(response, await response.get_json(), 3600)
    assert (await owner.submit_poll("Q3?", ["a", "b"])).status == 429


@pytest.mark.limits(limit_vote_account="3/minute")
async def test_votes_over_the_limit_are_refused_and_counted_in_the_report(limited: Quart) -> None:
    owner = await signed_up(limited, "Owner")
    poll_id = await owner.create_poll()
    options = await option_ids(poll_id)
    await signed_up(limited, "Voter")
    voter = await api_token(limited, "voter@example.org")
    client = limited.test_client()
    statuses = []
    for n in range(5):
        response = await client.post(
            f"/api/v1/polls/{poll_id}/votes",
            json={"option_id": options[n % 2]},
            headers=bearer(voter),
        )
        statuses.append(response.status_code)
    assert statuses == [201, 201, 201, 429, 429]
    await refusals.flush()
    report = await integrity.report(poll_id, await creator_of(poll_id))
    assert report.refused["rate_limit"] == 2
    assert report.ballots.total == 1


async def test_limits_are_off_when_disabled(app: Quart) -> None:
    """The suite's own app runs without limits (LIVEPOLLS_RATE_LIMITS=false)."""
    client = app.test_client()
    wrong = {"email": "nobody@example.org", "password": "wrong password"}
    for _ in range(40):
        assert (await client.post("/api/v1/auth/tokens", json=wrong)).status_code == 401


def test_limit_settings_take_the_limits_notation_or_off() -> None:
    env = {"SECRET_KEY": "k", "DATABASE_URL": "sqlite:///x"}
    settings = Settings.from_env({**env, "LIVEPOLLS_LIMIT_SIGNIN_PER_EMAIL": "5 per 10 minutes"})
    assert settings.limit_signin_email == "5 per 10 minutes"
    assert (
        Settings.from_env({**env, "LIVEPOLLS_LIMIT_VOTES_PER_ACCOUNT": "off"}).limit_vote_account
        == "off"
    )
    assert Settings.from_env({**env, "LIVEPOLLS_RATE_LIMITS": "false"}).rate_limits is False
    with pytest.raises(ConfigError, match="LIVEPOLLS_LIMIT_SIGNUP_PER_ADDRESS"):
        Settings.from_env({**env, "LIVEPOLLS_LIMIT_SIGNUP_PER_ADDRESS": "lots"})


@pytest.mark.limits(limit_signup="2/hour")
async def test_address_limits_count_an_ipv6_subscriber_by_its_64(limited: Quart) -> None:
    client = limited.test_client()
    statuses = []
    for n in range(3):
        body = {"name": f"v{n}", "email": f"v{n}@example.org", "password": PASSWORD}
        response = await client.post(
            "/api/v1/users", json=body, scope_base={"client": (f"2001:db8:5:6::{n + 1}", 1)}
        )
        statuses.append(response.status_code)
    assert statuses == [201, 201, 429]


@pytest.mark.limits(limit_vote_account="2/minute")
async def test_withdrawals_count_against_the_vote_limit(limited: Quart) -> None:
    owner = await signed_up(limited, "Owner")
    poll_id = await owner.create_poll(multiple=True)
    options = await option_ids(poll_id)
    token = await api_token(limited, "owner@example.org")
    client = limited.test_client()
    cast = await client.post(
        f"/api/v1/polls/{poll_id}/votes", json={"option_id": options[0]}, headers=bearer(token)
    )
    assert cast.status_code == 201
    assert (
        await client.delete(f"/api/v1/polls/{poll_id}/votes", headers=bearer(token))
    ).status_code == 204
    refused = await client.delete(f"/api/v1/polls/{poll_id}/votes", headers=bearer(token))
    assert refused.status_code == 429
    assert (await owner.post(f"/polls/{poll_id}/withdraw")).status == 429
