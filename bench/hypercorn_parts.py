"""`livepolls serve` with only part of webapp/hypercorn_patches/ applied, for bench/patches.py.

    BENCH_HYPERCORN_PARTS=fixes python -m bench.hypercorn_parts serve --port P --workers 2

`fixes`: the message-size and close-code fix (`WSStream._handle_events`) and the reference
cycle break (`TCPServer.run`), without the FrameSink (`WSStream._accept`): the app then sends
through ASGI, and the worker turns Hypercorn's own per-connection pings on, as it does when
the patches are off. Nothing in webapp/ changes: `hypercorn_patches.apply` is replaced in
every worker before the worker calls it. With several workers each one is a spawned process
that imports this module first (multiprocessing runs the parent's main module in every child
as `__mp_main__`), which is where the replacement happens; the supervisor itself serves
nothing and is left alone.
"""

from __future__ import annotations

import logging
import os
import sys

PARTS = ("fixes",)
log = logging.getLogger("bench.hypercorn_parts")


def _fixes_only(enabled: bool = True) -> bool:
    from hypercorn.asyncio.tcp_server import TCPServer
    from hypercorn.protocol.ws_stream import WSStream

    from webapp import hypercorn_patches as patches

    if not enabled or patches.mismatches():
        return False
    WSStream._handle_events = patches.stream.handle_events  # type: ignore[method-assign]
    TCPServer.run = patches.tcp.run  # type: ignore[method-assign]
    log.warning("bench: Hypercorn patched with the fixes only (no FrameSink, Hypercorn's pings)")
    return False  # no FrameSink: the worker keeps Hypercorn's own pings on


def install() -> None:
    parts = os.environ.get("BENCH_HYPERCORN_PARTS", "")
    if parts not in PARTS:
        raise SystemExit(f"BENCH_HYPERCORN_PARTS={parts!r}: expected one of {PARTS}")
    from webapp import hypercorn_patches

    hypercorn_patches.apply = _fixes_only


def main() -> None:
    from webapp import cli

    argv = sys.argv[1:]
    workers = argv[argv.index("--workers") + 1] if "--workers" in argv else "1"
    if workers == "1":  # the lone process is the worker
        install()
    cli.main(argv)


if __name__ == "__mp_main__":  # a spawned worker of `serve --workers N`
    install()
elif __name__ == "__main__":
    main()
