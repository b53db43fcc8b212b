"""Idempotency keys on vote and response requests (the IETF httpapi Idempotency-Key draft).

A request that carries a key is answered once: its outcome is stored under (user, key) for
KEY_TTL, and a retry with the same key gets that outcome again, on whichever process it
reaches, without counting again. The guarantees, and what keeps them:

- **Counted once.** The key and its outcome are written in the vote's own transaction
  (`take` first, `settle` last, both called by webapp/votes.py, or by `respond` in
  webapp/responses for the other kinds), so the vote commits exactly
  when its key does; a crash between the two cannot happen. A unique index on
  (user, key) backs it: a second writer of the same key fails and its vote rolls back.
- **In flight: 409.** The same key while its first request runs: this process keeps the keys
  it is working on (`in_flight`); on PostgreSQL `take` holds a transaction-scoped advisory
  lock on the key, which another process fails to take.
- **Same key, another request: 422.** The stored fingerprint (method, route, poll, and the
  request's fields: the option, the rating, the answer...) must match.
- **What is stored.** A success, and a final refusal (4xx) that came from the vote itself
  (after the rate limits; not 401 or 429, which a retry may get past): the refusal is written
  in a transaction of its own once the vote's has rolled back, which is safe because nothing
  was counted. A server error or an outage stores nothing: the client may retry.

No Quart here: the handlers read the header and turn outcomes into responses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from webapp.db import is_postgres, is_unique_violation, shielded, write_transaction
from webapp.errors import DomainError
from webapp.results import Results
from webapp.tables import IDEMPOTENCY_KEY_MAX, IdempotencyKey

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"  # the same key from a form without JavaScript
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_TTL = timedelta(hours=24)

# A key is 1 to 255 visible ASCII characters, sent bare or as a structured-field string
# (RFC 8941: in double quotes, with \" and \\ escaped). A bare key cannot start with a quote.
_BARE = rf"[!#-~][!-~]{{0,{IDEMPOTENCY_KEY_MAX - 1}}}"
_QUOTED = rf'"(?:[!#-\[\]-~]|\\["\\]){{1,{IDEMPOTENCY_KEY_MAX}}}"'
PATTERN = rf"^(?:{_BARE}|{_QUOTED})$"  # as the OpenAPI document states it
_KEY = re.compile(PATTERN)
_ESCAPE = re.compile(r"\\(.)")

LOCK_SQL = "SELECT pg_try_advisory_xact_lock({}, {}) AS taken"
FIND_SQL = (
    "SELECT fingerprint, status, body, expires_at > {} AS live"
    ' FROM idempotency_key WHERE "user" = {} AND key = {}'
)
DROP_EXPIRED_SQL = 'DELETE FROM idempotency_key WHERE "user" = {} AND key = {} AND expires_at <= {}'
STORE_SQL = (
    'INSERT INTO idempotency_key ("user", key, fingerprint, status, body, created_at, expires_at)'
    " VALUES ({}, {}, {}, {}, {}, {}, {})"
)


class IdempotencyError(DomainError):
    """A problem with the key itself: never stored as a request's outcome."""

    def __init__(self, detail: str) -> None:
        kind = self.slug.replace("-", "_")
        super().__init__(detail, [{"field": HEADER, "message": detail, "type": kind}])


class KeyInvalid(IdempotencyError):
    status = 400
    title = "Bad request"
    slug = "idempotency-key-invalid"


class KeyInFlight(IdempotencyError):
    status = 409
    title = "Conflict"
    slug = "idempotency-key-in-flight"
    retry_after = 1  # seconds: a vote takes milliseconds


class KeyReused(IdempotencyError):
    status = 422
    title = "Validation failed"
    slug = "idempotency-key-reused"


def parse_key(raw: str | None) -> str | None:
    """The key of an `Idempotency-Key` value (None when there is none); 400 if malformed."""
    if raw is None:
        return None
    value = raw.strip(" \t")
    if not _KEY.fullmatch(value):
        raise KeyInvalid(
            f"The {HEADER} header must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters,"
            ' bare or in double quotes ("...").'
        )
    if value.startswith('"'):
        return _ESCAPE.sub(r"\1", value[1:-1])
    return value


class StoredError(DomainError):
    """A refusal as it was stored, to be answered again."""

    def __init__(
        self, status: int, title: str, slug: str, detail: str, errors: list[dict[str, Any]] | None
    ) -> None:
        super().__init__(detail, errors)
        self.status, self.title, self.slug = status, title, slug


@dataclass(frozen=True)
class Outcome:
    """A request's answer: its status and body (the API's JSON, or the page's own note)."""

    status: int
    body: str = ""
    replayed: bool = False

    def error(self) -> DomainError | None:
        if self.status < 400:
            return None
        stored = json.loads(self.body)
        return StoredError(
            self.status, stored["title"], stored["slug"], stored["detail"], stored["errors"]
        )


def _refusal(error: DomainError) -> Outcome:
    body = {"title": error.title, "slug": error.slug, "detail": error.detail}
    return Outcome(error.status, json.dumps({**body, "errors": error.errors}))


def is_final(error: DomainError) -> bool:
    """Whether a refusal answers the request for good (a retry would be refused again)."""
    return error.status not in (401, 429) and not isinstance(error, IdempotencyError)


