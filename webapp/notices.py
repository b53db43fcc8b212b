"""After-commit notices: poll changes and token revocations. The live layer and the token
cache subscribe; the domain layer only announces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# (poll_id, seq): seq is the poll's new sequence number, None when the poll was deleted.
Listener = Callable[[int, int | None], None]

_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def poll_changed(poll_id: int, seq: int | None) -> None:
    """Announce a committed change to a poll; listeners must not block."""
    for listener in list(_listeners):
        listener(poll_id, seq)


@dataclass(frozen=True)
class Revoked:
    """Tokens that admit nobody any more: by digest, or every token of these users."""

    digests: tuple[str, ...] = ()
    user_ids: tuple[int, ...] = ()


RevocationListener = Callable[[Revoked], None]

_revocation_listeners: list[RevocationListener] = []


def subscribe_revocations(listener: RevocationListener) -> Callable[[], None]:
    _revocation_listeners.append(listener)
    return lambda: _revocation_listeners.remove(listener)


def revoked(what: Revoked) -> None:
    """Announce committed revocations (sign-out, a revoked token, deleted users)."""
    if not what.digests and not what.user_ids:
        return
    for listener in list(_revocation_listeners):
        listener(what)
