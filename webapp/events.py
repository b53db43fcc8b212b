"""After-commit change notices. The live hub subscribes; the domain layer only announces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

ChangeKind = Literal["results", "poll", "deleted"]
Listener = Callable[[int, ChangeKind], None]

_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def poll_changed(poll_id: int, kind: ChangeKind) -> None:
    """Announce a committed change; listeners must not block."""
    for listener in list(_listeners):
        listener(poll_id, kind)
