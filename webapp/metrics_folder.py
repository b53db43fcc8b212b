"""The folder where several workers keep their metrics (prometheus-client's multiprocess
mode), chosen by the serving parent before anything imports prometheus-client: the library
reads PROMETHEUS_MULTIPROC_DIR once, at import. This module itself never imports it, so
choosing the folder cannot come too late."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # as prometheus-client names it


def prepare() -> Path | None:
    """Use the operator's PROMETHEUS_MULTIPROC_DIR, created and emptied of an earlier run's
    files as prometheus-client asks, or a fresh temporary folder, returned so that the
    caller removes it at exit."""
    named = os.environ.get(MULTIPROC_ENV, "").strip()
    if named:
        folder = Path(named)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        return None
    created = Path(tempfile.mkdtemp(prefix="livepolls-metrics-"))
    os.environ[MULTIPROC_ENV] = str(created)
    return created


def mark_dead(pid: int) -> None:
    """Drop a dead worker's live gauges from the sums (its counters stay: they happened)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
