"""/metrics: Prometheus text, counts that follow what happened, route labels from URL rules,
and a token when the operator sets one."""

from __future__ import annotations

import re

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.conftest import TEST_SETTINGS, MakeMember, MakePoll
from webapp import create_app


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when it is absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{([^}]*)\})? (\S+)$", line)
        if not match or match[1] != name:
            continue
        found = ",".join(sorted((match[2] or "").split(","))) if match[2] else ""
        if found == wanted:
            return float(match[3])
    return 0.0


async def scrape(client: Client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return await response.get_data(as_text=True)


async def test_votes_and_requests_are_counted_by_route_rule(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    option = poll["options"][0]["id"]
    before = await scrape(client)
    route = "/api/v1/polls/<id:poll_id>/votes"

    voted = await client.post(
        f"/api/v1/polls/{poll['id']}/votes", json={"option_id": option}, headers=ann.auth
    )
    assert voted.status_code == 201
    again = await client.post(
        f"/api/v1/polls/{poll['id']}/votes", json={"option_id": option}, headers=ann.auth
    )
    assert again.status_code == 200  # already so: no change, no vote counted
    await client.get("/no/such/page/12345")

    after = await scrape(client)
    assert sample(after, "livepolls_votes_total") == sample(before, "livepolls_votes_total") + 1
    for status in ("201", "200"):
        labels = {"method": "POST", "route": route, "status": status}
        grown = sample(after, "livepolls_http_requests_total", **labels)
        assert grown == sample(before, "livepolls_http_requests_total", **labels) + 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert sample(after, "livepolls_http_requests_total", **unmatched) >= 1
    assert "/no/such/page" not in after  # raw paths never become labels
    assert "livepolls_http_request_duration_seconds_bucket" in after


async def test_a_metrics_token_is_required_once_set() -> None:
    app: Quart = create_app({**TEST_SETTINGS, "metrics_token": "s3cret-token"})
    async with app.test_app():
        client = app.test_client()
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert right.status_code == 200
