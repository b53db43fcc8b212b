"""The figures of a run: percentiles, and when the last viewer had each change.

Every viewer's `results` messages carry the poll's `seq`, which grows by one with each change
and never goes backwards on a connection; a message with seq s reflects every change up to s
(the server merges changes that come close together). So for a vote whose change got seq s,
the moment the last viewer had it is the moment the slowest viewer first reached a seq >= s.
`Floor` follows the lowest seq among the viewers of one process as messages arrive and keeps
the moments it rose; `last_viewer_times` takes, for each vote, the latest of those moments
across the processes. Memory grows with the number of rises (at most one per message
the slowest viewer gets), not with viewers times votes.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """Latencies in milliseconds: nearest-rank percentiles of `count` samples."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "p50_ms": self.p50,
            "p95_ms": self.p95,
            "p99_ms": self.p99,
            "max_ms": self.max,
        }


def percentile(ordered: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` from 0 to 100) of an ascending, non-empty list."""
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(seconds: Iterable[float]) -> Summary:
    ordered = sorted(seconds)
    if not ordered:
        return Summary(0, None, None, None, None)
    ms = [round(value * 1000, 2) for value in ordered]
    return Summary(len(ms), percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), ms[-1])


class Floor:
    """The lowest seq the viewers of one process have reached, and when it rose."""

    def __init__(self) -> None:
        self._level: dict[int, int] = {}  # viewer -> highest seq it received
        self._at: dict[int, int] = {}  # seq -> viewers whose highest it is
        self._heap: list[int] = []  # the keys of _at, lazily cleaned
        self.rises: list[tuple[int, float]] = []  # (new floor, when), floors ascending

    @property
    def viewers(self) -> int:
        return len(self._level)

    @property
    def value(self) -> int | None:
        self._clean()
        return self._heap[0] if self._heap else None

    def seen(self, viewer: int, seq: int, now: float) -> None:
        """Viewer `viewer` received a results message with `seq` at `now`."""
        before = self.value
        old = self._level.get(viewer)
        if old is not None and seq <= old:
            return
        self._level[viewer] = seq
        if old is not None:
            self._leave(old)
        if seq not in self._at:
            self._at[seq] = 0
            heapq.heappush(self._heap, seq)
        self._at[seq] += 1
        if old is not None:  # a new viewer only lowers the floor or leaves it be
            self._note(before, now)

    def drop(self, viewer: int, now: float) -> None:
        """The viewer is gone (closed, failed): the floor is the others' from now on."""
        before = self.value
        old = self._level.pop(viewer, None)
        if old is not None:
            self._leave(old)
            self._note(before, now)

    def _leave(self, seq: int) -> None:
        self._at[seq] -= 1
        if not self._at[seq]:
            del self._at[seq]

    def _clean(self) -> None:
        while self._heap and self._heap[0] not in self._at:
            heapq.heappop(self._heap)

    def _note(self, before: int | None, now: float) -> None:
        after = self.value
        if after is not None and (before is None or after > before):
            self.rises.append((after, now))


def reached_at(rises: Sequence[tuple[int, float]], seq: int) -> float | None:
    """When the floor first reached `seq` or more (None: not yet)."""
    index = bisect_left(rises, (seq, -math.inf))
    return rises[index][1] if index < len(rises) else None


def last_viewer_time(floors: Sequence[Sequence[tuple[int, float]]], seq: int) -> float | None:
    """When the last viewer of every process had change `seq` (None: some never did, or
    there were no viewers): the latest of the moments each process's floor reached it."""
    latest = -math.inf
    for rises in floors:
        at = reached_at(rises, seq)
        if at is None:
            return None
        latest = max(latest, at)
    return latest if floors else None
