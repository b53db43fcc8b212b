"""The one clock a poll's schedule is judged by: this process's clock, in UTC.

Votes, pages, the API and the scheduler (webapp/schedule.py) all read it, so a poll's state
is decided the same way everywhere. The client's clock never counts. Workers of one
deployment share their host's clock; servers on several hosts must keep theirs in sync (NTP).
Tests replace `now` to move time.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
