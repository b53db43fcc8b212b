"""Turns a run's results into the console table and docs/benchmarks.md.

Targets are checked here, each next to the figure it is judged on. Profiles (py-spy's
collapsed stacks) are summarised as: the share of samples per layer (each sample goes to the
innermost frame's layer: socket writes, asyncpg, Piccolo, pydantic/quart-schema, wsproto,
the HTTP server, Quart, app code, the event loop), the top functions by own time, and the
app's functions by inclusive time.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------ profiles

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
        seen = set()
        for frame in frames:
            name = frame.rsplit(":", 1)[0] + ")"  # drop the line number
            entry = "webapp/server.py" in name or "webapp/cli.py" in name
            if "webapp/" in name and not entry and name not in seen:
                seen.add(name)
                inclusive[name] += n

    def share(counter: Counter[str], k: int) -> list[tuple[str, float]]:
        return [(name, 100 * n / total) for name, n in counter.most_common(k)] if total else []

    return {
        "samples": total,
        "layers": share(layers, 12),
        "own": share(own, 12),
        "app_inclusive": share(inclusive, 14),
    }


# ------------------------------------------------------------------ helpers


def _ms(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _status(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def _ingest(results: dict, server: str, workers: int, case: str, stored: bool) -> dict | None:
    for row in results["ingest"]:
        if (row["server"], row["workers"], row["case"], row["stored_votes"]) == (
            server,
            workers,
            case,
            stored,
        ):
            return row
    return None


def _combo(results: dict, server: str, workers: int, deflate: bool) -> dict | None:
    for combo in results["fanout"]:
        if (combo["server"], combo["workers"], combo["deflate"]) == (server, workers, deflate):
            return combo
    return None


def _step(combo: dict | None, target: int) -> dict | None:
    if combo is None:
        return None
    for step in combo["steps"]:
        if step["target"] == target:
            return step
    return None


def _largest(combo: dict | None) -> dict | None:
    return combo["steps"][-1] if combo and combo["steps"] else None


def _reads(results: dict, server: str, workers: int, keep_alive: bool = False) -> dict | None:
    for row in results["reads"]:
        if (row["server"], row["workers"], row.get("keep_alive", False)) == (
            server,
            workers,
            keep_alive,
        ):
            return row
    return None


def _same(zero: float | None, loaded: float | None, slack_ms: float, ratio: float) -> bool | None:
    if zero is None or loaded is None:
        return None
    return loaded <= max(zero + slack_ms, zero * ratio)


# ------------------------------------------------------------------ targets


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, met/missed) for the app under Hypercorn."""
    plan = results["plan"]
    small, large = (plan["combos"][0]["steps"][0], plan["combos"][0]["steps"][-1])
    rows: list[tuple[str, str, str]] = []

    for workers in (1, 2):
        step = _step(_combo(results, "hypercorn", workers, False), small)
        ok = None
        text = "not measured"
        if step is not None:
            p99 = step["last_viewer_p99_ms"]
            ok = step["viewers"] >= small and p99 is not None and p99 <= 50
            p50 = step["last_viewer_p50_ms"]
            text = f"p99 {_ms(p99)} ms (p50 {_ms(p50)} ms), {step['viewers']:,} viewers"
        rows.append(
            (
                f"{small:,} viewers, {workers} worker(s): p99 vote to last viewer <= 50 ms",
                text,
                _status(ok),
            )
        )

    combo = _combo(results, "hypercorn", 2, False)
    last = _largest(combo)
    ok, text = None, "not measured"
    if last is not None:
        p99 = last["last_viewer_p99_ms"]
        if last["viewers"] >= large:
            ok = p99 is not None and p99 <= 250
            text = f"p99 {_ms(p99)} ms (p50 {_ms(last['last_viewer_p50_ms'])} ms)"
        else:
            ok = False
            text = (
                f"only {last['viewers']:,} of {large:,} viewers connected within the time "
                f"budget; at {last['viewers']:,}: p99 {_ms(p99)} ms"
            )
    rows.append(
        (f"{large:,} viewers, 2 workers: p99 vote to last viewer <= 250 ms", text, _status(ok))
    )

    ok, text = None, "not measured"
    if combo is not None and last is not None:
        zero = combo["zero_viewers"]
        same_p50 = _same(zero["http_p50_ms"], last["http_p50_ms"], 5, 1.25)
        same_p99 = _same(zero["http_p99_ms"], last["http_p99_ms"], 10, 1.5)
        ok = bool(same_p50 and same_p99) and last["viewers"] >= large
        text = (
            f"0 viewers: p50 {_ms(zero['http_p50_ms'])} / p99 {_ms(zero['http_p99_ms'])} ms; "
            f"{last['viewers']:,} viewers: p50 {_ms(last['http_p50_ms'])} / p99 "
            f"{_ms(last['http_p99_ms'])} ms"
        )
    rows.append(
        (
            f"vote HTTP latency the same with 0 and {large:,} viewers (2 workers; p50 within "
            "25% or 5 ms, p99 within 50% or 10 ms)",
            text,
            _status(ok),
        )
    )

    for deflate, limit in ((False, 40), (True, 80)):
        parts, oks = [], []
        for workers in (1, 2):
            step = _largest(_combo(results, "hypercorn", workers, deflate))
            if step is None:
                continue
            kib = step["rss_per_viewer"] / 1024
            oks.append(kib <= limit)
            parts.append(f"{workers} worker(s): {kib:.1f} KiB ({step['viewers']:,} viewers)")
        rows.append(
            (
                f"RSS per idle viewer <= {limit} KB "
                f"({'permessage-deflate' if deflate else 'no compression'})",
                "; ".join(parts) or "not measured",
                _status(all(oks) if oks else None),
            )
        )

    for case in ("1 poll", f"{plan['many_polls']} polls"):
        empty = _ingest(results, "hypercorn", 2, case, False)
        stored = _ingest(results, "hypercorn", 2, case, True)
        ok, text = None, "not measured"
        if empty is not None:
            ok = empty["votes_per_second"] >= 1500 and empty["exact"]
            text = (
                f"{empty['votes_per_second']:.0f} votes/s, lost {empty['lost']}, extra "
                f"{empty['extra']}"
            )
        rows.append(
            (
                f">= 1,500 votes/s with 2 workers, zero lost ({case}, keep-alive)",
                text,
                _status(ok),
            )
        )
        ok, text = None, "not measured"
        if empty is not None and stored is not None:
            ratio = stored["votes_per_second"] / max(1e-9, empty["votes_per_second"])
            ok = ratio >= 0.9 and stored["exact"]
            text = (
                f"{stored['votes_per_second']:.0f} votes/s with {stored['vote_table']:,} "
                f"votes stored vs {empty['votes_per_second']:.0f} ({ratio:.0%})"
            )
        rows.append(
            (
                f"no slowdown with {results.get('stored_votes', 0):,} stored votes "
                f"(2 workers, {case}; within 10%)",
                text,
                _status(ok),
            )
        )

    reads = _reads(results, "hypercorn", 2, keep_alive=True)
    rows.append(
        (
            ">= 3,000 req/s reads with 2 workers (GET /api/v1/polls/{id}, keep-alive)",
            f"{reads['per_second']:.0f} req/s" if reads else "not measured",
            _status(reads["per_second"] >= 3000 if reads else None),
        )
    )

    for workers in (1, 2):
        step = _step(_combo(results, "hypercorn", workers, False), small)
        hot = step.get("hot") if step else None
        ok, text = None, "not measured"
        if hot is not None:
            combo_ = _combo(results, "hypercorn", workers, False)
            exact = hot["exact_viewers"] == hot["viewers"] and bool(combo_ and combo_["db_exact"])
            ok = hot["messages_per_viewer_per_second_max"] <= 20 and exact
            text = (
                f"max {hot['messages_per_viewer_per_second_max']:.1f} msg/viewer/s; "
                f"{hot['exact_viewers']:,}/{hot['viewers']:,} viewers exact, database "
                f"{'exact' if combo_ and combo_['db_exact'] else 'NOT exact'}; "
                f"{hot['achieved_rate']:.0f} of {plan['hot_rate']} votes/s achieved"
            )
        rows.append(
            (
                f"hot poll, {workers} worker(s): <= 20 messages per viewer per second, exact "
                "final counts",
                text,
                _status(ok),
            )
        )
    return rows


