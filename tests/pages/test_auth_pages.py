"""Sign up, sign in and sign out through the pages; the session cookie and its flags."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest
from quart import Quart

from tests.conftest import TEST_SETTINGS, MakeMember
from tests.pages.helpers import PASSWORD, Browser, Page, path_of, user_count
from webapp import create_app
from webapp.tables import AuthToken, User

AUTH_COOKIE = "QUART_AUTH"
UNSAFE_NEXT = [
    "//evil.com",
    "//evil.com/polls",
    "https://evil.com",
    "http://evil.com/polls/1",
    "javascript:alert(1)",
    "/\\evil.com",  # browsers read a backslash as a slash: //evil.com
    "/\t/evil.com",  # browsers drop tabs from URLs: //evil.com
    # Percent-encoded, for anything on the way that decodes the path before routing it:
    "/%2F%2Fevil.com",
    "/%2f%2fevil.com/polls",
    "/%2F/evil.com",
    "/%5Cevil.com",
    "/%09/evil.com",
]


def assert_goes_home(page: Page) -> None:
    assert page.status == 303, page.text
    parts = urlsplit(page.location)
    assert parts.netloc in ("", "localhost"), page.location
    assert parts.path == "/", page.location


def cookies_set(page: Page) -> dict[str, dict[str, str | bool]]:
    """Every Set-Cookie of a response: name -> its attributes (httponly, samesite, secure...)."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in page.headers.getlist("Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            found[name] = {key: morsel[key] for key in morsel if morsel[key]}
    return found


async def is_signed_in_with(app: Quart, auth_cookie: str) -> bool:
    """Whether a browser holding just this saved auth cookie is treated as signed in."""
    client = app.test_client()
    response = await client.get("/", headers={"Cookie": f"{AUTH_COOKIE}={auth_cookie}"})
    page = Page(response.status_code, response.headers, await response.get_data(as_text=True))
    return page.signed_in_as() is not None


# --- sign up --------------------------------------------------------------------------------


async def test_the_signup_page_has_the_form_with_a_csrf_token(app: Quart) -> None:
    page = await Browser(app).get("/signup")
    assert page.status == 200
    form = page.dom.find("form", method="post")
    assert form is not None
    assert {e.attrs["name"] for e in form.find_all("input")} == {
        "csrf_token",
        "name",
        "email",
        "password",
    }
    assert form.find("input", name="csrf_token", type="hidden") is not None


async def test_signup_creates_the_account_signs_in_and_redirects_home(app: Quart) -> None:
    browser = Browser(app)
    page = await browser.sign_up("Ann", "ann@example.org")
    assert_goes_home(page)
    assert browser.cookie(AUTH_COOKIE)
    row = await User.select(User.name, User.email, User.is_guest, User.password_hash).first()
    assert row is not None
    assert (row["name"], row["email"], row["is_guest"]) == ("Ann", "ann@example.org", False)
    assert PASSWORD not in row["password_hash"]
    home = await browser.get("/")
    assert home.signed_in_as() == "Ann"


async def test_signup_returns_to_a_same_site_next(app: Quart) -> None:
    page = await Browser(app).sign_up("Ann", next="/polls/new")
    assert page.status == 303
    assert path_of(page.location) == "/polls/new"


@pytest.mark.parametrize("target", UNSAFE_NEXT)
async def test_signup_ignores_a_next_that_leaves_the_site(app: Quart, target: str) -> None:
    page = await Browser(app).sign_up("Ann", next=target)
    assert_goes_home(page)


@pytest.mark.parametrize("email", ["ann@example.org", "ANN@Example.org"])
async def test_signup_with_a_taken_email_shows_the_error_at_the_email_field(
    app: Quart, email: str
) -> None:
    assert (await Browser(app).sign_up("Ann", "ann@example.org")).status == 303
    browser = Browser(app)
    page = await browser.sign_up("Other Ann", email, password="another secret")
    assert page.status == 422
    assert page.field_error("email") == "An account with this email already exists."
    assert page.dom.get("email").attrs.get("aria-invalid") == "true"
    assert page.input_value("name") == "Other Ann"
    assert page.input_value("email") == email
    assert page.input_value("password") == ""
    assert "another secret" not in page.text
    assert page.signed_in_as() is None
    assert browser.cookie(AUTH_COOKIE) is None
    assert await user_count() == 1


async def test_signup_with_a_short_password_shows_the_error_at_the_password_field(
    app: Quart,
) -> None:
    browser = Browser(app)
    page = await browser.sign_up("Ann", "ann@example.org", password="short7!")
    assert page.status == 422
    assert page.field_error("password")
    assert page.field_error("email") is None and page.field_error("name") is None
    assert page.input_value("name") == "Ann"
    assert page.input_value("email") == "ann@example.org"
    assert page.input_value("password") == ""
    assert "short7!" not in page.text
    assert await user_count() == 0
    assert browser.cookie(AUTH_COOKIE) is None


@pytest.mark.parametrize("email", ["not-an-email", "ann@", "@example.org", ""])
async def test_signup_with_a_bad_email_shows_the_error_at_the_email_field(
    app: Quart, email: str
) -> None:
    page = await Browser(app).sign_up("Ann", email or " ", password="a fine password")
    assert page.status == 422
    assert page.field_error("email")
    assert page.input_value("name") == "Ann"
    assert "a fine password" not in page.text
    assert await user_count() == 0


async def test_signup_without_a_name_shows_the_error_at_the_name_field(app: Quart) -> None:
    page = await Browser(app).sign_up("   ", "ann@example.org")
    assert page.status == 422
    assert page.field_error("name")
    assert page.input_value("email") == "ann@example.org"
    assert await user_count() == 0


