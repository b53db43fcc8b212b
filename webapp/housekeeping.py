"""Periodic clean-up: expired tokens and idempotency keys, guests who never voted, ended
rate-limit windows.

Every worker runs it (each statement is idempotent, so several at once only repeat work);
`livepolls prune` runs it once by hand.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from webapp import notices, ratelimit_store
from webapp.db import write_transaction
from webapp.tables import AuthToken, IdempotencyKey, User

log = logging.getLogger(__name__)

INTERVAL_S = 3600

EXPIRED_TOKENS_SQL = "DELETE FROM auth_token WHERE expires_at <= {} RETURNING id"
EXPIRED_KEYS_SQL = "DELETE FROM idempotency_key WHERE expires_at <= {} RETURNING id"
# Guests with no ballot anywhere, old enough that they are not just about to vote; their
# tokens go with them (cascade). Invite-code voters stay: their code is used up by them, and
# they may vote, or vote again after withdrawing, until the poll closes.
IDLE_GUESTS_SQL = (
    "DELETE FROM app_user WHERE is_guest AND created_at <= {}"
    ' AND NOT EXISTS (SELECT 1 FROM ballot b WHERE b."user" = app_user.id)'
    ' AND NOT EXISTS (SELECT 1 FROM vote v WHERE v."user" = app_user.id)'
    ' AND NOT EXISTS (SELECT 1 FROM invite_code i WHERE i."user" = app_user.id)'
    " RETURNING id"
)


@dataclass
class Pruned:
    tokens: int
    guests: int
    keys: int


async def prune(guest_age_s: int) -> Pruned:
    """Delete expired tokens and idempotency keys, and guests older than `guest_age_s` who
    hold no ballot."""
    now = datetime.now(UTC)
    async with write_transaction():
        tokens = await AuthToken.raw(EXPIRED_TOKENS_SQL, now)
        guests = await User.raw(IDLE_GUESTS_SQL, now - timedelta(seconds=guest_age_s))
        keys = await IdempotencyKey.raw(EXPIRED_KEYS_SQL, now)
    # The guests' tokens went with them: no process may keep trusting them.
    notices.revoked(notices.Revoked(user_ids=tuple(row["id"] for row in guests)))
    await ratelimit_store.prune_expired()
    return Pruned(len(tokens), len(guests), len(keys))


FIRST_AFTER_S = 60.0


async def run_periodically(guest_age_s: int, interval: float = INTERVAL_S) -> None:
    """A minute after start (not while a deployment starts up), then every `interval`."""
    await asyncio.sleep(FIRST_AFTER_S)
    while True:
        try:
            pruned = await prune(guest_age_s)
            if pruned.tokens or pruned.guests or pruned.keys:
                log.info(
                    "pruned %s expired tokens, %s idle guests, %s expired idempotency keys",
                    pruned.tokens,
                    pruned.guests,
                    pruned.keys,
                )
        except Exception:
            log.warning("housekeeping failed; trying again later", exc_info=True)
        await asyncio.sleep(interval)
