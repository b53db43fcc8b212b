"""Response headers: Allow on a 405, Permissions-Policy, HSTS over HTTPS, no-store for one
signed-in person's pages."""

from __future__ import annotations

from quart import Quart

from tests.conftest import TEST_SETTINGS
from tests.pages.helpers import Browser, signed_up
from webapp import create_app


async def test_a_405_says_which_methods_are_allowed(app: Quart) -> None:
    response = await app.test_client().delete("/api/v1/polls")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert response.headers["Content-Type"] == "application/problem+json"


async def test_every_page_has_a_permissions_policy_and_no_hsts_over_http(app: Quart) -> None:
    page = await Browser(app).get("/")
    assert "camera=()" in page.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in page.headers


async def test_hsts_is_sent_when_cookies_are_secure() -> None:
    app = create_app({**TEST_SETTINGS, "cookie_secure": True})
    async with app.test_app():
        response = await app.test_client().get("/", scheme="https")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_signed_in_pages_are_not_stored_and_anonymous_ones_may_be(app: Quart) -> None:
    anonymous = await Browser(app).get("/")
    assert "no-store" not in anonymous.headers.get("Cache-Control", "")
    member = await signed_up(app, "Ada")
    assert (await member.get("/")).headers["Cache-Control"] == "no-store"
