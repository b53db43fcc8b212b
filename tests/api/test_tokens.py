"""POST /api/v1/auth/tokens, DELETE /api/v1/auth/tokens/current, and password storage."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from quart.wrappers import Response

from tests.api.problems import assert_problem
from tests.conftest import TEST_SETTINGS, MakeMember
from webapp import create_app
from webapp.tables import AuthToken, User

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

USERS = "/api/v1/users"
TOKENS = "/api/v1/auth/tokens"
CURRENT = "/api/v1/auth/tokens/current"
ME = "/api/v1/users/me"


async def assert_401(response: Response) -> dict[str, Any]:
    body = await assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    return body


async def sign_up(
    client: TestClientProtocol,
    email: str = "ann@example.org",
    password: str = "correct horse",
    name: str = "Ann",
) -> dict[str, Any]:
    response = await client.post(USERS, json={"name": name, "email": email, "password": password})
    assert response.status_code == 201, await response.get_data(as_text=True)
    return dict(await response.get_json())


async def sign_in(client: TestClientProtocol, email: str, password: str) -> Response:
    return await client.post(TOKENS, json={"email": email, "password": password})


async def token_for(client: TestClientProtocol, email: str, password: str) -> str:
    response = await sign_in(client, email, password)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return str((await response.get_json())["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def stored_hash(email: str) -> str:
    row = await User.select(User.password_hash).where(User.email == email).first()
    assert row is not None
    return str(row["password_hash"])


async def token_count() -> int:
    return int(await AuthToken.count())


# --- POST /auth/tokens ------------------------------------------------------------------------


async def test_sign_in_returns_201_with_bearer_token_and_user(
    client: TestClientProtocol,
) -> None:
    user = await sign_up(client)

    response = await sign_in(client, "ann@example.org", "correct horse")

    assert response.status_code == 201
    body = await response.get_json()
    assert set(body) == {"token", "token_type", "user"}
    assert body["token_type"] == "bearer"
    assert isinstance(body["token"], str) and len(body["token"]) >= 32
    assert body["user"] == user
    text = await response.get_data(as_text=True)
    assert "password" not in text.lower()
    assert "argon2" not in text


async def test_issued_token_works_for_users_me(client: TestClientProtocol) -> None:
    user = await sign_up(client)
    token = await token_for(client, "ann@example.org", "correct horse")

    response = await client.get(ME, headers=bearer(token))

    assert response.status_code == 200
    body = await response.get_json()
    assert body["id"] == user["id"]
    assert body["email"] == "ann@example.org"


async def test_each_sign_in_issues_a_distinct_token(client: TestClientProtocol) -> None:
    await sign_up(client)

    first = await token_for(client, "ann@example.org", "correct horse")
    second = await token_for(client, "ann@example.org", "correct horse")

    assert first != second
    assert await token_count() == 2


async def test_token_is_stored_only_as_its_sha256_digest(client: TestClientProtocol) -> None:
    await sign_up(client)
    token = await token_for(client, "ann@example.org", "correct horse")

    rows = await AuthToken.select(AuthToken.token_hash, AuthToken.expires_at)

    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert rows[0]["token_hash"] != token
    expires_in = rows[0]["expires_at"] - datetime.now(UTC)
    assert timedelta(days=29) < expires_in <= timedelta(days=30)


async def test_wrong_password_is_401(client: TestClientProtocol) -> None:
    await sign_up(client)

    response = await sign_in(client, "ann@example.org", "wrong horse")

    await assert_401(response)
    assert await token_count() == 0


async def test_unknown_email_is_401(client: TestClientProtocol) -> None:
    await sign_up(client)

    response = await sign_in(client, "nobody@example.org", "correct horse")

    await assert_401(response)
    assert await token_count() == 0


async def test_wrong_password_and_unknown_email_give_identical_responses(
    client: TestClientProtocol,
) -> None:
    await sign_up(client)

    wrong_password = await sign_in(client, "ann@example.org", "wrong horse")
    unknown_email = await sign_in(client, "nobody@example.org", "correct horse")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert await wrong_password.get_data() == await unknown_email.get_data()
    assert wrong_password.headers["Content-Type"] == unknown_email.headers["Content-Type"]
    assert wrong_password.headers["WWW-Authenticate"] == unknown_email.headers["WWW-Authenticate"]


async def test_sign_in_with_no_users_at_all_is_401(client: TestClientProtocol) -> None:
    response = await sign_in(client, "nobody@example.org", "correct horse")

    await assert_401(response)


@pytest.mark.parametrize("typed", ["ANN@EXAMPLE.ORG", "ann@example.org", "Ann@Example.Org"])
async def test_sign_in_matches_the_email_case_insensitively(
    client: TestClientProtocol, typed: str
) -> None:
    user = await sign_up(client, email="Ann@example.org")

    response = await sign_in(client, typed, "correct horse")

    assert response.status_code == 201, await response.get_data(as_text=True)
    assert (await response.get_json())["user"]["id"] == user["id"]


async def test_sign_in_ignores_whitespace_around_the_email(client: TestClientProtocol) -> None:
    await sign_up(client)

    response = await sign_in(client, "  ann@example.org ", "correct horse")

    assert response.status_code == 201


async def test_password_is_case_sensitive(client: TestClientProtocol) -> None:
    await sign_up(client)

    response = await sign_in(client, "ann@example.org", "Correct Horse")

    await assert_401(response)


@pytest.mark.parametrize("missing", ["email", "password"])
async def test_sign_in_missing_field_is_422_naming_it(
    client: TestClientProtocol, missing: str
) -> None:
    body = {"email": "ann@example.org", "password": "correct horse"}
    del body[missing]

    response = await client.post(TOKENS, json=body)

    problem = await assert_problem(response, 422)
    assert missing in [error["field"] for error in problem["errors"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", ""), ("password", ""), ("email", 1), ("password", 12345678), ("password", None)],
)
async def test_sign_in_empty_or_wrongly_typed_field_is_422(
    client: TestClientProtocol, field: str, value: Any
) -> None:
    await sign_up(client)
    body = {"email": "ann@example.org", "password": "correct horse", field: value}

    response = await client.post(TOKENS, json=body)

    problem = await assert_problem(response, 422)
    assert field in [error["field"] for error in problem["errors"]]
    assert await token_count() == 0


async def test_sign_in_unknown_field_is_422(client: TestClientProtocol) -> None:
    await sign_up(client)
    body = {"email": "ann@example.org", "password": "correct horse", "remember": True}

    response = await client.post(TOKENS, json=body)

    problem = await assert_problem(response, 422)
    assert "remember" in [error["field"] for error in problem["errors"]]
    assert await token_count() == 0


async def test_sign_in_password_over_128_chars_is_422(client: TestClientProtocol) -> None:
    response = await sign_in(client, "ann@example.org", "p" * 129)

    problem = await assert_problem(response, 422)
    assert "password" in [error["field"] for error in problem["errors"]]


async def test_sign_in_with_a_non_json_body_is_415(client: TestClientProtocol) -> None:
    await sign_up(client)

    response = await client.post(
        TOKENS, form={"email": "ann@example.org", "password": "correct horse"}
    )

    await assert_problem(response, 415)
    assert await token_count() == 0


async def test_sign_in_with_malformed_json_is_400(client: TestClientProtocol) -> None:
    response = await client.post(
        TOKENS, data='{"email": "ann@example.org"', headers={"Content-Type": "application/json"}
    )

    await assert_problem(response, 400)


# --- expiry -----------------------------------------------------------------------------------


async def test_expired_token_is_401(client: TestClientProtocol, make_member: MakeMember) -> None:
    ann = await make_member("ann")
    digest = hashlib.sha256(ann.token.encode()).hexdigest()
    await AuthToken.update({AuthToken.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        AuthToken.token_hash == digest
    )

    response = await client.get(ME, headers=ann.auth)

    await assert_401(response)


# --- DELETE /auth/tokens/current --------------------------------------------------------------


async def test_sign_out_is_204_with_empty_body(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")

    response = await client.delete(CURRENT, headers=ann.auth)

    assert response.status_code == 204
    assert await response.get_data() == b""
    assert await token_count() == 0


async def test_signed_out_token_is_rejected_immediately(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")
    assert (await client.get(ME, headers=ann.auth)).status_code == 200

    await client.delete(CURRENT, headers=ann.auth)

    await assert_401(await client.get(ME, headers=ann.auth))
    await assert_401(await client.get(f"{USERS}/{ann.id}", headers=ann.auth))


async def test_signing_out_twice_is_401_the_second_time(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")
    assert (await client.delete(CURRENT, headers=ann.auth)).status_code == 204

    response = await client.delete(CURRENT, headers=ann.auth)

    await assert_401(response)


async def test_sign_out_leaves_the_users_other_tokens_working(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")
    other = await token_for(client, ann.email, ann.password)

    assert (await client.delete(CURRENT, headers=ann.auth)).status_code == 204

    response = await client.get(ME, headers=bearer(other))
    assert response.status_code == 200
    assert (await response.get_json())["id"] == ann.id
    await assert_401(await client.get(ME, headers=ann.auth))


async def test_sign_out_leaves_other_users_tokens_working(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")
    bob = await make_member("bob")

    assert (await client.delete(CURRENT, headers=ann.auth)).status_code == 204

    response = await client.get(ME, headers=bob.auth)
    assert response.status_code == 200
    assert (await response.get_json())["id"] == bob.id


async def test_sign_out_anonymously_is_401(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    await make_member("ann")

    response = await client.delete(CURRENT)

    await assert_401(response)
    assert await token_count() == 1


async def test_sign_out_with_a_garbage_token_is_401_and_revokes_nothing(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")

    response = await client.delete(CURRENT, headers=bearer("not-a-real-token"))

    await assert_401(response)
    assert (await client.get(ME, headers=ann.auth)).status_code == 200


async def test_signing_in_again_after_sign_out_works(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")
    await client.delete(CURRENT, headers=ann.auth)

    token = await token_for(client, ann.email, ann.password)

    assert (await client.get(ME, headers=bearer(token))).status_code == 200


# --- password storage -------------------------------------------------------------------------


async def test_password_is_stored_as_an_argon2id_hash(client: TestClientProtocol) -> None:
    await sign_up(client, password="correct horse")

    password_hash = await stored_hash("ann@example.org")

    assert password_hash.startswith("$argon2id$")
    assert "correct horse" not in password_hash
    assert ",t=1," in password_hash  # the cheap test parameters were used


async def test_same_password_gets_a_different_salted_hash_per_user(
    client: TestClientProtocol,
) -> None:
    await sign_up(client, email="ann@example.org", password="same password")
    await sign_up(client, email="bob@example.org", password="same password", name="Bob")

    assert await stored_hash("ann@example.org") != await stored_hash("bob@example.org")


async def test_sign_in_with_unchanged_parameters_keeps_the_hash(
    client: TestClientProtocol,
) -> None:
    await sign_up(client)
    before = await stored_hash("ann@example.org")

    await token_for(client, "ann@example.org", "correct horse")

    assert await stored_hash("ann@example.org") == before


async def test_sign_in_rehashes_the_password_when_parameters_change() -> None:
    old = create_app(TEST_SETTINGS)
    async with old.test_app():
        await sign_up(old.test_client())
    before = await stored_hash("ann@example.org")
    assert ",t=1," in before

    new = create_app({**TEST_SETTINGS, "password_time_cost": 2})
    async with new.test_app():
        client = new.test_client()
        wrong = await sign_in(client, "ann@example.org", "wrong horse")
        await assert_401(wrong)
        assert await stored_hash("ann@example.org") == before, "a failed sign-in must not rehash"

        token = await token_for(client, "ann@example.org", "correct horse")
        after = await stored_hash("ann@example.org")
        assert after != before
        assert after.startswith("$argon2id$")
        assert ",t=2," in after

        # The new hash still verifies, and is not rehashed again.
        assert (await client.get(ME, headers=bearer(token))).status_code == 200
        await token_for(client, "ann@example.org", "correct horse")
        assert await stored_hash("ann@example.org") == after
