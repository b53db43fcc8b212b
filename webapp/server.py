"""Hypercorn, one or several worker processes, with a shutdown that closes live sockets first.

Each worker runs on uvloop where it is installed, and with several workers on Linux each one
listens on its own SO_REUSEPORT socket, so the kernel spreads connections (keep-alive ones
included) evenly instead of letting whichever worker wakes first accept a whole burst.

Hypercorn waits for open connections before it runs the app's shutdown (and on Python 3.12+
`Server.wait_closed` waits for every one of them), so each worker closes its WebSockets with
1012 as soon as SIGTERM or SIGINT arrives, and only then lets Hypercorn stop. Each worker
also applies our fix and addition to Hypercorn's WebSocket stream (webapp/hypercorn_patches/).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any, Literal

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.utils import wrap_app

from webapp import hypercorn_patches, logs, metrics_folder
from webapp.config import Settings
from webapp.live.routes import MAX_INCOMING

log = logging.getLogger("livepolls.server")

CLOSE_RESTART = 1012
# A peer that leaves sent data (our pings) unacknowledged this long is dropped by the kernel.
USER_TIMEOUT_MS = 30_000


async def _settle_garbage_collector() -> None:
    """Keep full collections rare: with thousands of sockets open one can stall the loop for
    hundreds of milliseconds. Start-up objects are frozen out of collection for good, and
    the older generations are collected less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def make_config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    # Our app pings every live WebSocket from one task per process (webapp/live/frames.py),
    # instead of Hypercorn's task per connection (unless the patches are off: _worker).
    config.websocket_ping_interval = None
    config.websocket_max_message_size = MAX_INCOMING
    config.graceful_timeout = 5.0
    # Hypercorn's lines go through our handler (webapp.logs): one format, request ids.
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


class _Shared:
    """Survives `deepcopy` as itself."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __deepcopy__(self, memo: dict[int, Any]) -> _Shared:
        return self


class ProxyFix(ProxyFixMiddleware):
    """Hypercorn's ProxyFixMiddleware, except that the scope's `extensions` stay the server's
    own objects: it deep-copies the scope, which would cut the app off from what the server
    adds there after the app started (the live route's FrameSink, webapp/hypercorn_patches)."""

    def __init__(self, app: Any, mode: Literal["legacy", "modern"], trusted_hops: int) -> None:
        super().__init__(self._restore, mode=mode, trusted_hops=trusted_hops)
        self._inner = app

    async def __call__(self, scope: Any, receive: Callable, send: Callable) -> None:
        if isinstance(scope.get("extensions"), dict):
            scope = {**scope, "extensions": _Shared(scope["extensions"])}
        await super().__call__(scope, receive, send)

    async def _restore(self, scope: Any, receive: Callable, send: Callable) -> None:
        if isinstance(scope.get("extensions"), _Shared):
            scope["extensions"] = scope["extensions"].value
        await self._inner(scope, receive, send)


def _tune(sockets: Sockets, send_buffer: int) -> None:
    """Options that accepted connections inherit: keepalive, a bound on unacked data, and a
    fixed send buffer, so the kernel holds at most about twice that much for a client that
    stops reading (autotuning would let it grow to tcp_wmem's maximum, 4 MiB by default)."""
    for sock in sockets.insecure_sockets:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            continue
        if send_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


async def _serve(config: Config, sockets: Sockets, parent_says_stop: ProcessEvent | None) -> None:
    from webapp import create_app

    app = create_app()
    app.before_serving(_settle_garbage_collector)  # after the app's own start-up hooks
    hops = app.extensions["settings"].proxy_hops
    # Quart's ASGI entry, which `app(...)` only calls: every open WebSocket's task waits in
    # one coroutine frame fewer, and in none of the entry's own under our patches, which know
    # it (webapp/hypercorn_patches/; docs/benchmarks.md, "Viewer memory").
    entry = app.asgi_app
    # Behind a reverse proxy, trust its X-Forwarded-* headers (scheme and host of join links).
    served = ProxyFix(entry, mode="legacy", trusted_hops=hops) if hops else entry
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)

    parent = os.getppid()

    async def watch_parent() -> None:
        """Stop when the parent says so, or when it is gone (killed, even with SIGKILL): an
        orphaned worker must not keep the port."""
        assert parent_says_stop is not None
        while not parent_says_stop.is_set() and os.getppid() == parent:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        stopping.set()

    watcher = asyncio.create_task(watch_parent()) if parent_says_stop else None

    async def shutdown_trigger() -> None:
        await stopping.wait()
        await app.extensions["live"].close_sockets(CLOSE_RESTART)

    try:
        await worker_serve(
            wrap_app(served, config.wsgi_max_body_size, "asgi"),
            config,
            sockets=sockets,
            shutdown_trigger=shutdown_trigger,
        )
    finally:
        if watcher is not None:
            watcher.cancel()


