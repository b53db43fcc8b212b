"""Smoke test of an installed wheel (run by .ci/wheel-smoke against `livepolls serve` started
from the wheel's virtualenv, outside the checkout): sign up, create a poll, a page and its
assets render, a vote arrives on a live connection. Exits non-zero with the reason."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx
from websockets.asyncio.client import connect

DEADLINE_S = 30.0


async def wait_healthy(http: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server never became ready")
        await asyncio.sleep(0.2)


def expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise SystemExit(
            f"{response.request.method} {response.request.url}: "
            f"{response.status_code} {response.text[:500]}"
        )
    return response


async def main(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        await wait_healthy(http)
        account = {"name": "Smoke", "email": "smoke@example.com", "password": "smoke test 1"}
        expect(await http.post("/api/v1/users", json=account), 201)
        credentials = {"email": account["email"], "password": account["password"]}
        signed_in = expect(await http.post("/api/v1/auth/tokens", json=credentials), 201)
        token = signed_in.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        poll = expect(
            await http.post(
                "/api/v1/polls",
                headers=auth,
                json={
                    "question": "Does the wheel work?",
                    "options": ["Yes", "No"],
                    "is_published": True,
                },
            ),
            201,
        ).json()
        page = expect(await http.get(f"/polls/{poll['id']}"), 200).text
        if "Does the wheel work?" not in page:
            raise SystemExit("the poll page does not show the question")
        for asset in ("/static/css/app.css", "/static/js/app.js", "/docs", "/openapi.json"):
            expect(await http.get(asset), 200)
        live = base_url.replace("http", "ws", 1) + f"/api/v1/polls/{poll['id']}/live"
        async with connect(live, additional_headers=auth, proxy=None, open_timeout=10) as ws:
            first = await next_results(ws)
            if first["total_votes"] != 0:
                raise SystemExit(f"unexpected first snapshot {first}")
            yes = poll["options"][0]["id"]
            expect(
                await http.post(
                    f"/api/v1/polls/{poll['id']}/votes", headers=auth, json={"option_id": yes}
                ),
                201,
            )
            deadline = time.monotonic() + DEADLINE_S
            while (await next_results(ws, deadline))["total_votes"] != 1:
                pass
    print("wheel smoke test: sign-up, poll, page, assets, vote and live update all work")


async def next_results(ws: object, deadline: float | None = None) -> dict:
    deadline = deadline or time.monotonic() + DEADLINE_S
    while True:
        raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))  # type: ignore[attr-defined]
        message = json.loads(raw)
        if message["type"] == "results":
            return dict(message)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
