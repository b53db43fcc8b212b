"""After-commit change notices. The live layer subscribes; the domain layer only announces."""

from __future__ import annotations

from collections.abc import Callable

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
