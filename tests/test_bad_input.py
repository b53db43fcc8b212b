"""Bad input is a 4xx naming what is wrong, and changes nothing: the same on PostgreSQL and
SQLite (which would store a NUL that PostgreSQL refuses)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart import Quart

from tests.pages.helpers import Browser, api_token, bearer, signed_up
from webapp.tables import AuthToken, Poll, PollOption, User, Vote
from webapp.text import clean, same_key

PASSWORD = "correct horse"
ZWSP, BOM, RLO = "\u200b", "\ufeff", "\u202e"


async def rows() -> tuple[int, ...]:
    return (
        await User.count(),
        await AuthToken.count(),
        await Poll.count(),
        await PollOption.count(),
        await Vote.count(),
    )


def user(**changes: Any) -> dict[str, Any]:
    return {"name": "Ada", "email": "ada@example.org", "password": PASSWORD, **changes}


def poll(**changes: Any) -> dict[str, Any]:
    return {"question": "Lunch?", "options": ["Pizza", "Salad"], **changes}


# (path, body, the field the problem names)
JSON_CASES = [
    ("/api/v1/users", user(name="A\x00da"), "name"),
    ("/api/v1/users", user(name=ZWSP), "name"),
    ("/api/v1/users", user(name=f"{BOM} {ZWSP}"), "name"),
    ("/api/v1/users", user(name=f"Ada{RLO}evil"), "name"),
    ("/api/v1/users", user(email="ada\x00@example.org"), "email"),
    ("/api/v1/auth/tokens", {"email": "ada\x00@example.org", "password": PASSWORD}, "email"),
    ("/api/v1/polls", poll(question="\x00"), "question"),
    ("/api/v1/polls", poll(question=ZWSP), "question"),
    ("/api/v1/polls", poll(question="Line\nbreak"), "question"),
    ("/api/v1/polls", poll(options=["A", f"A{ZWSP}"]), "options"),
    ("/api/v1/polls", poll(options=["Ａ", "a"]), "options"),  # full-width A
    ("/api/v1/polls", poll(options=[BOM, "B"]), "options.0"),
    ("/api/v1/polls", poll(options=[f"{RLO}gnp.exe", "B"]), "options.0"),
    ("/api/v1/polls", poll(options=["A\x00", "B"]), "options.0"),
]


@pytest.mark.parametrize(("path", "body", "field"), JSON_CASES)
async def test_bad_text_is_a_422_naming_the_field_and_writes_nothing(
    app: Quart, path: str, body: dict[str, Any], field: str
) -> None:
    await signed_up(app, "Owner")
    token = await api_token(app, "owner@example.org", "correct horse battery")
    before = await rows()
    response = await app.test_client().post(path, json=body, headers=bearer(token))
    assert response.status_code == 422, await response.get_data(as_text=True)
    problem = await response.get_json()
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in [error["field"] for error in problem["errors"]]
    assert await rows() == before


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b'{"name": "\xff\xfe"}', 400, "not valid UTF-8"),
        (b"[" * 1000 + b"]" * 1000, 400, "nested too deeply"),
        (b'{"name": ', 400, "not valid JSON"),
    ],
    ids=["invalid-utf8", "deep-nesting", "truncated"],
)
@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/auth/tokens", "/api/v1/polls"])
async def test_a_body_that_cannot_be_read_is_a_4xx_problem(
    app: Quart, path: str, body: bytes, status: int, detail: str
) -> None:
    before = await rows()
    response = await app.test_client().post(
        path, data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert detail in await response.get_data(as_text=True)
    assert await rows() == before


async def test_a_lone_surrogate_escaped_in_json_is_refused_by_field(app: Quart) -> None:
    """JSON may escape a lone surrogate, which no database can store as text."""
    body = json.dumps(user()).replace('"Ada"', '"\\ud800"').encode()
    response = await app.test_client().post(
        "/api/v1/users", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    problem = await response.get_json()
    assert problem["errors"][0]["field"] == "name"
    assert "lone surrogate" in problem["errors"][0]["message"]
    assert await User.count() == 0


async def test_the_forms_refuse_bad_text_by_field(app: Quart) -> None:
    before = await rows()
    visitor = Browser(app)
    page = await visitor.sign_up("A\x00da")
    assert page.status == 422 and page.field_error("name")
    owner = await signed_up(app, "Owner")
    before = await rows()
    page = await owner.submit_poll(ZWSP, ["Pizza", "Salad"])
    assert page.status == 422 and page.field_error("question")
    page = await owner.submit_poll("Lunch?", ["Pizza", f"pizza{ZWSP}"])
    assert page.status == 422 and page.field_error("options")
    poll_id = await owner.create_poll(guests=True)
    guest = Browser(app)
    page = await guest.post(f"/guest?next=/polls/{poll_id}", {"name": f"{ZWSP}{BOM}"})
    assert page.status == 422 and page.field_error("name")
    assert await Poll.count() == before[2] + 1


async def test_odd_codes_and_ids_are_a_404_or_a_refusal_not_a_500(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    poll_id = await owner.create_poll()
    client = app.test_client()
    for path in ("/join?code=%00", "/j/%00", "/j/%D9%A1", f"/polls/{poll_id}?code=%00"):
        assert (await client.get(path)).status_code in (200, 404), path
    page = await owner.vote(poll_id, 0)
    assert page.status == 422
    huge = await owner.post(f"/polls/{poll_id}/vote", {"option_id": "9" * 5000})
    assert huge.status == 422
    assert await Vote.count() == 0
    for path in ("/api/v1/polls/01", "/api/v1/polls/%D9%A1", "/api/v1/polls/0"):
        assert (await client.get(path)).status_code == 404, path


def test_clean_and_same_key() -> None:
    assert clean("  Cafe\u0301 \t") == "Café"  # NFC, trimmed
    assert clean(f"{ZWSP}{BOM}") == ""
    assert clean("👩\u200d💻") == "👩\u200d💻", "a joiner inside an emoji stays"
    assert same_key("Ａ  B") == same_key("a b") == same_key(f"A{ZWSP} B")
    with pytest.raises(ValueError, match="control"):
        clean("a\x00b")
    with pytest.raises(ValueError, match="bidirectional"):
        clean(f"a{RLO}b")


async def test_digits_that_are_not_ascii_are_refused_not_a_500(app: Quart) -> None:
    owner = await signed_up(app, "Owner")
    page = await owner.submit_poll("Q?", ["a", "b"], guests=True, network_cap="²")
    assert page.status == 422 and page.field_error("guest_network_cap")
    poll_id = await owner.create_poll(guests=True)
    assert (
        await owner.post(f"/polls/{poll_id}/network-cap", {"guest_network_cap": "²"})
    ).status == 422
    invite_poll = await owner.create_poll(voting="invite_codes")
    assert (await owner.post(f"/polls/{invite_poll}/invite-codes", {"count": "²"})).status == 422
    assert (await owner.post(f"/polls/{poll_id}/vote", {"option_id": "١"})).status == 422
    assert (await owner.get("/?cursor=%C2%B2")).status == 200