# --- sign in --------------------------------------------------------------------------------


async def test_signin_signs_in_and_redirects_home(app: Quart, make_member: MakeMember) -> None:
    member = await make_member("ann")
    browser = Browser(app)
    page = await browser.sign_in(member.email, member.password)
    assert_goes_home(page)
    assert (await browser.get("/")).signed_in_as() == "ann"


async def test_signin_email_is_case_insensitive(app: Quart, make_member: MakeMember) -> None:
    member = await make_member("ann")
    page = await Browser(app).sign_in(member.email.upper(), member.password)
    assert page.status == 303


async def test_signin_returns_to_a_same_site_next(app: Quart, make_member: MakeMember) -> None:
    member = await make_member("ann")
    page = await Browser(app).sign_in(member.email, member.password, next="/polls/new")
    assert page.status == 303
    assert path_of(page.location) == "/polls/new"


@pytest.mark.parametrize("target", UNSAFE_NEXT)
async def test_signin_ignores_a_next_that_leaves_the_site(
    app: Quart, make_member: MakeMember, target: str
) -> None:
    member = await make_member("ann")
    page = await Browser(app).sign_in(member.email, member.password, next=target)
    assert_goes_home(page)


@pytest.mark.parametrize("target", UNSAFE_NEXT)
async def test_a_guest_join_ignores_a_next_that_leaves_the_site(app: Quart, target: str) -> None:
    page = await Browser(app).post(f"/guest?{urlencode({'next': target})}", {"name": "Gus"})
    assert_goes_home(page)


async def test_signin_with_a_wrong_password_shows_an_error_and_starts_no_session(
    app: Quart, make_member: MakeMember
) -> None:
    member = await make_member("ann")
    browser = Browser(app)
    page = await browser.sign_in(member.email, "wrong password!")
    assert page.status == 422
    alert = page.dom.find(cls="alert", role="alert")
    assert alert is not None and alert.text == "Wrong email or password."
    assert page.input_value("email") == member.email
    assert page.input_value("password") == ""
    assert "wrong password!" not in page.text
    assert browser.cookie(AUTH_COOKIE) is None
    assert (await browser.get("/")).signed_in_as() is None
    assert await AuthToken.count().where(AuthToken.user == member.id) == 1  # the API's only


async def test_signin_with_an_unknown_email_fails_the_same_way(app: Quart) -> None:
    page = await Browser(app).sign_in("nobody@example.org", PASSWORD)
    assert page.status == 422
    alert = page.dom.find(cls="alert", role="alert")
    assert alert is not None and alert.text == "Wrong email or password."


async def test_signin_with_empty_fields_shows_field_errors(app: Quart) -> None:
    page = await Browser(app).sign_in("", "")
    assert page.status == 422
    assert page.field_error("email") and page.field_error("password")


# --- sign out --------------------------------------------------------------------------------


async def test_signout_ends_the_session_and_revokes_its_token_at_once(app: Quart) -> None:
    browser = Browser(app)
    await browser.sign_up("Ann")
    saved = browser.cookie(AUTH_COOKIE)
    assert saved and await is_signed_in_with(app, saved)
    tokens_before = await AuthToken.count()

    page = await browser.sign_out()
    assert_goes_home(page)
    assert (await browser.get("/")).signed_in_as() is None
    assert await AuthToken.count() == tokens_before - 1
    # Someone who copied the cookie before signing out gets nothing with it.
    assert not await is_signed_in_with(app, saved)
    response = await app.test_client().get(
        "/polls/new", headers={"Cookie": f"{AUTH_COOKIE}={saved}"}
    )
    assert response.status_code == 303
    assert path_of(response.headers["Location"]).startswith("/signin")


async def test_signout_is_not_a_get(app: Quart) -> None:
    browser = Browser(app)
    await browser.sign_up("Ann")
    page = await browser.get("/signout")
    assert page.status == 405
    assert (await browser.get("/")).signed_in_as() == "Ann"


async def test_signing_in_twice_gives_independent_sessions(app: Quart) -> None:
    first = Browser(app)
    await first.sign_up("Ann", "ann@example.org")
    second = Browser(app)
    assert (await second.sign_in("ann@example.org")).status == 303
    await first.sign_out()
    assert (await second.get("/")).signed_in_as() == "Ann"


# --- the cookies ------------------------------------------------------------------------------


async def test_the_auth_and_session_cookies_are_httponly_and_samesite_lax(app: Quart) -> None:
    browser = Browser(app)
    session = cookies_set(await browser.get("/signup"))["session"]  # holds the CSRF token
    auth = cookies_set(await browser.sign_up("Ann"))[AUTH_COOKIE]
    for name, flags in (("session", session), (AUTH_COOKIE, auth)):
        assert flags.get("httponly") is True, (name, flags)
        assert str(flags.get("samesite")).lower() == "lax", (name, flags)
        assert not flags.get("secure"), (name, flags)  # cookie_secure is off in development


async def test_the_cookies_are_secure_when_configured() -> None:
    app = create_app({**TEST_SETTINGS, "cookie_secure": True})
    async with app.test_app():
        browser = Browser(app)
        browser.scheme = "https"
        first = await browser.get("/signup")
        assert cookies_set(first)["session"].get("secure") is True
        page = await browser.sign_up("Ann")
        assert page.status == 303, page.text
        cookies = cookies_set(page)
        assert cookies[AUTH_COOKIE].get("secure") is True
        assert cookies[AUTH_COOKIE].get("httponly") is True
        assert str(cookies[AUTH_COOKIE].get("samesite")).lower() == "lax"
        assert (await browser.get("/")).signed_in_as() == "Ann"
