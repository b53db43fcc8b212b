"""A server clock the test moves (webapp/clock.py is the one clock schedules are judged by)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp import clock

T0 = datetime(2030, 1, 31, 18, 0, tzinfo=UTC)


class FakeClock:
    """The server's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def move(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def install(monkeypatch: pytest.MonkeyPatch, now: datetime = T0) -> FakeClock:
    fake = FakeClock(now)
    monkeypatch.setattr(clock, "now", fake)
    return fake
