"""Who is asking, as far as HTTP can tell: the client's address and network, and the browser's
device cookie. Addresses are never stored: only keyed hashes of their networks.

Behind LIVEPOLLS_PROXY_HOPS trusted proxies the address is the one they forwarded (Hypercorn's
ProxyFix rewrites the connection's client before the app sees it).
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable

from itsdangerous import BadSignature, URLSafeSerializer
from quart import current_app, request
from werkzeug.sansio.response import Response

from webapp import idempotency, keys, metrics, refusals, votes
from webapp.accounts import Account
from webapp.errors import TooManyRequests
from webapp.responses import Change, Keyed, one, words
from webapp.responses import qa as qa_responses
from webapp.results import Results
from webapp.tables import BallotKind
from webapp.votes import Voter

DEVICE_COOKIE = "livepolls_device"
DEVICE_MAX_AGE = 2 * 365 * 24 * 3600
IPV6_NETWORK_BITS = 64  # one household or phone: a /64 is what one subscriber gets


def client_address() -> str:
    return request.remote_addr or "unknown"


def network_of(address: str) -> str:
    """The client's network as text: an IPv4 address, or an IPv6 address's /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_NETWORK_BITS), strict=False))
    return str(ip)


def keyed_hash(kind: str, value: str) -> str:
    return keys.keyed_hash(current_app.extensions["settings"].secret_key, kind, value)


def client_network() -> str:
    """A keyed hash of the client's network: stored with ballots, shown in the report."""
    return keyed_hash("network", network_of(client_address()))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.extensions["settings"].secret_key, salt="device")


def device_id() -> str | None:
    """This browser's device id from its signed cookie, if it has a valid one."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = _serializer().loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def ensure_device(response: Response, current: str | None) -> None:
    """Give the browser a long-lived device cookie unless it has one (survives sign-out)."""
    if current is not None:
        return
    settings = current_app.extensions["settings"]
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps(secrets.token_urlsafe(16)),
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
    )


def client_key() -> str:
    """What address-based limits count per: the client's network (an IPv4 address, or an
    IPv6 /64, so one subscriber cannot rotate through its addresses)."""
    return network_of(client_address())


async def limit(rule: str, value: str) -> None:
    """Count one attempt at a rate-limited action (webapp/ratelimits.py); 429 when over."""
    await current_app.extensions["limits"].hit(rule, value)


async def limit_in_poll(poll_id: int, rule: str, value: str) -> None:
    """A rate limit on an action in a poll: a refusal is counted in the poll's report."""
    try:
        await limit(rule, value)
    except TooManyRequests:
        refusals.note(poll_id, "rate_limit")
        raise


def voter(account: Account) -> Voter:
    """The voter behind this request: how they got in, their network, their browser (its
    device cookie; without one, as with a token used outside a browser, the user itself)."""
    network = client_network()
    device = keyed_hash("device", device_id() or f"user:{account.id}")
    if account.invited_to is not None:
        return Voter(account.id, BallotKind.code, network, device, account.invited_to)
    kind = BallotKind.guest if account.is_guest else BallotKind.account
    return Voter(account.id, kind, network, device)


async def _limit_votes(account: Account, poll_id: int) -> None:
    await limit_in_poll(poll_id, "vote_account", str(account.id))
    await limit_in_poll(poll_id, "vote_address", client_key())


async def withdraw_votes(
    account: Account,
    poll_id: int,
    option_id: int | None = None,
    claim: idempotency.Claim | None = None,
) -> None:
    """Withdraw as this request's voter, after the vote limits (a withdrawal is a change)."""
    await _limit_votes(account, poll_id)
    await votes.withdraw_votes(account.id, poll_id, option_id, claim)
    metrics.WITHDRAWALS.inc()


async def cast_vote(
    account: Account, poll_id: int, option_id: int, claim: idempotency.Claim | None = None
) -> tuple[Results, bool]:
    """Vote as this request's voter, after its rate limits (refusals count for the poll)."""
    await _limit_votes(account, poll_id)
    window = current_app.extensions["settings"].guest_network_window_s
    results, changed = await votes.cast_vote(
        voter(account), poll_id, option_id, network_window_s=window, claim=claim
    )
    if changed:
        metrics.VOTES.inc()
    return results, changed


async def limit_sign_in(email: str) -> None:
    """Sign-in attempts, counted per address and per account before any password is hashed."""
    await limit("signin_address", client_key())
    await limit("signin_email", email.strip().lower())


# A response's write, as the voter and with the guest window from the settings.
Respond = Callable[[Voter, int], Awaitable[Change]]


async def _respond_as(
    account: Account, poll_id: int, action: Respond, *, counts: bool = True
) -> Change:
    """Respond as this request's voter, after the vote limits (refusals count for the poll);
    a change counts as a vote unless it takes something back (`counts` False)."""
    await _limit_votes(account, poll_id)
    window = current_app.extensions["settings"].guest_network_window_s
    change = await action(voter(account), window)
    if counts and change.changed:
        metrics.VOTES.inc()
    return change


async def put_response(
    account: Account, poll_id: int, values: dict[str, object], keyed: Keyed | None = None
) -> Change:
    """Give or replace a one-response kind's response (a rating)."""
    return await _respond_as(
        account, poll_id, lambda me, window: one.put_response(me, poll_id, values, window, keyed)
    )


async def withdraw_response(account: Account, poll_id: int, keyed: Keyed | None = None) -> Change:
    return await _respond_as(
        account, poll_id, lambda me, _: one.withdraw_response(me, poll_id, keyed), counts=False
    )


async def add_word(account: Account, poll_id: int, text: str, keyed: Keyed | None = None) -> Change:
    """Give a word-cloud answer (an answer counts as a vote)."""
    return await _respond_as(
        account, poll_id, lambda me, window: words.add_answer(me, poll_id, text, window, keyed)
    )


async def remove_word(
    account: Account, poll_id: int, slot: int, keyed: Keyed | None = None
) -> Change:
    return await _respond_as(
        account, poll_id, lambda me, _: words.remove_answer(me, poll_id, slot, keyed), counts=False
    )


async def ask_question(
    account: Account, poll_id: int, text: str, anonymous: bool, keyed: Keyed | None = None
) -> Change:
    """Ask a Q&A question (the change, `made` its id), after the asking limit (`qa_ask`,
    shared by every worker: text that others read) and the vote limits."""
    await limit_in_poll(poll_id, "qa_ask", str(account.id))
    return await _respond_as(
        account,
        poll_id,
        lambda me, window: qa_responses.ask(me, poll_id, text, anonymous, window, keyed),
        counts=False,
    )


async def upvote_question(
    account: Account, poll_id: int, question_id: int, up: bool, keyed: Keyed | None = None
) -> Change:
    """Upvote a Q&A question (`up`, counted as a vote) or take the upvote back."""
    if not up:
        return await _respond_as(
            account,
            poll_id,
            lambda me, _: qa_responses.withdraw_upvote(me, poll_id, question_id, keyed),
            counts=False,
        )
    return await _respond_as(
        account,
        poll_id,
        lambda me, window: qa_responses.upvote(me, poll_id, question_id, window, keyed),
    )


async def delete_question(
    account: Account, poll_id: int, question_id: int, keyed: Keyed | None = None
) -> Change:
    return await _respond_as(
        account,
        poll_id,
        lambda me, _: qa_responses.delete(me, poll_id, question_id, keyed),
        counts=False,
    )
