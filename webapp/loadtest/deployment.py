"""What the load test asks of the deployment's JSON API: its account, its poll, its voters.

The poll is the load test's own: named "livepolls loadtest <time>", published, single-choice
with two options, open to invite codes only, results shown to everyone. Each voter is an
invite code the poll's creator issued and the load test redeemed, so no account is created and
no other poll is touched; deleting the poll at the end takes its votes and codes with it, and
the voters' tokens are signed out (the server prunes such voters later, as any idle guest).

Every request goes to the one origin of the Target: httpx does not follow redirects here, reads
no proxy from the environment, and a hook refuses any request for another origin.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from webapp.loadtest.target import Target

API = "/api/v1"
CODES_PER_REQUEST = 500  # the API's most per request
OPTIONS = ["A", "B"]
# The server's 429 details (webapp.ratelimits.MESSAGES) and the setting that raises each.
LIMIT_SETTINGS = {
    "Too many sign-in attempts from your network.": "LIVEPOLLS_LIMIT_SIGNIN_PER_ADDRESS",
    "Too many sign-in attempts for this account.": "LIVEPOLLS_LIMIT_SIGNIN_PER_EMAIL",
    "Too many invite codes tried from your network.": "LIVEPOLLS_LIMIT_INVITES_PER_ADDRESS",
    "Too many new polls from this account.": "LIVEPOLLS_LIMIT_POLLS_PER_ACCOUNT",
    "Too many votes from this account.": "LIVEPOLLS_LIMIT_VOTES_PER_ACCOUNT",
    "Too many votes from your network.": "LIVEPOLLS_LIMIT_VOTES_PER_ADDRESS",
}


class SetupError(RuntimeError):
    """The deployment refused something the load test needs before it can start."""


def explain(response: httpx.Response, retry: bool = True) -> str:
    """A refusal in words: the status, the problem's detail, and for a 429 what to raise
    (and, with `retry`, when the server said to try again)."""
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("detail") or body.get("title") or "")
    except ValueError:
        detail = response.text[:200]
    limit = next((text for text in LIMIT_SETTINGS if detail.startswith(text)), None)
    if limit is not None and not retry:
        detail = limit  # without its "Try again in N seconds."
    words = f"HTTP {response.status_code}" + (f": {detail}" if detail else "")
    if response.status_code == 429:
        after = response.headers.get("retry-after")
        words += f" (retry after {after} s)" if after and retry else ""
        words += f"; raise {LIMIT_SETTINGS[limit]} on the deployment" if limit else ""
    if response.is_redirect:
        words += f"; a redirect to {response.headers.get('location')!r}, not followed"
    return words


def client(target: Target, connections: int, timeout: float) -> httpx.AsyncClient:
    async def same_origin(request: httpx.Request) -> None:
        if not target.owns(str(request.url)):
            raise SetupError(f"refusing a request to another address: {request.url}")

    return httpx.AsyncClient(
        base_url=target.origin,
        follow_redirects=False,
        trust_env=False,
        timeout=timeout,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        headers={"user-agent": "livepolls-loadtest"},
        event_hooks={"request": [same_origin]},
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise SetupError(f"{what}: {explain(response)}")
    return response.json() if status != 204 else None


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> str:
    response = await http.post(f"{API}/auth/tokens", json={"email": email, "password": password})
    return str(_expect(response, 201, "signing in")["token"])


async def sign_out(http: httpx.AsyncClient, token: str) -> bool:
    with_token = bearer(token)
    response = await http.delete(f"{API}/auth/tokens/current", headers=with_token)
    return response.status_code in {204, 401}


@dataclass(frozen=True)
class Poll:
    id: int
    question: str
    option_ids: tuple[int, ...]


async def create_poll(http: httpx.AsyncClient, token: str) -> Poll:
    question = "livepolls loadtest " + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()) + " UTC"
    body = {
        "question": question,
        "options": OPTIONS,
        "is_published": True,
        "voting": "invite_codes",
        "results_visibility": "always",
    }
    response = await http.post(f"{API}/polls", json=body, headers=bearer(token))
    poll = _expect(response, 201, "creating the load test's poll")
    return Poll(int(poll["id"]), question, tuple(int(o["id"]) for o in poll["options"]))


async def delete_poll(http: httpx.AsyncClient, token: str, poll_id: int) -> None:
    response = await http.delete(f"{API}/polls/{poll_id}", headers=bearer(token))
    if response.status_code not in {204, 404}:
        raise SetupError(f"deleting poll {poll_id}: {explain(response)}")


async def results(http: httpx.AsyncClient, token: str, poll_id: int) -> dict[str, Any]:
    response = await http.get(f"{API}/polls/{poll_id}/results", headers=bearer(token))
    found: dict[str, Any] = _expect(response, 200, "reading the results")
    return found


async def issue_codes(http: httpx.AsyncClient, token: str, poll_id: int, count: int) -> list[str]:
    codes: list[str] = []
    while len(codes) < count:
        batch = min(CODES_PER_REQUEST, count - len(codes))
        response = await http.post(
            f"{API}/polls/{poll_id}/invite-codes", json={"count": batch}, headers=bearer(token)
        )
        codes += _expect(response, 201, "issuing invite codes")["codes"]
    return codes


async def redeem_all(
    http: httpx.AsyncClient, poll_id: int, codes: list[str], concurrency: int = 16
) -> tuple[list[str], list[str]]:
    """Redeem every code: (the voters' tokens, the refusals in words). Stops asking once the
    deployment refuses one (a rate limit would refuse the rest too)."""
    tokens: list[str] = []
    refusals: list[str] = []
    pending = iter(codes)

    async def worker() -> None:
        for code in pending:
            if refusals:
                return
            response = await http.post(
                f"{API}/polls/{poll_id}/invite-codes/redeem", json={"code": code}
            )
            if response.status_code == 201:
                tokens.append(str(response.json()["token"]))
            else:
                refusals.append(explain(response))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tokens, refusals
