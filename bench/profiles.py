"""Where the time goes: py-spy's collapsed stacks, summarised.

Each sample goes to the innermost frame's layer (socket writes, asyncpg, Piccolo,
pydantic/quart-schema, wsproto, the HTTP server, Quart, app code, the event loop); then the
top functions by own time, and the app's functions by inclusive time. READING says what the
code does on the profiled paths.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench.tables import md

LAYERS = [
    ("asyncpg/", "asyncpg (PostgreSQL driver)"),
    ("piccolo/", "Piccolo (building queries, reading rows)"),
    ("pydantic", "pydantic (via quart-schema: validating and converting)"),
    ("quart_schema/", "pydantic (via quart-schema: validating and converting)"),
    ("wsproto/", "wsproto (WebSocket frames)"),
    ("hypercorn/", "HTTP server (Hypercorn, h11)"),
    ("h11/", "HTTP server (Hypercorn, h11)"),
    ("uvicorn/", "HTTP server (Uvicorn)"),
    ("httptools", "HTTP server (Uvicorn)"),
    ("websockets/", "HTTP server (Uvicorn)"),
    ("quart/", "Quart and Werkzeug (routing, request and response objects)"),
    ("werkzeug/", "Quart and Werkzeug (routing, request and response objects)"),
    ("flask/", "Quart and Werkzeug (routing, request and response objects)"),
    ("jinja2/", "Jinja (templates)"),
    ("webapp/", "app code (webapp/), with the asyncio calls it makes"),
    ("json/", "json"),
]
SOCKET_WRITES = ("_SelectorSocketTransport.write", "socket.send", "sock_send", "_write_ready")


def _file(frame: str) -> str:
    return frame.rpartition(" (")[2]


def _layer(frames: list[str]) -> str:
    leaf = frames[-1] if frames else ""
    if leaf.startswith(("EpollSelector.select", "select (selectors")):
        return "waiting for I/O (epoll_wait)"
    if any(leaf.startswith(name) for name in SOCKET_WRITES):
        return "socket writes (send system calls)"
    for frame in reversed(frames):
        path = _file(frame)
        for needle, layer in LAYERS:
            if needle in path:
                return layer
    if any("asyncio/" in _file(f) or "uvloop" in _file(f) for f in frames):
        return "asyncio event loop (scheduling, callbacks)"
    return "other"


def _app_functions(frames: list[str]) -> list[str]:
    """The app's functions on a stack, each once, without line numbers or entry points."""
    seen: list[str] = []
    for frame in frames:
        name = frame.rsplit(":", 1)[0] + ")"  # drop the line number
        entry = "webapp/server.py" in name or "webapp/cli.py" in name
        if "webapp/" in name and not entry and name not in seen:
            seen.append(name)
    return seen


def summarize_profile(path: Path) -> dict[str, Any]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return {"samples": 0}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        own[frames[-1]] += n
        layers[_layer(frames)] += n
        for name in _app_functions(frames):
            inclusive[name] += n

    def share(counter: Counter[str], k: int) -> list[tuple[str, float]]:
        return [(name, 100 * n / total) for name, n in counter.most_common(k)] if total else []

    return {
        "samples": total,
        "layers": share(layers, 12),
        "own": share(own, 12),
        "app_inclusive": share(inclusive, 14),
    }


TITLES = {
    "ingest": "Vote ingest",
    "fanout": "Fan-out (votes to many viewers)",
    "joins": "Viewers joining",
}


def section(results: dict) -> str:
    out = []
    profiles = results.get("profiles", {})
    if not profiles:
        return "No profile was taken in this run (`--no-profile`, or py-spy failed).\n"
    for key, title in TITLES.items():
        entry = profiles.get(key)
        if entry and entry.get("summary", {}).get("samples"):
            out += _profile(title, entry)
    return "\n".join(out) + "\n"


def _profile(title: str, entry: dict) -> list[str]:
    s = entry["summary"]
    top_layer, top_share = s["layers"][0]
    return [
        f"### {title}\n\npy-spy, 100 samples/s, {entry['what']}: {s['samples']} "
        f"samples. Largest layer: **{top_layer}, {top_share:.0f}%** of the samples.\n",
        md(
            ["layer (innermost frame)", "share"],
            [[name, f"{pct:.1f}%"] for name, pct in s["layers"]],
        ),
        "\nTop functions by own time:\n",
        md(["function", "own"], [[f"`{name}`", f"{pct:.1f}%"] for name, pct in s["own"][:10]]),
        "\nApp functions by inclusive time (the time under them):\n",
        md(
            ["function", "inclusive"],
            [[f"`{name}`", f"{pct:.1f}%"] for name, pct in s["app_inclusive"][:12]],
        ),
        "",
    ]


READING = """\
What the code does on these paths, which the profiles above weigh:

- **A vote** (`POST /api/v1/polls/{id}/votes`) looks up the token (one statement), then runs
  a transaction: lock the poll's row (`SELECT ... FOR NO KEY UPDATE`, PostgreSQL only: SQLite's
  IMMEDIATE transaction holds the write lock), read the poll, its counts and the voter's
  choices in one statement, then store the vote, count it and bump the poll's `seq` in one
  statement (a data-modifying `WITH` on PostgreSQL; three statements on SQLite), commit. The
  response's counts are computed from what was read under the lock, not read again. The hot
  statements are plain SQL (`Table.raw`, the same text on both databases): built with
  Piccolo's query builder they cost more CPU than the database spent on them. The poll's
  lock is held across the round trips between the lock and the commit, so votes on one poll
  are serialised: the one-poll rate is bounded by that time, whatever the worker count.
- **Other processes hear of changes** through one `pg_notify` per interval per process,
  carrying every poll that changed, sent after the commit by a background task: never per
  vote, and never on the response's path.
- **Every JSON response** goes through quart-schema's `model_dump`; one pydantic
  `TypeAdapter` per type is kept (`webapp/api/adapters.py`), where quart-schema 0.25 built
  one per response.
- **A live update** is built once per poll and change (one snapshot, shared strings), and,
  under Hypercorn with our runner, written as one prebuilt WebSocket frame (for clients that
  negotiated permessage-deflate, one frame compressed without context) straight to each
  viewer's socket by the hub: one `transport.write` per viewer, no task woken, no trip
  through Quart, the ASGI send, Hypercorn's stream or wsproto. A viewer whose socket holds
  more than 64 KiB unsent gets the newest message through its own task once the socket
  drains. The hub yields to the event loop every 500 viewers, so a vote's response is not
  held behind a whole fan-out. Under Uvicorn the app sends through ASGI, one task per viewer.
- **A viewer** costs two tasks of ours (the handler, which sends what the hub could not
  write at once, and a reader) besides the server's own; keep-alive pings go out from one
  task per process, not one per connection; with permessage-deflate no compressor is kept
  per connection.
- **Workers**: each worker runs on uvloop and listens on its own `SO_REUSEPORT` socket, so
  the kernel spreads connections, keep-alive ones included, over the workers.
- **Garbage collection**: after start-up `gc.freeze()` moves every object then alive out of
  the collector's sight, and the thresholds are raised (`gc.set_threshold(20_000, 20, 50)`):
  a full collection over the objects of thousands of connections, which stalled the event
  loop for hundreds of milliseconds while this harness was built, becomes rare.
"""