# ------------------------------------------------------------------ tables


def _md(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _compression(deflate: bool) -> str:
    return "deflate" if deflate else "none"


def _budgets(plan: dict) -> str:
    return ", ".join(
        f"{c['server']} w{c['workers']} {_compression(c['deflate'])}: {c['ramp_budget']:.0f} s"
        for c in plan["combos"]
    )


CPU_HEAD = "CPU cores: server (per worker) / PostgreSQL / rest"


def _cpu(cpu: dict | None) -> str:
    """Cores used: the server (per worker), PostgreSQL, the rest of the machine."""
    if not cpu:
        return ""
    workers = "+".join(f"{w:.2f}" for w in cpu["workers"])
    return f"{cpu['server']:.2f} ({workers}) / {cpu['postgres']:.2f} / {cpu['other']:.2f}"


def ingest_rows(results: dict) -> list[list[Any]]:
    rows = []
    for r in results["ingest"]:
        exact = "yes" if r["exact"] else f"NO ({r['other_statuses'] or r['s200']})"
        rows.append(
            [
                r["server"],
                r["workers"],
                r["case"] + (" (profiled)" if r.get("profiled") else ""),
                f"{r['vote_table']:,}",
                f"{r['votes_per_second']:.0f}",
                _ms(r["p50_us"] / 1000),
                _ms(r["p99_us"] / 1000),
                r["s201"],
                r["stored"],
                r["in_flight"],
                r["lost"],
                r["extra"],
                exact,
                _cpu(r.get("cpu")),
            ]
        )
    return rows


def fanout_rows(results: dict) -> list[list[Any]]:
    rows = []
    for c in results["fanout"]:
        z = c["zero_viewers"]
        head = [c["server"], c["workers"], _compression(c["deflate"])]
        rows.append([*head, 0, "", "", _ms(z["http_p50_ms"]), _ms(z["http_p99_ms"]), "", "", ""])
        for s in c["steps"]:
            viewers = f"{s['viewers']:,}"
            if s["viewers"] < s["target"]:
                viewers += f" of {s['target']:,}"
            if s.get("profiled"):
                viewers += " (votes profiled)"
            if s.get("connect_profiled"):
                viewers += " (joins profiled)"
            rows.append(
                [
                    *head,
                    viewers,
                    _ms(s["last_viewer_p50_ms"]),
                    _ms(s["last_viewer_p99_ms"]),
                    _ms(s["http_p50_ms"]),
                    _ms(s["http_p99_ms"]),
                    f"{s['connect']['per_second']:.0f}",
                    f"{s['rss_per_viewer'] / 1024:.1f}",
                    _cpu(s.get("cpu")),
                ]
            )
    return rows


def hot_rows(results: dict) -> list[list[Any]]:
    rows = []
    for c in results["fanout"]:
        for s in c["steps"]:
            h = s.get("hot")
            if not h:
                continue
            rows.append(
                [
                    c["server"],
                    c["workers"],
                    f"{s['viewers']:,}",
                    f"{h['acknowledged']} in {h['send_seconds']:.1f} s",
                    f"{h['achieved_rate']:.0f}",
                    f"{h['messages_per_viewer_per_second_mean']:.1f} / "
                    f"{h['messages_per_viewer_per_second_max']:.1f}",
                    _ms(h["e2e_p50_ms"]),
                    _ms(h["e2e_p99_ms"]),
                    _ms(h["http_p50_ms"]),
                    _ms(h["http_p99_ms"]),
                    f"{h['exact_viewers']:,}/{h['viewers']:,}",
                    "yes"
                    if c["db_exact"]
                    else f"NO (db {c['db']['vote_rows']}, acked {c['acknowledged']})",
                ]
            )
    return rows


def reads_rows(results: dict) -> list[list[Any]]:
    return [
        [
            r["server"],
            r["workers"],
            "keep-alive" if r.get("keep_alive") else "new per request",
            f"{r['per_second']:.0f}",
            _ms(r["p50_us"] / 1000),
            _ms(r["p99_us"] / 1000),
            r["errors"]["status"] + r["errors"]["timeout"],
            _cpu(r.get("cpu")),
        ]
        for r in results["reads"]
    ]


def ratio_rows(results: dict) -> list[list[Any]]:
    rows: list[list[Any]] = []

    def add(what: str, hyper: float | None, uvi: float | None, unit: str) -> None:
        if hyper is None or uvi is None:
            return
        ratio = f"{uvi / hyper:.2f}" if hyper else "n/a"
        rows.append([what, f"{hyper:.1f} {unit}", f"{uvi:.1f} {unit}", ratio])

    for r in results["ingest"]:
        if r["server"] != "hypercorn":
            continue
        u = _ingest(results, "uvicorn", r["workers"], r["case"], r["stored_votes"])
        label = f"votes/s, {r['workers']} worker(s), {r['case']}"
        label += ", 200k stored" if r["stored_votes"] else ""
        add(label, r["votes_per_second"], u["votes_per_second"] if u else None, "/s")
    for r in results["reads"]:
        if r["server"] == "hypercorn":
            keep = bool(r.get("keep_alive"))
            u = _reads(results, "uvicorn", r["workers"], keep)
            add(
                f"reads, {r['workers']} worker(s), {'keep-alive' if keep else 'new connections'}",
                r["per_second"],
                u["per_second"] if u else None,
                "/s",
            )
    for c in results["fanout"]:
        if c["server"] != "hypercorn":
            continue
        u = _combo(results, "uvicorn", c["workers"], c["deflate"])
        for s in c["steps"]:
            us = _step(u, s["target"])
            if us is None or us["viewers"] != s["viewers"]:
                continue
            tag = (
                f"{s['viewers']:,} viewers, {c['workers']} worker(s), {_compression(c['deflate'])}"
            )
            add(f"fan-out p99, {tag}", s["last_viewer_p99_ms"], us["last_viewer_p99_ms"], "ms")
            add(
                f"RSS per viewer, {tag}",
                s["rss_per_viewer"] / 1024,
                us["rss_per_viewer"] / 1024,
                "KiB",
            )
            add(
                f"connections/s opening, {tag}",
                s["connect"]["per_second"],
                us["connect"]["per_second"],
                "/s",
            )
            if s.get("hot") and us.get("hot"):
                add(
                    f"hot poll e2e p99, {tag}",
                    s["hot"]["e2e_p99_ms"],
                    us["hot"]["e2e_p99_ms"],
                    "ms",
                )
    return rows


def _verdict(results: dict) -> str:
    """What the ratios show, and the choice of server."""
    rows = ratio_rows(results)
    http = [float(r[3]) for r in rows if r[0].startswith(("votes/s", "reads")) and r[3] != "n/a"]
    live = [
        float(r[3]) for r in rows if r[0].startswith(("fan-out p99", "hot poll")) and r[3] != "n/a"
    ]
    if not http or not live:
        return "Not enough cases ran under both servers to compare them."
    layers = dict(
        results.get("profiles", {}).get("ingest", {}).get("summary", {}).get("layers", [])
    )
    h11 = layers.get("HTTP server (Hypercorn, h11)")
    share = f" ({h11:.0f}% of a vote's samples in the profile below)" if h11 else ""
    return (
        f"**What they show.** Over HTTP (votes and reads) Uvicorn does {min(http):.2f} to "
        f"{max(http):.2f} times Hypercorn's rate: it parses HTTP in C (httptools) where "
        f"Hypercorn uses h11 in Python{share}. "
        f"For live results it is the other way round: Uvicorn's p99 times are {min(live):.2f} "
        f"to {max(live):.2f} times Hypercorn's, because under our Hypercorn runner the app "
        "writes each update as one prebuilt frame straight to every socket, while under "
        "Uvicorn it goes through ASGI, one task and one send per viewer; and with "
        "permessage-deflate Uvicorn keeps a compressor per connection, about twice the memory "
        "per viewer. **Hypercorn stays our server**: live results are what this service is "
        "for, and there it is clearly ahead; the HTTP gap is real but smaller, and the one "
        "HTTP target neither server meets (1,500 votes/s on a single poll) is bounded by the "
        "poll's row lock, not by the server (see *What limits these figures*)."
    )


def stop_rows(results: dict) -> list[list[Any]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for stop in results.get("stops", []):
        groups.setdefault((stop["server"], stop["phase"]), []).append(stop)
    return [
        [
            server,
            phase,
            f"{sum(1 for s in stops if s['clean'])} of {len(stops)}",
            _ms(max((s["seconds"] or 0) for s in stops)),
        ]
        for (server, phase), stops in groups.items()
    ]


def table(results: dict) -> str:
    """The console summary: targets, then the main figures."""
    out = ["", "TARGETS (app under Hypercorn)"]
    for target, measured, status in targets(results):
        out.append(f"  [{status.strip('*'):>12}] {target}\n                 {measured}")
    out.append(
        "\nINGEST  server workers case vote_table votes/s p50ms p99ms acked stored "
        "inflight lost extra exact cpu:server(workers)/postgres/rest"
    )
    out += ["  " + " ".join(str(c) for c in row) for row in ingest_rows(results)]
    out.append("\nREADS   server workers connections req/s p50ms p99ms errors cpu")
    out += ["  " + " ".join(str(c) for c in row) for row in reads_rows(results)]
    out.append(
        "\nFAN-OUT server workers compression viewers last_p50 last_p99 http_p50 "
        "http_p99 conn/s KiB/viewer cpu"
    )
    out += ["  " + " | ".join(str(c) for c in row) for row in fanout_rows(results)]
    out.append(
        "\nHOT POLL server workers viewers votes rate msg/viewer/s(mean/max) e2e_p50 "
        "e2e_p99 http_p50 http_p99 exact_viewers db_exact"
    )
    out += ["  " + " | ".join(str(c) for c in row) for row in hot_rows(results)]
    return "\n".join(out)


# ------------------------------------------------------------------ the document


def _profile_section(results: dict) -> str:
    out = []
    profiles = results.get("profiles", {})
    if not profiles:
        return "No profile was taken in this run (`--no-profile`, or py-spy failed).\n"
    for key in ("ingest", "fanout", "joins"):
        entry = profiles.get(key)
        if not entry or not entry.get("summary", {}).get("samples"):
            continue
        s = entry["summary"]
        title = {
            "ingest": "Vote ingest",
            "fanout": "Fan-out (votes to many viewers)",
            "joins": "Viewers joining",
        }[key]
        top_layer, top_share = s["layers"][0]
        out.append(
            f"### {title}\n\npy-spy, 100 samples/s, {entry['what']}: {s['samples']} "
            f"samples. Largest layer: **{top_layer}, {top_share:.0f}%** of the samples."
            "\n"
        )
        out.append(
            _md(
                ["layer (innermost frame)", "share"],
                [[name, f"{pct:.1f}%"] for name, pct in s["layers"]],
            )
        )
        out.append("\nTop functions by own time:\n")
        out.append(
            _md(["function", "own"], [[f"`{name}`", f"{pct:.1f}%"] for name, pct in s["own"][:10]])
        )
        out.append("\nApp functions by inclusive time (the time under them):\n")
        out.append(
            _md(
                ["function", "inclusive"],
                [[f"`{name}`", f"{pct:.1f}%"] for name, pct in s["app_inclusive"][:12]],
            )
        )
        out.append("")
    return "\n".join(out) + "\n"


READING = """\
What the code does on these paths, which the profiles above weigh:

- **A vote** (`POST /api/v1/polls/{id}/votes`) looks up the token (one statement), then runs
  a transaction: lock the poll's row (`SELECT ... FOR UPDATE`, PostgreSQL only: SQLite's
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


def _statements_section(results: dict) -> str:
    found = results.get("statements")
    if not isinstance(found, dict):
        return f"Not measured ({found}).\n"
    rows = [[case, len(calls)] for case, calls in found.items()]
    vote = found.get("vote, nobody watching", [])
    listing = "\n".join(f"{i}. `{c}`" for i, c in enumerate(vote, 1))
    return (
        "`bench/statements.py` runs the app in-process against the benchmark database and "
        "counts the statements asyncpg sends (each one a round trip to PostgreSQL):\n\n"
        + _md(["request", "round trips"], rows)
        + "\n\nA vote, in order:\n\n"
        + listing
        + "\n"
    )


def _keep_alive_note(results: dict) -> str:
    uneven = [
        r
        for r in results["reads"]
        if r.get("keep_alive")
        and r.get("cpu")
        and len(r["cpu"]["workers"]) > 1
        and min(r["cpu"]["workers"]) < 0.2 * max(r["cpu"]["workers"])
    ]
    if uneven:
        names = ", ".join(f"{r['server']}" for r in uneven)
        return f" In this run one worker took nearly all of them with: {names}."
    return " In this run they spread over both workers with every server."


def _quiet_note(machine: dict) -> str:
    if machine["load_start"][0] < 0.5:
        return (
            "- The machine was otherwise idle when the run started (load average below 0.5). "
            "Server, PostgreSQL and load generators share its 2 cores: every client here "
            "costs the server CPU."
        )
    return (
        "- **The machine may have been busy** (load average at start "
        f"{machine['load_start'][0]:.2f}): figures can be lower and noisier than on a quiet "
        "machine. Server, PostgreSQL and load generators also share the 2 cores: every client "
        "here costs the server CPU."
    )


def _target_count(results: dict) -> str:
    rows = targets(results)
    met = sum(1 for _, _, status in rows if "met" in status and "missed" not in status)
    measured = sum(1 for _, _, status in rows if status != "not measured")
    return f"**{met} of {measured} measured targets met.**"


def _limits(results: dict) -> str:
    out = []
    many = f"{results['plan']['many_polls']} polls"
    for server in ("hypercorn", "uvicorn"):
        row = _ingest(results, server, 2, many, False)
        if row and row.get("cpu") and row["votes_per_second"]:
            cpu, rate = row["cpu"], row["votes_per_second"]
            out.append(
                f"- **Votes ({server}, 2 workers, {many})**: {rate:.0f} votes/s with "
                f"{cpu['machine']:.2f} of 2 cores busy: {1000 * cpu['server'] / rate:.1f} ms of "
                f"server CPU and {1000 * cpu['postgres'] / rate:.1f} ms of PostgreSQL CPU per "
                f"vote. 1,500 votes/s on 2 cores leaves about 1.3 ms of CPU per vote, for "
                "everything."
            )
        reads = _reads(results, server, 2, keep_alive=True)
        if reads and reads.get("cpu") and reads["per_second"]:
            cpu, rate = reads["cpu"], reads["per_second"]
            out.append(
                f"- **Reads ({server}, 2 workers, keep-alive)**: {rate:.0f} req/s, "
                f"{1000 * cpu['server'] / rate:.1f} ms of server CPU and "
                f"{1000 * cpu['postgres'] / rate:.1f} ms of PostgreSQL CPU per `GET`; 3,000 "
                "req/s on 2 cores leaves about 0.6 ms."
            )
    one = _ingest(results, "hypercorn", 2, "1 poll", False)
    one_w1 = _ingest(results, "hypercorn", 1, "1 poll", False)
    one_u = _ingest(results, "uvicorn", 2, "1 poll", False)
    if one and one["votes_per_second"]:
        rate = one["votes_per_second"]
        others = "; ".join(
            f"{label}: {row['votes_per_second']:.0f}/s"
            for label, row in (("hypercorn, 1 worker", one_w1), ("uvicorn, 2 workers", one_u))
            if row
        )
        out.append(
            f"- **Votes on one poll (hypercorn, 2 workers)**: {rate:.0f} votes/s, "
            f"{1000 / rate:.2f} ms per vote. They are serialised by the poll's row lock, so the "
            "rate is one over the time a vote holds it: the lock, the read, the write and the "
            "commit, four round trips, each waiting its turn on a busy event loop. More workers "
            f"or another server do not change that much ({others}); 1,500 votes/s on one poll "
            "would need the lock held for under 0.67 ms."
        )
    for server in ("hypercorn", "uvicorn"):
        parts = []
        for workers in (1, 2):
            combo = _combo(results, server, workers, False)
            for step in combo["steps"] if combo else []:
                p50 = step["last_viewer_p50_ms"]
                if p50 is None or step["viewers"] < 1000:
                    continue
                per_worker = step["viewers"] / workers
                parts.append(
                    f"{step['viewers']:,} viewers / {workers} worker(s): "
                    f"{1000 * p50 / per_worker:.0f} µs"
                )
        if parts:
            out.append(
                f"- **Fan-out ({server}, no compression)**: the median vote-to-last-viewer time "
                "divided by the viewers each worker serves, i.e. the time per viewer per "
                f"update: {'; '.join(parts)}. 10,000 viewers within 250 ms on 2 workers needs "
                "50 µs or less, clients included."
            )
    joins = []
    for combo in results["fanout"]:
        if combo["server"] == "hypercorn" and not combo["deflate"]:
            steps = ", ".join(
                f"to {s['viewers']:,}: {s['connect']['per_second']:.0f}/s" for s in combo["steps"]
            )
            joins.append(f"{combo['workers']} worker(s): {steps}")
    if joins:
        out.append(
            "- **Joins (hypercorn, no compression)**: connections opened per second, from the "
            f"previous step to the next ({'; '.join(joins)}). Viewer counts go out at most "
            "once a second, so a crowd joining does not cost a message per join to everyone."
        )
    return "\n".join(out) or "Not measured."


KEPT = re.compile(r"<!-- kept: (\w+) -->\n.*?<!-- /kept: \1 -->\n", re.S)


def with_kept_sections(text: str, path: Path) -> str:
    """The report with the sections other harnesses keep in the same file (bench/ratelimit.py
    writes one), carried over from the file as it is."""
    old = path.read_text() if path.exists() else ""
    kept = [match.group(0) for match in KEPT.finditer(old)]
    return text.rstrip("\n") + "\n\n" + "\n".join(kept) if kept else text


def replace_section(path: Path, name: str, body: str) -> None:
    """Write (or replace) the kept section `name` at the end of the file."""
    block = f"<!-- kept: {name} -->\n{body.rstrip()}\n<!-- /kept: {name} -->\n"
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(rf"<!-- kept: {name} -->\n.*?<!-- /kept: {name} -->\n", re.S)
    if pattern.search(old):
        path.write_text(pattern.sub(lambda _: block, old))
    else:
        path.write_text(old.rstrip("\n") + "\n\n" + block)


def render(results: dict) -> str:
    m = results["machine"]
    v = results["versions"]
    plan = results["plan"]
    lines = [
        "# Benchmarks",
        "",
        "Measured by the harness in `bench/` (see `bench/run.py` for what each case does). "
        "Re-run it with:",
        "",
        "```sh",
        "python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e .",
        ". .venv/bin/activate && python -m bench.run          # full run, about 20 minutes",
        "python -m bench.run --quick                           # smoke run, a few minutes",
        "```",
        "",
        "It installs its own extras when missing: `pip install -r bench/requirements.txt` "
        "(Uvicorn with uvloop, httptools and websockets, py-spy), `npm ci --prefix bench` "
        "(the `ws` package) and `apt-get install -y wrk` (Debian's wrk, built with LuaJIT). It "
        "needs PostgreSQL at `BENCH_POSTGRES_URL` (default "
        "`postgresql://postgres@127.0.0.1:5432/postgres`) and Node.js 18 or newer, and "
        "creates the database `livepolls_bench` afresh on every run.",
        "",
        "## This run",
        "",
        f"- Date: {results['date']}; took {results['seconds'] / 60:.1f} minutes",
        f"- Command: `{results['command']}`",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux "
        f"{m['kernel']}; load average at start {', '.join(f'{x:.2f}' for x in m['load_start'])}, "
        f"at end {', '.join(f'{x:.2f}' for x in m.get('load_end', ()))}",
        _quiet_note(m),
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "- Servers: `python -m webapp.cli serve --workers N` (Hypercorn, the app's own "
        "command: uvloop, a `SO_REUSEPORT` listening socket per worker, live frames written "
        "straight to the sockets) with `DATABASE_URL` and `SECRET_KEY` set, `LIVEPOLLS_ENV` "
        "unset, every other setting at its default (pool of 10 connections per worker, live "
        "interval 75 ms); the reference is `uvicorn webapp.asgi:app --loop uvloop --http "
        "httptools --ws websockets-sansio --workers N` on the same database (there the app "
        "sends live updates through ASGI, one task per viewer).",
        "- *CPU cores* columns: CPU seconds per second of the case, from /proc: the server's "
        "processes (and each worker), every PostgreSQL process, and the rest of the machine "
        "(the load generators and anything else running). 2.00 is the whole machine.",
        "- KB in the targets is taken as KiB (1,024 bytes).",
        "",
        "## Targets (the app under Hypercorn)",
        "",
        _md(["target", "measured", "result"], [list(row) for row in targets(results)]),
        "",
        _target_count(results),
        "",
        "With 20 votes per step, a p99 is in effect the slowest of the 20. Latency targets are "
        "judged on the vote-to-last-viewer time, which includes the clients' own time to read "
        "the message on the same 2 cores.",
        "",
        "## What limits these figures",
        "",
        "Derived from the tables below (CPU per request = cores used / requests per second):",
        "",
        _limits(results),
        "",
        "## Vote ingest",
        "",
        f"wrk (1 thread, {plan['ingest_connections']} connections, {plan['ingest_seconds']} s "
        "per case, after a 2 s warm-up) POSTs votes with `bench/ingest.lua`: every request is a "
        "new (user, poll) pair, so each 201 is one new vote; each connection carries request "
        "after request (keep-alive), as from a reverse proxy's upstream pool or a client that "
        'reuses its connection, except in the "new connections" case, where every vote '
        "comes on a new connection (`Connection: close`), as from a new client, for reference; "
        "users rotate through "
        f'{plan["users"]:,} seeded accounts and tokens. "1 poll" puts every vote on one poll; '
        f'"{plan["many_polls"]} polls" spreads them round-robin. After each case the harness '
        "counts the vote rows and the running counts (`poll_option.votes`, `poll.voters`) of "
        "the case's polls: *lost* = acknowledged (201) but not stored, *extra* = stored beyond "
        "the acknowledged plus the requests still in flight when wrk stopped (wrk cuts them "
        "off; each may or may not have committed, and *stored − acked* of them did). The "
        '"vote table" column is the number of votes already stored when the case started; '
        f"the second set of rows runs with {results.get('stored_votes', 0):,} votes stored in "
        f"{plan['stored_polls']} other polls. Latency is wrk's (closed loop, "
        f"{plan['ingest_connections']} requests outstanding). The two sets ran a few minutes "
        "apart, each on freshly started servers; while this harness was built the same case "
        "varied by up to about 25% between runs on a busy machine and about 10% on a quiet "
        "one, so only a larger drop than that would show a slowdown with stored votes.",
        "",
        _md(
            [
                "server",
                "workers",
                "case",
                "vote table",
                "votes/s",
                "p50 ms",
                "p99 ms",
                "acked",
                "stored",
                "in flight at stop",
                "lost",
                "extra",
                "exact",
                CPU_HEAD,
            ],
            ingest_rows(results),
        ),
        "",
        "## Reads",
        "",
        f"wrk (1 thread, {plan['reads_connections']} connections, {plan['reads_seconds']} s), "
        "`GET /api/v1/polls/{id}` anonymously, on the servers of the ingest cases, over "
        "keep-alive connections, then again with every request on a new connection "
        "(`Connection: close`). wrk opens its keep-alive connections all at once, and the CPU "
        "column shows which workers took them: with one shared listening socket the first "
        "worker to wake could accept the whole burst and leave the other idle; our server "
        "gives each worker its own `SO_REUSEPORT` socket, so the kernel spreads them."
        + _keep_alive_note(results),
        "",
        _md(
            ["server", "workers", "connections", "req/s", "p50 ms", "p99 ms", "errors", CPU_HEAD],
            reads_rows(results),
        ),
        "",
        "## Fan-out and footprint",
        "",
        f"`bench/viewers.mjs` (Node.js, `ws`) holds the viewers of one poll in "
        f"{plan['viewer_procs']} processes, anonymously, and sends votes itself, one at a time "
        f"from new users, {plan['votes_per_step']} per step, {plan['vote_interval_ms']} ms "
        "apart and never before the previous one reached every viewer (so each vote is its own "
        "update). *Vote to last viewer* runs from just before the POST to the moment the last "
        "viewer has received a `results` message with that vote's `seq` (or newer), on one "
        "clock shared by every process (`performance.timeOrigin + performance.now()`); it "
        "includes the clients' own time to read the message. *Vote HTTP* is the POST's own "
        "response time; the 0-viewer row is measured first. Viewers connect "
        f"{plan['connect_concurrency']} handshakes at a time; *conn/s* is the step's new "
        "connections divided by the time until all of them held their first snapshot. "
        "*KiB/viewer* is the growth of the server's RSS (VmRSS summed over all its processes, "
        "from /proc) from before the first viewer to 3 s after the step's last one joined, "
        "divided by the viewers. *deflate*: the clients offer permessage-deflate as browsers "
        "do (the server accepts it); *none*: they do not.",
        "",
        "Each combination has a time budget for opening connections "
        f"({_budgets(plan)}); "
        'a step that ran out of it is measured with the viewers reached ("N of M"), and the '
        "larger steps are skipped. Some uvicorn combinations and those with compression on one "
        "worker stop at smaller steps to keep the whole run near 20 minutes.",
        "",
        _md(
            [
                "server",
                "workers",
                "compression",
                "viewers",
                "vote→last viewer p50 ms",
                "p99 ms",
                "vote HTTP p50 ms",
                "p99 ms",
                "conn/s",
                "KiB/viewer",
                CPU_HEAD + " during the votes",
            ],
            fanout_rows(results),
        ),
        "",
        "## Hot poll",
        "",
        f"{plan['hot_rate']} votes/s for {plan['hot_seconds']} s (open loop: sent on a "
        "schedule, from new users, over up to 64 keep-alive connections) on the fan-out poll "
        "with its first step of viewers. *Rate* is what the server acknowledged per second of "
        "sending. *msg/viewer/s* counts `results` messages per viewer during the scheduled "
        "sending time (mean / max over viewers); when the server acknowledges fewer than the "
        "rate, the votes queue in the client and are answered later, and *e2e* and *HTTP* "
        "(both timed from the moment a vote is due) grow with that queue. *e2e* is, per vote, "
        "the time from its POST to "
        "the moment the last viewer held its seq or a newer one. *Exact viewers*: viewers whose "
        "last message equals `GET /results` after the burst; *db exact*: the poll's vote rows, "
        "option counts and voters equal the votes acknowledged on it.",
        "",
        _md(
            [
                "server",
                "workers",
                "viewers",
                "votes acked",
                "rate /s",
                "msg/viewer/s",
                "e2e p50 ms",
                "e2e p99 ms",
                "HTTP p50 ms",
                "HTTP p99 ms",
                "exact viewers",
                "db exact",
            ],
            hot_rows(results),
        ),
        "",
        "## Shutdown",
        "",
        "Every server is stopped with SIGTERM and killed if it has not exited 8 s later. A "
        "shutdown that needed the kill is not clean.",
        "",
        _md(["server", "when", "clean shutdowns", "longest wait s"], stop_rows(results)),
        "",
        "## Reference: Uvicorn / Hypercorn",
        "",
        "The same app and cases under Uvicorn (uvloop, httptools, websockets-sansio). Ratio = "
        "Uvicorn's figure / Hypercorn's (above 1 is more for Uvicorn: better for rates, worse "
        "for times and memory).",
        "",
        _md(["case", "Hypercorn", "Uvicorn", "ratio"], ratio_rows(results)),
        "",
        _verdict(results),
        "",
        "## Where the time goes",
        "",
        _profile_section(results),
        READING,
        "### Round trips per request",
        "",
        _statements_section(results),
    ]
    return "\n".join(lines) + "\n"
