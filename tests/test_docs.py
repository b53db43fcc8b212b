"""The OpenAPI document and the interactive docs page, served without any CDN."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client

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