class Replay(Exception):
    """The key already has an outcome: the request is answered with it, and does nothing."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


# What a settled request answers, from the vote's results (None for a withdrawal) and
# whether it changed anything.
Answer = Callable[[Results | None, bool], Outcome]


class Claim:
    """One request's claim on its key: who sent it, what it asks for, how it answers."""

    def __init__(
        self, user_id: int, key: str, request: tuple[object, ...], answer: Answer | None = None
    ):
        self.user_id = user_id
        self.key = key
        self.fingerprint = hashlib.sha256("\n".join(map(str, request)).encode()).hexdigest()
        self.answer = answer
        self.outcome: Outcome | None = None
        self.taken = False  # the request reached its transaction (past the rate limits)

    def reset(self) -> None:
        """Forget an attempt whose transaction was undone: the claim is as new."""
        self.outcome = None
        self.taken = False

    async def stored(self) -> Outcome | None:
        """The key's outcome as committed now (outside any transaction), if it has one."""
        return self._replay(await self._find())

    async def take(self) -> None:
        """First in the action's transaction: raise Replay if the key already has an
        outcome; on PostgreSQL, hold the key until commit (another process gets a 409)."""
        self.taken = True
        if is_postgres():
            await self._lock()
        rows = await self._find()
        outcome = self._replay(rows)
        if outcome is not None:
            raise Replay(outcome)
        if rows:  # expired, not pruned yet: the key is new again
            await IdempotencyKey.raw(DROP_EXPIRED_SQL, self.user_id, self.key, _now())

    async def settle(self, results: Results | None, changed: bool) -> None:
        """Last in the action's transaction: store the outcome, committed with the vote."""
        assert self.answer is not None, "a vote's claim says how it answers"
        await self.settle_as(self.answer(results, changed))

    async def settle_as(self, outcome: Outcome) -> None:
        """Last in the action's transaction: store this outcome, committed with the action."""
        try:
            await self._store(outcome)
        except Exception as exc:
            if is_unique_violation(exc):  # stored meanwhile: this transaction rolls back
                raise _in_flight() from exc
            raise
        self.outcome = outcome

    @shielded
    async def refuse(self, error: DomainError) -> None:
        """Store a final refusal, once the vote's transaction has rolled back (nothing was
        counted, so a crash before this only lets a retry run the request again)."""
        async with write_transaction():
            if is_postgres():
                await self._lock()
            await IdempotencyKey.raw(DROP_EXPIRED_SQL, self.user_id, self.key, _now())
            if self._replay(await self._find()) is None:
                await self._store(_refusal(error))

    async def _lock(self) -> None:
        digest = hashlib.sha256(self.key.encode()).digest()
        key_lock = int.from_bytes(digest[:4], "big", signed=True)
        rows = await IdempotencyKey.raw(LOCK_SQL, self.user_id, key_lock)
        if not rows[0]["taken"]:
            raise _in_flight()

    async def _find(self) -> list[dict[str, Any]]:
        return list(await IdempotencyKey.raw(FIND_SQL, _now(), self.user_id, self.key))

    def _replay(self, rows: list[dict[str, Any]]) -> Outcome | None:
        if not rows or not rows[0]["live"]:
            return None
        row = rows[0]
        if row["fingerprint"] != self.fingerprint:
            raise KeyReused(
                f"This {HEADER} was used for another request: send a new key for a new request."
            )
        return Outcome(int(row["status"]), str(row["body"]), replayed=True)

    async def _store(self, outcome: Outcome) -> None:
        now = _now()
        values = (self.fingerprint, outcome.status, outcome.body, now, now + KEY_TTL)
        await IdempotencyKey.raw(STORE_SQL, self.user_id, self.key, *values)


def _now() -> datetime:
    return datetime.now(UTC)


def _in_flight() -> KeyInFlight:
    return KeyInFlight(f"A request with this {HEADER} is still being processed: retry in a moment.")


# (user id, key) of the keyed requests this process is answering right now: bounded by the
# requests in progress.
in_flight: set[tuple[int, str]] = set()


async def once(claim: Claim, action: Callable[[], Awaitable[object]]) -> Outcome:
    """Answer a keyed request: its stored outcome, or run `action` (which passes the claim
    to the vote, whose transaction takes and settles it) and return the new outcome.

    A refusal is raised as it is, and stored first when it is final; a replayed refusal
    comes back as an Outcome (`outcome.error()`).
    """
    ident = (claim.user_id, claim.key)
    if ident in in_flight:
        raise _in_flight()
    in_flight.add(ident)
    try:
        stored = await claim.stored()  # a replay spends no vote quota
        if stored is not None:
            return stored
        try:
            await action()
        except Replay as replay:
            return replay.outcome
        except DomainError as error:
            if claim.taken and is_final(error):
                await _refuse_quietly(claim, error)
            raise
    finally:
        in_flight.discard(ident)
    if claim.outcome is None:
        raise RuntimeError("the action did not settle its idempotency claim")
    return claim.outcome


async def _refuse_quietly(claim: Claim, error: DomainError) -> None:
    """Store the refusal if the database lets us; the refusal is the answer either way."""
    try:
        await claim.refuse(error)
    except DomainError:
        pass  # another process holds the key now: its outcome will be the stored one
    except Exception:
        log.warning("could not store the outcome of an idempotency key", exc_info=True)


async def take(claim: Claim | None) -> None:
    """`claim.take()`, for the vote functions, which may have no claim."""
    if claim is not None:
        await claim.take()


async def take_or_answer(claim: Claim | None) -> BaseException | None:
    """`take` for one request of a batch: None, or what answers the request instead (its
    key's replay, or the key's refusal), for the batch to pass on as its outcome."""
    try:
        await take(claim)
    except (DomainError, Replay) as answered:
        return answered
    return None


async def settle(claim: Claim | None, results: Results | None, changed: bool) -> None:
    """`claim.settle(...)`, for the vote functions, which may have no claim."""
    if claim is not None:
        await claim.settle(results, changed)
