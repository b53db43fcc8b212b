"""Helpers for the page tests: a small browser around Quart's test client, and an HTML tree.

A `Browser` keeps its own cookies (one test client each), finds the CSRF token on the pages it
loads and sends it with every form, the way the real pages do. `Page.dom` parses the HTML into a
tiny element tree so tests can look for ids, classes and attributes instead of substrings.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from quart import Quart
from werkzeug.datastructures import Headers

from webapp.tables import Poll, PollOption, User, Vote

PASSWORD = "correct horse battery"
FORM = "application/x-www-form-urlencoded"
CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


# --- a tiny HTML tree -------------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)  # text, in order, with children's text

    @property
    def id(self) -> str | None:
        return self.attrs.get("id")

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            yield child
            yield from child.iter()

    def find_all(
        self, tag: str | None = None, cls: str | None = None, **attrs: str
    ) -> list[Element]:
        """Descendants with this tag, class and attribute values (attrs: `data_shortcut="r"`)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            element
            for element in self.iter()
            if (tag is None or element.tag == tag)
            and (cls is None or cls in element.classes)
            and all(element.attrs.get(name) == value for name, value in wanted.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element | None:
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None

    def by_id(self, element_id: str) -> Element | None:
        return self.find(id=element_id)

    def get(self, element_id: str) -> Element:
        element = self.by_id(element_id)
        assert element is not None, f"no element #{element_id}"
        return element


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.parts.append(data)


def parse_html(text: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


# --- responses ---------------------------------------------------------------------------------


@dataclass
class Page:
    status: int
    headers: Headers
    text: str
    _dom: Element | None = None

    @property
    def dom(self) -> Element:
        if self._dom is None:
            self._dom = parse_html(self.text)
        return self._dom

    @property
    def location(self) -> str:
        return str(self.headers.get("Location", ""))

    @property
    def is_full_page(self) -> bool:
        return self.dom.find("html") is not None

    def results_shown(self) -> bool:
        """Whether #results shows the bars (True) or the results-hidden notice (False)."""
        results = self.dom.get("results")
        bars = results.find("ol", cls="bars")
        hidden = results.find(cls="results-hidden")
        assert (bars is None) != (hidden is None), "#results shows bars or the notice, not both"
        return bars is not None

    def choices(self) -> list[tuple[str, bool]]:
        """(option text, chosen) for every voting button in #vote, in order."""
        vote = self.dom.get("vote")
        out = []
        for button in vote.find_all("button", cls="choice"):
            chosen = "chosen" in button.classes
            assert button.attrs.get("aria-pressed") == ("true" if chosen else "false")
            text = button.find(cls="choice-text")
            assert text is not None
            out.append((text.text, chosen))
        return out

    def chosen(self) -> list[str]:
        return [text for text, chosen in self.choices() if chosen]

    def signed_in_as(self) -> str | None:
        """The name in the header, or None when the page shows the sign-in link."""
        who = self.dom.find("span", cls="who")
        return who.text if who is not None else None

    def field_error(self, name: str) -> str | None:
        error = self.dom.by_id(f"{name}-error")
        return error.text if error is not None else None

    def input_value(self, name: str) -> str | None:
        element = self.dom.find("input", name=name)
        return None if element is None else element.attrs.get("value", "")


def path_of(location: str) -> str:
    """The path and query of a Location header, whether relative or absolute."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def query_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


# --- the browser -------------------------------------------------------------------------------


class Browser:
    """One visitor: a cookie jar, the CSRF token from the pages, and the forms they submit."""

    def __init__(self, app: Quart, address: str = "192.0.2.1") -> None:
        self.app = app
        self.client = app.test_client()
        self.token: str | None = None
        self.scheme = "http"
        self.address = address  # the client address every request comes from

    @property
    def scope(self) -> dict[str, Any]:
        return {"client": (self.address, 40000)}

    async def _page(self, response: Any) -> Page:
        text = await response.get_data(as_text=True)
        match = CSRF_PATTERN.search(text)
        if match:
            self.token = match.group(1)
        return Page(response.status_code, response.headers, text)

    async def get(
        self, path: str, *, htmx: bool = False, headers: dict[str, str] | None = None
    ) -> Page:
        sent = dict(headers or {})
        if htmx:
            sent["HX-Request"] = "true"
        response = await self.client.get(
            path, headers=sent, scheme=self.scheme, scope_base=self.scope
        )
        return await self._page(response)

    async def csrf(self) -> str:
        """This session's CSRF token, loading a page for it the first time."""
        if self.token is None:
            await self.get("/signin")
        assert self.token, "the page carries no CSRF token"
        return self.token

    async def post(
        self,
        path: str,
        fields: Sequence[tuple[str, str]] | dict[str, str] = (),
        *,
        csrf: bool | str = True,
        csrf_header: bool = False,
        htmx: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Page:
        """Submit a form. csrf: True sends this session's token, a string sends that token,
        False sends none; csrf_header sends it as X-CSRF-Token instead of the form field."""
        items = list(fields.items()) if isinstance(fields, dict) else list(fields)
        sent = {"Content-Type": FORM, **(headers or {})}
        token = await self.csrf() if csrf is True else (None if csrf is False else csrf)
        if token is not None:
            if csrf_header:
                sent["X-CSRF-Token"] = token
            else:
                items.append(("csrf_token", token))
        if htmx:
            sent["HX-Request"] = "true"
        response = await self.client.post(
            path, data=urlencode(items), headers=sent, scheme=self.scheme, scope_base=self.scope
        )
        return await self._page(response)

    def cookie(self, name: str) -> str | None:
        jar = self.client.cookie_jar
        assert jar is not None
        for cookie in jar:
            if cookie.name == name:
                return cookie.value
        return None

    # The pages' own flows. The CSRF token rotates when a session starts or ends: like a real
    # browser, take the new one from the next page.

    async def _session_changing(self, path: str, fields: dict[str, str]) -> Page:
        page = await self.post(path, fields)
        if page.status == 303:
            self.token = None
        return page

    async def sign_up(
        self, name: str, email: str | None = None, password: str = PASSWORD, next: str = ""
    ) -> Page:
        email = email or f"{name.lower()}@example.org"
        path = "/signup" + (f"?{urlencode({'next': next})}" if next else "")
        return await self._session_changing(
            path, {"name": name, "email": email, "password": password}
        )

    async def sign_in(self, email: str, password: str = PASSWORD, next: str = "") -> Page:
        path = "/signin" + (f"?{urlencode({'next': next})}" if next else "")
        return await self._session_changing(path, {"email": email, "password": password})

    async def sign_out(self) -> Page:
        return await self._session_changing("/signout", {})

    async def join_as_guest(self, name: str, poll_id: int) -> Page:
        path = f"/guest?{urlencode({'next': f'/polls/{poll_id}'})}"
        return await self._session_changing(path, {"name": name})

    async def redeem_invite(self, poll_id: int, code: str) -> Page:
        return await self._session_changing(f"/polls/{poll_id}/invite", {"code": code})

    async def submit_poll(
        self,
        question: str,
        options: Sequence[str],
        *,
        action: str = "publish",
        multiple: bool = False,
        guests: bool = False,
        visibility: str = "always",
        voting: str | None = None,
        network_cap: str | None = None,
        path: str = "/polls",
    ) -> Page:
        fields = [("question", question)]
        fields += [("options", text) for text in options]
        fields.append(("choice", "multiple" if multiple else "single"))
        fields.append(("results_visibility", visibility))
        fields.append(("voting", voting or ("guests" if guests else "accounts")))
        if network_cap is not None:
            fields.append(("guest_network_cap", network_cap))
        fields.append(("action", action))
        return await self.post(path, fields)

    async def create_poll(
        self,
        question: str = "Best editor?",
        options: Sequence[str] = ("vim", "emacs", "nano"),
        **settings: Any,
    ) -> int:
        """Create a poll through the form (published unless action="draft"); return its id."""
        page = await self.submit_poll(question, options, **settings)
        assert page.status == 303, page.text
        match = re.fullmatch(r"/polls/(\d+)", path_of(page.location))
        assert match, page.location
        return int(match.group(1))

    async def vote(self, poll_id: int, option_id: int, *, htmx: bool = False) -> Page:
        return await self.post(f"/polls/{poll_id}/vote", {"option_id": str(option_id)}, htmx=htmx)


async def signed_up(app: Quart, name: str) -> Browser:
    """A new browser with a new account, signed in."""
    browser = Browser(app)
    page = await browser.sign_up(name)
    assert page.status == 303, page.text
    return browser


# --- the database --------------------------------------------------------------------------------


async def user_id(email: str) -> int:
    row = await User.select(User.id).where(User.email == email).first()
    assert row is not None
    return int(row["id"])


async def option_ids(poll_id: int) -> list[int]:
    rows = (
        await PollOption.select(PollOption.id)
        .where(PollOption.poll == poll_id)
        .order_by(PollOption.position)
    )
    return [int(row["id"]) for row in rows]


async def poll_row(poll_id: int) -> dict[str, Any] | None:
    row = await Poll.select().where(Poll.id == poll_id).first()
    return None if row is None else dict(row)


async def votes_in(poll_id: int) -> list[tuple[int, int]]:
    """(user id, option id) of every vote in the poll."""
    rows = await Vote.select(Vote.user, Vote.option).where(Vote.poll == poll_id)
    return sorted((int(row["user"]), int(row["option"])) for row in rows)


async def counts(poll_id: int) -> list[int]:
    rows = (
        await PollOption.select(PollOption.votes)
        .where(PollOption.poll == poll_id)
        .order_by(PollOption.position)
    )
    return [int(row["votes"]) for row in rows]


async def poll_count() -> int:
    return int(await Poll.count())


async def user_count() -> int:
    return int(await User.count())


async def guests() -> list[dict[str, Any]]:
    return [dict(row) for row in await User.select().where(User.is_guest == True)]  # noqa: E712


# --- the API and the live stream ---------------------------------------------------------------


async def api_poll(app: Quart, token: str, **body: Any) -> dict[str, Any]:
    """Create a poll through the JSON API (published unless told otherwise)."""
    body = {
        "question": "Best editor?",
        "options": ["vim", "emacs", "nano"],
        "is_published": True,
        **body,
    }
    response = await app.test_client().post(
        "/api/v1/polls", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    return dict(await response.get_json())


async def next_html(ws: Any, element_id: str, wait: float = 3.0) -> Element:
    """The next HTML message whose top element has this id (results, poll-status, ...)."""
    while True:
        message = await asyncio.wait_for(ws.receive(), wait)
        element = parse_html(str(message)).by_id(element_id)
        if element is not None:
            return element


async def api_token(app: Quart, email: str, password: str = PASSWORD) -> str:
    """A bearer token for an account (signed up through the pages or the API)."""
    response = await app.test_client().post(
        "/api/v1/auth/tokens", json={"email": email, "password": password}
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    return str((await response.get_json())["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
