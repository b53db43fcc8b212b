"""Accounts by token, kept in the process for a few seconds: most requests skip the lookup.

An account never changes once made (webapp/accounts.py), so an entry can only go stale by its
token ending: expiry is checked on every hit, and a revocation (sign-out, `DELETE
/api/v1/tokens/current`, a pruned guest) reaches every process at once through
webapp.notices and, between processes, PostgreSQL's NOTIFY (webapp/live/feed.py). While the
process cannot hear other processes' revocations (its LISTEN connection is down), the cache
is not used, and it starts empty once it can hear them again. Only known tokens are kept: a
token issued by another process is looked up the first time this one sees it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from webapp.accounts import Account

MAX_ENTRIES = 10_000


class TokenCache:
    def __init__(
        self,
        ttl_s: float,
        usable: Callable[[], bool] = lambda: True,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.ttl_s = ttl_s
        self._usable = usable
        self._max = max_entries
        # token digest -> (account, the token's expiry, when this entry stops being trusted)
        self._entries: OrderedDict[str, tuple[Account, datetime, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def active(self) -> bool:
        return self.ttl_s > 0 and self._usable()

    def get(self, digest: str) -> Account | None:
        """The cached account of this token, or None (not cached: look it up)."""
        if not self.active:
            return None
        entry = self._entries.get(digest)
        if entry is None:
            return None
        account, expires_at, until = entry
        if time.monotonic() >= until or expires_at <= datetime.now(UTC):
            del self._entries[digest]
            return None
        return account

    def put(self, digest: str, account: Account, expires_at: datetime) -> None:
        if not self.active:
            return
        self._entries[digest] = (account, expires_at, time.monotonic() + self.ttl_s)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        self._entries.pop(digest, None)

    def forget_user(self, user_id: int) -> None:
        for digest in [d for d, (account, _, _) in self._entries.items() if account.id == user_id]:
            del self._entries[digest]

    def clear(self) -> None:
        self._entries.clear()
