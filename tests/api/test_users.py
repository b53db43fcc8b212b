"""POST /api/v1/users, GET /api/v1/users/{id} and GET /api/v1/users/me."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from quart import Quart

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember
from webapp.tables import User

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

USERS = "/api/v1/users"
TOKENS = "/api/v1/auth/tokens"


def signup(
    name: str = "Ann", email: str = "ann@example.org", password: str = "correct horse"
) -> dict[str, Any]:
    return {"name": name, "email": email, "password": password}


async def user_count() -> int:
    return int(await User.count())


async def can_sign_in(client: TestClientProtocol, email: str, password: str) -> bool:
    response = await client.post(TOKENS, json={"email": email, "password": password})
    return response.status_code == 201


def assert_no_secrets(text: str) -> None:
    lowered = text.lower()
    assert "password" not in lowered
    assert "argon2" not in lowered
    assert "password_hash" not in lowered


# --- POST /users: success -------------------------------------------------------------------


async def test_signup_returns_201_with_profile_and_location(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json=signup())

    assert response.status_code == 201
    body = await response.get_json()
    assert set(body) == {"id", "name", "email", "created_at", "is_guest", "invited_to"}
    assert isinstance(body["id"], int) and body["id"] >= 1
    assert body["name"] == "Ann"
    assert body["email"] == "ann@example.org"
    created_at = datetime.fromisoformat(body["created_at"])
    assert created_at.tzinfo is not None
    assert response.headers["Location"].endswith(f"/api/v1/users/{body['id']}")


async def test_signup_location_header_points_at_the_new_user(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json=signup())
    created = await response.get_json()

    followed = await client.get(response.headers["Location"])

    assert followed.status_code == 200
    profile = await followed.get_json()
    assert profile["id"] == created["id"]
    assert profile["name"] == "Ann"


async def test_signup_response_never_contains_password_or_hash(
    client: TestClientProtocol,
) -> None:
    response = await client.post(USERS, json=signup(password="hunter2hunter2"))

    assert response.status_code == 201
    text = await response.get_data(as_text=True)
    assert_no_secrets(text)
    assert "hunter2hunter2" not in text


async def test_signup_strips_whitespace_around_the_name(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json=signup(name="  Ann  "))

    assert response.status_code == 201
    assert (await response.get_json())["name"] == "Ann"


async def test_signup_then_sign_in_with_the_same_credentials(client: TestClientProtocol) -> None:
    await client.post(USERS, json=signup())

    assert await can_sign_in(client, "ann@example.org", "correct horse")


# --- POST /users: duplicates -------------------------------------------------------------------


async def test_signup_with_taken_email_is_409(client: TestClientProtocol) -> None:
    first = await client.post(USERS, json=signup())
    assert first.status_code == 201

    second = await client.post(USERS, json=signup(name="Other Ann", password="another pass"))

    await assert_problem(second, 409)
    assert await user_count() == 1
    assert not await can_sign_in(client, "ann@example.org", "another pass")


async def test_signup_duplicate_email_is_detected_regardless_of_case(
    client: TestClientProtocol,
) -> None:
    first = await client.post(USERS, json=signup(email="Ann@x.org"))
    assert first.status_code == 201

    second = await client.post(USERS, json=signup(email="ann@X.ORG"))

    await assert_problem(second, 409)
    assert await user_count() == 1


async def test_concurrent_signups_with_one_email_create_one_user(
    client: TestClientProtocol,
) -> None:
    bodies = [signup(email="ann@example.org"), signup(email="ANN@example.org")] * 3

    responses = await asyncio.gather(*(client.post(USERS, json=body) for body in bodies))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409, 409]
    for response in responses:
        if response.status_code == 409:
            await assert_problem(response, 409)
    assert await user_count() == 1


# --- POST /users: invalid bodies --------------------------------------------------------------


@pytest.mark.parametrize("missing", ["name", "email", "password"])
async def test_signup_missing_field_is_422_naming_it(
    client: TestClientProtocol, missing: str
) -> None:
    body = signup()
    del body[missing]

    response = await client.post(USERS, json=body)

    await assert_validation_problem(response, missing)
    assert await user_count() == 0


async def test_signup_empty_object_is_422_naming_every_field(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json={})

    body = await assert_validation_problem(response, "name")
    fields = {error["field"] for error in body["errors"]}
    assert {"name", "email", "password"} <= fields
    assert await user_count() == 0


async def test_signup_unknown_field_is_422_naming_it(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json={**signup(), "is_admin": True})

    await assert_validation_problem(response, "is_admin")
    assert await user_count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 123),
        ("name", None),
        ("name", ["Ann"]),
        ("email", 42),
        ("password", 12345678),
        ("password", True),
    ],
)
async def test_signup_wrong_type_is_422_naming_the_field(
    client: TestClientProtocol, field: str, value: Any
) -> None:
    response = await client.post(USERS, json={**signup(), field: value})

    await assert_validation_problem(response, field)
    assert await user_count() == 0


@pytest.mark.parametrize("name", ["", "   "])
async def test_signup_blank_name_is_422(client: TestClientProtocol, name: str) -> None:
    response = await client.post(USERS, json=signup(name=name))

    await assert_validation_problem(response, "name")
    assert await user_count() == 0


async def test_signup_name_of_100_chars_is_accepted(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json=signup(name="n" * 100))

    assert response.status_code == 201
    assert (await response.get_json())["name"] == "n" * 100


async def test_signup_name_over_100_chars_is_422(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json=signup(name="n" * 101))

    await assert_validation_problem(response, "name")
    assert await user_count() == 0


async def test_signup_password_of_7_chars_is_422(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json=signup(password="s3cr3t!"))

    await assert_validation_problem(response, "password")
    assert await user_count() == 0
    assert not await can_sign_in(client, "ann@example.org", "s3cr3t!")


async def test_signup_rejection_does_not_echo_the_password(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json=signup(password="s3cr3t!"))

    await assert_validation_problem(response, "password")
    assert "s3cr3t!" not in await response.get_data(as_text=True)


@pytest.mark.parametrize("length", [8, 64, 128])
async def test_signup_password_within_limits_is_accepted(
    client: TestClientProtocol, length: int
) -> None:
    password = ("pass-word" * 20)[:length]

    response = await client.post(USERS, json=signup(password=password))

    assert response.status_code == 201, await response.get_data(as_text=True)
    assert await can_sign_in(client, "ann@example.org", password)


async def test_signup_password_of_129_chars_is_422(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json=signup(password="p" * 129))

    await assert_validation_problem(response, "password")
    assert await user_count() == 0


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "ann@", "@example.org", "ann@@example.org", "ann example@example.org", ""],
)
async def test_signup_invalid_email_is_422(client: TestClientProtocol, email: str) -> None:
    response = await client.post(USERS, json=signup(email=email))

    await assert_validation_problem(response, "email")
    assert await user_count() == 0


def email_of_length(length: int) -> str:
    """A syntactically valid address of exactly `length` characters (labels of <= 63)."""
    local = "a" * 64
    tld = ".org"
    room = length - len(local) - 1 - len(tld)
    labels: list[str] = []
    while room > 0:
        label = min(room, 63)
        if room - label == 1:  # a lone separator cannot stand on its own: shorten this label
            label -= 1
        labels.append("d" * label)
        room -= label + 1  # the label and the dot after it
    domain = ".".join(labels) + tld
    address = f"{local}@{domain}"
    assert len(address) == length, len(address)
    return address


async def test_signup_email_of_254_chars_is_accepted(client: TestClientProtocol) -> None:
    email = email_of_length(254)

    response = await client.post(USERS, json=signup(email=email))

    assert response.status_code == 201, await response.get_data(as_text=True)
    assert (await response.get_json())["email"] == email


async def test_signup_email_over_254_chars_is_422(client: TestClientProtocol) -> None:
    response = await client.post(USERS, json=signup(email=email_of_length(255)))

    await assert_validation_problem(response, "email")
    assert await user_count() == 0


@pytest.mark.parametrize("payload", [[], ["Ann"], "Ann", 42, None])
async def test_signup_body_that_is_not_an_object_is_422(
    client: TestClientProtocol, payload: Any
) -> None:
    response = await client.post(
        USERS, data=json.dumps(payload), headers={"Content-Type": "application/json"}
    )

    await assert_problem(response, 422)
    assert await user_count() == 0


async def test_signup_malformed_json_is_400(client: TestClientProtocol) -> None:
    response = await client.post(
        USERS,
        data='{"name": "Ann", "email": "ann@example.org", ',
        headers={"Content-Type": "application/json"},
    )

    await assert_problem(response, 400)
    assert await user_count() == 0


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_signup_non_json_content_type_is_415(
    client: TestClientProtocol, content_type: str
) -> None:
    raw = '{"name": "Ann", "email": "ann@example.org", "password": "correct horse"}'

    response = await client.post(USERS, data=raw, headers={"Content-Type": content_type})

    await assert_problem(response, 415)
    assert await user_count() == 0


async def test_signup_form_body_is_415(client: TestClientProtocol) -> None:
    response = await client.post(USERS, form=signup())

    await assert_problem(response, 415)
    assert await user_count() == 0


async def test_signup_body_over_the_size_limit_is_413(
    app: Quart, client: TestClientProtocol
) -> None:
    limit = app.extensions["settings"].max_body_bytes
    assert limit == 64 * 1024
    body = signup(name="x" * (limit + 1))

    response = await client.post(USERS, json=body)

    await assert_problem(response, 413)
    assert await user_count() == 0


async def test_signup_body_just_under_the_size_limit_is_not_413(
    app: Quart, client: TestClientProtocol
) -> None:
    """A big but in-limit body reaches validation (the name is too long: 422, not 413)."""
    limit = app.extensions["settings"].max_body_bytes
    overhead = len(json.dumps(signup(name="")))
    body = signup(name="x" * (limit - overhead - 16))

    response = await client.post(USERS, json=body)

    await assert_validation_problem(response, "name")


# --- GET /users/{id} --------------------------------------------------------------------------


async def test_get_user_anonymously_hides_the_email(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")

    response = await client.get(f"{USERS}/{ann.id}")

    assert response.status_code == 200
    body = await response.get_json()
    assert body["id"] == ann.id
    assert body["name"] == "ann"
    assert body["email"] is None
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert_no_secrets(await response.get_data(as_text=True))


async def test_get_user_as_another_member_hides_the_email(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")
    bob = await make_member("bob")

    response = await client.get(f"{USERS}/{ann.id}", headers=bob.auth)

    assert response.status_code == 200
    body = await response.get_json()
    assert body["id"] == ann.id
    assert body["email"] is None


async def test_get_user_as_that_user_shows_the_email(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")

    response = await client.get(f"{USERS}/{ann.id}", headers=ann.auth)

    assert response.status_code == 200
    body = await response.get_json()
    assert body["id"] == ann.id
    assert body["name"] == "ann"
    assert body["email"] == ann.email
    assert_no_secrets(await response.get_data(as_text=True))


async def test_get_user_with_a_garbage_token_is_401(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")

    response = await client.get(
        f"{USERS}/{ann.id}", headers={"Authorization": "Bearer not-a-real-token"}
    )

    await assert_problem(response, 401)
    assert "WWW-Authenticate" in response.headers


async def test_get_unknown_user_is_404(client: TestClientProtocol, make_member: MakeMember) -> None:
    ann = await make_member("ann")

    response = await client.get(f"{USERS}/{ann.id + 1000}")

    await assert_problem(response, 404)


@pytest.mark.parametrize("user_id", ["0", "-1", "99999999999", "2147483648", "abc", "1.5"])
async def test_get_user_with_an_out_of_range_or_malformed_id_is_404(
    client: TestClientProtocol, user_id: str
) -> None:
    response = await client.get(f"{USERS}/{user_id}")

    await assert_problem(response, 404)


# --- GET /users/me ----------------------------------------------------------------------------


async def test_me_with_a_token_returns_the_caller_with_email(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")
    await make_member("bob")

    response = await client.get(f"{USERS}/me", headers=ann.auth)

    assert response.status_code == 200
    body = await response.get_json()
    assert set(body) == {"id", "name", "email", "created_at", "is_guest", "invited_to"}
    assert body["id"] == ann.id
    assert body["name"] == "ann"
    assert body["email"] == ann.email
    assert_no_secrets(await response.get_data(as_text=True))


async def test_me_without_a_token_is_401_with_www_authenticate(
    client: TestClientProtocol,
) -> None:
    response = await client.get(f"{USERS}/me")

    await assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-real-token", "Bearer ", "Basic YW5uOnBhc3N3b3Jk", "not-a-real-token"],
)
async def test_me_with_a_bad_authorization_header_is_401_with_www_authenticate(
    client: TestClientProtocol, make_member: MakeMember, authorization: str
) -> None:
    await make_member("ann")

    response = await client.get(f"{USERS}/me", headers={"Authorization": authorization})

    await assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


async def test_me_accepts_a_lowercase_bearer_scheme(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")

    response = await client.get(f"{USERS}/me", headers={"Authorization": f"bearer {ann.token}"})

    assert response.status_code == 200
    assert (await response.get_json())["id"] == ann.id