def _event_loop() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # not on every platform; the standard loop works, only slower
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _worker(
    config: Config,
    settings: Settings,
    sockets: Sockets | None,
    stop: ProcessEvent | None = None,
) -> None:
    logs.configure(settings)  # a spawned worker starts with Python's logging defaults
    if not hypercorn_patches.apply(settings.hypercorn_patches):
        # No FrameSink, so our Pinger has nothing to ping: Hypercorn pings instead.
        config.websocket_ping_interval = settings.ping_interval_s or None
    if sockets is None:  # one of several workers: a listening socket of its own
        sockets = config.create_sockets()
        _tune(sockets, settings.send_buffer_bytes)
    with asyncio.Runner(loop_factory=_event_loop()) as runner:
        runner.run(_serve(config, sockets, stop))


def _reserve_port(config: Config) -> socket.socket:
    """Bind (never listen) a SO_REUSEPORT socket: it holds the port, learns it when 0 was
    asked for, and takes no connections; each worker then listens on a socket of its own.

    A plain socket is bound first: SO_REUSEPORT alone would let a second server started on
    a port already in use share it silently instead of failing with "address in use"."""
    config.workers = 1  # a socket without SO_REUSEPORT
    (probe,) = config.create_sockets().insecure_sockets
    host, port = probe.getsockname()[:2]
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    probe.close()
    config.workers = 2  # Hypercorn binds with SO_REUSEPORT from here on
    (reserved,) = config.create_sockets().insecure_sockets
    return reserved


def serve(host: str, port: int, workers: int = 1) -> None:
    settings = Settings.from_env()
    logs.configure(settings)
    config = make_config(host, port)
    if workers <= 1:
        sockets = config.create_sockets()
        _tune(sockets, settings.send_buffer_bytes)
        _worker(config, settings, sockets)
        return
    reserved: socket.socket | None = None
    shared: Sockets | None = None
    if sys.platform == "linux":  # the kernel balances SO_REUSEPORT listeners only on Linux
        reserved = _reserve_port(config)
        config.workers = workers
    else:  # elsewhere the workers share one listening socket
        shared = config.create_sockets()
        _tune(shared, settings.send_buffer_bytes)
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    # Children inherit "ignore SIGINT": Ctrl-C reaches the parent, which tells them to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def start_worker() -> multiprocessing.process.BaseProcess:
        kwargs = {"config": config, "settings": settings, "sockets": shared, "stop": stop}
        process = context.Process(target=_worker, kwargs=kwargs)
        process.start()
        return process

    processes = [start_worker() for _ in range(workers)]
    # The handler only raises a flag: setting the process Event from a signal handler could
    # deadlock on its lock; the supervising loop passes the word on.
    signalled: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: signalled.append(number))
    try:
        _supervise(processes, start_worker, lambda: bool(signalled), _restart_limit())
    finally:
        stop.set()
        for process in processes:
            process.join()
        if reserved is not None:
            reserved.close()


RESTART_WINDOW_S = 60.0
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)


def _restart_limit() -> int:
    raw = os.environ.get("LIVEPOLLS_WORKER_RESTARTS", "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() else 5


def _pause(seconds: float, stopping: Callable[[], bool]) -> bool:
    """Sleep up to `seconds`; True if told to stop meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stopping():
            return True
        time.sleep(0.1)
    return stopping()


def _supervise(
    processes: list[multiprocessing.process.BaseProcess],
    start_worker: Callable[[], multiprocessing.process.BaseProcess],
    stopping: Callable[[], bool],
    limit: int,
) -> None:
    """Restart a worker that dies (with a growing pause), until stopped; give up, with a
    non-zero exit that systemd sees, after more than `limit` deaths within a minute."""
    deaths: list[float] = []
    while not _pause(0.2, stopping):
        for index, process in enumerate(processes):
            if process.is_alive() or stopping():
                continue
            metrics_folder.mark_dead(process.pid or 0)
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < RESTART_WINDOW_S] + [now]
            if len(deaths) > limit:
                log.error(
                    "worker %s exited with %s; %d deaths within %.0f s: giving up",
                    process.pid,
                    process.exitcode,
                    len(deaths),
                    RESTART_WINDOW_S,
                )
                raise SystemExit(1)
            pause = BACKOFF_S[min(len(deaths), len(BACKOFF_S)) - 1]
            log.warning(
                "worker %s exited with %s; restarting it in %.1f s",
                process.pid,
                process.exitcode,
                pause,
            )
            if _pause(pause, stopping):
                return
            processes[index] = start_worker()
            log.warning("worker %s started", processes[index].pid)
