"""After-commit notices: poll and event changes and token revocations. The live layer and
the token cache subscribe; the domain layer only announces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec

P = ParamSpec("P")


class _Listeners(Generic[P]):
    """Who is told of one kind of notice; a listener must not block."""

    def __init__(self) -> None:
        self._listeners: list[Callable[P, None]] = []

    def subscribe(self, listener: Callable[P, None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def tell(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for listener in list(self._listeners):
            listener(*args, **kwargs)


# (id, seq): seq is the poll's (or event's) new sequence number, None when it was deleted.
_polls: _Listeners[[int, int | None]] = _Listeners()
_events: _Listeners[[int, int | None]] = _Listeners()

subscribe = _polls.subscribe
subscribe_events = _events.subscribe


def poll_changed(poll_id: int, seq: int | None) -> None:
    """Announce a committed change to a poll."""
    _polls.tell(poll_id, seq)


def event_changed(event_id: int, seq: int | None) -> None:
    """Announce a committed change to an event."""
    _events.tell(event_id, seq)


@dataclass(frozen=True)
class Revoked:
    """Tokens that admit nobody any more: by digest, or every token of these users."""

    digests: tuple[str, ...] = ()
    user_ids: tuple[int, ...] = ()


_revocations: _Listeners[[Revoked]] = _Listeners()

subscribe_revocations = _revocations.subscribe


def revoked(what: Revoked) -> None:
    """Announce committed revocations (sign-out, a revoked token, deleted users)."""
    if not what.digests and not what.user_ids:
        return
    _revocations.tell(what)
