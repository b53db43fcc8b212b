"""The OpenAPI document and the interactive docs page, served without any CDN."""

from __future__ import annotations

import re

import pytest
from quart.typing import TestClientProtocol as Client

from webapp.text import PATTERN

API_PATHS = {
    "/api/v1/users",
    "/api/v1/users/me",
    "/api/v1/users/{user_id}",
    "/api/v1/auth/tokens",
    "/api/v1/auth/tokens/current",
    "/api/v1/polls",
    "/api/v1/polls/{poll_id}",
    "/api/v1/polls/{poll_id}/votes",
    "/api/v1/polls/{poll_id}/votes/{option_id}",
    "/api/v1/polls/{poll_id}/votes/me",
    "/api/v1/polls/{poll_id}/results",
    "/api/v1/polls/{poll_id}/invite-codes",
    "/api/v1/polls/{poll_id}/invite-codes/redeem",
    "/api/v1/polls/{poll_id}/integrity",
}


async def test_openapi_describes_every_endpoint_with_bodies(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = await response.get_json()
    assert set(spec["paths"]) >= API_PATHS
    post_vote = spec["paths"]["/api/v1/polls/{poll_id}/votes"]["post"]
    assert "requestBody" in post_vote and "201" in post_vote["responses"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_the_spec_is_the_api_alone_grouped_by_resource(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    assert all(path.startswith("/api/v1/") for path in spec["paths"]), sorted(spec["paths"])
    tags = {
        tag
        for operations in spec["paths"].values()
        for operation in operations.values()
        for tag in operation.get("tags", [])
    }
    assert {"Users", "Tokens", "Polls", "Votes and results"} <= tags
    assert spec["paths"]["/api/v1/polls"]["post"]["tags"] == ["Polls"]


async def test_docs_page_loads_its_assets_from_this_server(client: Client) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(asset.startswith("/static/") for asset in assets)
    assert "<script>" not in page  # no inline script
    for asset in assets:
        assert (await client.get(asset)).status_code == 200


async def test_every_error_an_operation_can_answer_is_declared_as_a_problem(
    client: Client,
) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    assert "Problem" in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            statuses = {int(status) for status in operation["responses"]}
            assert 503 in statuses, name
            if "{" in path:
                assert 404 in statuses, name
            if "requestBody" in operation:
                assert {400, 413, 415, 422} <= statuses, name
                assert operation["requestBody"]["required"] is True, name
            if operation.get("security"):
                assert 401 in statuses, name
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    content = response["content"]["application/problem+json"]
                    assert content["schema"] == {"$ref": "#/components/schemas/Problem"}, name
    votes = spec["paths"]["/api/v1/polls/{poll_id}/votes"]["post"]["responses"]
    assert {"403", "409", "422", "429"} <= set(votes)
    assert "Retry-After" in votes["429"]["headers"]


async def test_path_ids_are_documented_as_the_ids_the_routes_take(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    parameters = spec["paths"]["/api/v1/polls/{poll_id}"]["get"]["parameters"]
    (poll_id,) = [parameter for parameter in parameters if parameter["in"] == "path"]
    assert poll_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_an_id_past_the_range_is_a_404_for_every_method(client: Client, method: str) -> None:
    """Werkzeug answered 405 (with a wrong Allow) when a converter refused the number."""
    for poll_id in ("2147483648", "9999999999"):
        response = await client.open(f"/api/v1/polls/{poll_id}", method=method, json={})
        assert response.status_code == 404, (method, poll_id, response.status_code)
    existing = await client.open("/api/v1/polls/2147483647", method=method, json={})
    assert existing.status_code != 405


async def test_text_fields_carry_the_pattern_their_validation_applies(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    body = spec["paths"]["/api/v1/polls"]["post"]["requestBody"]["content"]["application/json"]
    properties = body["schema"]["properties"]
    assert properties["question"]["pattern"] == PATTERN
    # options may be left out (or null) for a kind without options (#15): the list's schema
    # is the non-null branch.
    (options,) = [o for o in properties["options"]["anyOf"] if o.get("type") == "array"]
    assert options["items"]["pattern"] == PATTERN
    assert options["uniqueItems"] is True
    scale = spec["components"]["schemas"]["ScaleSettings"]["properties"]
    assert scale["low_label"]["pattern"] == scale["high_label"]["pattern"] == PATTERN
    update = spec["paths"]["/api/v1/polls/{poll_id}"]["patch"]["requestBody"]["content"]
    assert update["application/json"]["schema"]["minProperties"] == 1


async def test_the_type_adapter_patch_took(client: Client) -> None:
    """quart-schema builds its adapters through the cached one (webapp/api/adapters.py)."""
    from quart_schema import conversion

    from webapp.api import adapters

    assert conversion.TypeAdapter is adapters._cached
    assert adapters.install() is True  # applying again is harmless
