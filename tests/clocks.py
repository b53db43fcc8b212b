"""A server clock the test moves (webapp/clock.py is the one clock schedules are judged by)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp import clock, schedule

T0 = datetime(2030, 1, 31, 18, 0, tzinfo=UTC)


class FakeClock:
    """The server's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def move(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def _idle(self: schedule.Scheduler) -> float:
    return schedule.RESCAN_S


def install(monkeypatch: pytest.MonkeyPatch, now: datetime = T0) -> FakeClock:
    """The fake clock in place of the server's. The app's own scheduler idles meanwhile: a
    test that moves time runs the scheduler's round itself (`schedule.run_due`), so that a
    round in the background does not race it."""
    fake = FakeClock(now)
    monkeypatch.setattr(clock, "now", fake)
    monkeypatch.setattr(schedule.Scheduler, "_round", _idle)
    return fake
