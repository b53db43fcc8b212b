"""Helpers for the question kinds' tests: make a poll of a kind, respond, read results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.conftest import Member

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol
    from quart.wrappers import Response


async def make_kind_poll(
    client: TestClientProtocol, member: Member, kind: str, **settings: Any
) -> dict[str, Any]:
    body = {"question": f"A {kind} question", "kind": kind, "is_published": True, **settings}
    response = await client.post("/api/v1/polls", json=body, headers=member.auth)
    assert response.status_code == 201, await response.get_data(as_text=True)
    poll: dict[str, Any] = await response.get_json()
    return poll


async def put_response(
    client: TestClientProtocol, member: Member, poll_id: int, **body: Any
) -> Response:
    return await client.put(f"/api/v1/polls/{poll_id}/response", json=body, headers=member.auth)


async def results(
    client: TestClientProtocol, poll_id: int, member: Member | None = None
) -> dict[str, Any]:
    headers = member.auth if member else {}
    response = await client.get(f"/api/v1/polls/{poll_id}/results", headers=headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    return body
