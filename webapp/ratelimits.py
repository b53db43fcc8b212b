"""Rate limits: which actions are limited, per what key, and where the counts live.

Fixed windows from the `limits` library. Sign-in, sign-up, guests, invite codes and poll
creation count in storage every worker and host shares (the database by default, so the
allowance does not multiply with the workers); votes count per process, since a vote is
cheap and its hot path should not pay a round trip. Keys are keyed hashes, never an address
or an email in the clear. A refused hit raises TooManyRequests before any work is done.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from webapp.config import ConfigError, Settings
from webapp.errors import TooManyRequests
from webapp.keys import keyed_hash

# rule -> (setting, shared by every worker?)
RULES = {
    "signin_address": ("limit_signin_address", True),
    "signin_email": ("limit_signin_email", True),
    "signup": ("limit_signup", True),
    "guest": ("limit_guest", True),
    "invite": ("limit_invite", True),
    "poll_create": ("limit_poll_create", True),
    "vote_account": ("limit_vote_account", False),
    "vote_address": ("limit_vote_address", False),
    "qa_ask": ("limit_qa_ask", True),
}

MESSAGES = {
    "signin_address": "Too many sign-in attempts from your network.",
    "signin_email": "Too many sign-in attempts for this account.",
    "signup": "Too many new accounts from your network.",
    "guest": "Too many guests joined from your network.",
    "invite": "Too many invite codes tried from your network.",
    "poll_create": "Too many new polls from this account.",
    "vote_account": "Too many votes from this account.",
    "vote_address": "Too many votes from your network.",
    "qa_ask": "Too many questions from this account.",
}


@dataclass(frozen=True)
class Rule:
    name: str
    items: tuple[RateLimitItem, ...]
    limiter: FixedWindowRateLimiter


def shared_storage(settings: Settings, postgres: bool) -> Storage:
    """Where the shared counters live: the database (on SQLite, one process: in memory), or
    any `limits` async storage URI (async+redis://... with its client installed)."""
    choice = settings.rate_limit_storage
    if choice == "database":
        if postgres:
            from webapp.ratelimit_store import DatabaseStorage

            return DatabaseStorage()
        return MemoryStorage()
    if choice == "memory":
        return MemoryStorage()
    storage = storage_from_string(choice)
    if not isinstance(storage, Storage):
        raise ConfigError(f"LIVEPOLLS_RATE_LIMIT_STORAGE needs an async storage: {choice!r}")
    return storage


class RateLimits:
    def __init__(self, settings: Settings, shared: Storage, local: Storage | None = None) -> None:
        self._enabled = settings.rate_limits
        self._secret = settings.secret_key
        shared_limiter = FixedWindowRateLimiter(shared)
        local_limiter = FixedWindowRateLimiter(local or MemoryStorage())
        self._rules: dict[str, Rule] = {}
        for name, (setting, is_shared) in RULES.items():
            text = getattr(settings, setting)
            if text == "off":
                continue
            limiter = shared_limiter if is_shared else local_limiter
            self._rules[name] = Rule(name, tuple(parse_many(text)), limiter)

    async def hit(self, rule: str, value: str) -> None:
        """Count one attempt at `rule` by `value` (an address, an email, an account id);
        over the limit: TooManyRequests with the seconds until the window resets."""
        found = self._rules.get(rule)
        if not self._enabled or found is None:
            return
        key = keyed_hash(self._secret, rule, value)
        for item in found.items:
            if not await found.limiter.hit(item, rule, key):
                stats = await found.limiter.get_window_stats(item, rule, key)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise TooManyRequests(MESSAGES[rule], retry_after)
