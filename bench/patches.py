"""Our Hypercorn patches against Hypercorn as released: which of them pay for themselves?

    python -m bench.patches                     # about 10 minutes
    python -m bench.patches --viewers 2000 --runs on:none,off:none --no-write
    python -m bench.patches --repeat 2          # every run twice, interleaved

Starts `livepolls serve --workers 2` (bench/servers.py) on a fresh PostgreSQL database of its
own (`livepolls_bench_patches`, recreated each run) once per run, each run a variant of the
patches (webapp/hypercorn_patches/) and a compression setting:

- `on`: as shipped: FrameSink (prebuilt frames written straight to the socket), one Pinger
  task per process, the message-size and close-code fixes, the reference-cycle break;
- `off`: `LIVEPOLLS_HYPERCORN_PATCHES=off`, Hypercorn as released: the app sends through
  ASGI, Hypercorn pings every connection from a task of its own;
- `fixes`: the fixes and the cycle break without the FrameSink (bench/hypercorn_parts.py),
  so sending and pinging are Hypercorn's, as with `off`;
- `on-nopings`, `off-nopings`: `on` and `off` with `LIVEPOLLS_PING_INTERVAL_S=0`, to tell the
  cost of the pings from the cost of the sending.

Each run: bench/viewers.mjs opens --viewers WebSocket viewers of one poll (4 processes, 128
handshakes at a time, permessage-deflate offered or not), the server idles with them for
--idle-seconds (pings only), then --votes spaced votes (each timed from just before its POST
to the moment the last viewer holds it), then --hot-rate votes/s for --hot-seconds (open
loop). The viewers then drop their connections, and the same number join and drop again: the
RSS that the second crowd leaves behind, once settled, is what closed connections keep. CPU
seconds come from /proc for the server's processes in each phase.

Prints the figures as JSON, saves them to bench/results/patches-<time>.json and writes the
"Hypercorn patches" section of docs/benchmarks.md (a section bench.run keeps when it rewrites
the rest of that file) unless --no-write. Every loop is bounded in count and time and targets
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import seed
from bench.churn import server_connections, settled_rss, wait_for
from bench.servers import CpuMeter, Server
from bench.stats import percentile, vote_stats
from bench.tools import raise_open_files
from bench.viewers import Viewers, open_viewers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE = "livepolls_bench_patches"
NO_PINGS = {"LIVEPOLLS_PING_INTERVAL_S": "0"}
OFF = {"LIVEPOLLS_HYPERCORN_PATCHES": "off"}
# variant: (server environment, a line every worker logs when the variant is in effect)
VARIANTS: dict[str, tuple[dict[str, str], str | None]] = {
    "on": ({}, None),
    "off": (OFF, "LIVEPOLLS_HYPERCORN_PATCHES=off"),
    "fixes": ({"BENCH_HYPERCORN_PARTS": "fixes"}, "patched with the fixes only"),
    "on-nopings": (NO_PINGS, None),
    "off-nopings": ({**OFF, **NO_PINGS}, "LIVEPOLLS_HYPERCORN_PATCHES=off"),
}
DEFAULT_RUNS = "on:none,off:none,fixes:none,on-nopings:none,off-nopings:none,on:deflate,off:deflate"
VOTE_TIMEOUT_MS = 10_000


def log(message: str) -> None:
    print(f"[patches {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class VariantServer(Server):
    """`livepolls serve` with one variant of the patches."""

    def __init__(self, variant: str, workers: int, database_url: str, log_dir: Path) -> None:
        super().__init__("hypercorn", workers, database_url, log_dir)
        self.variant = variant
        self.log_path = log_dir / f"patches-{variant}-w{workers}-{self.port}.log"
        self.env.update(VARIANTS[variant][0])

    def command(self) -> list[str]:
        command = super().command()
        if "BENCH_HYPERCORN_PARTS" in self.env:
            command[1:3] = ["-m", "bench.hypercorn_parts"]
        return command

    def check_variant(self) -> None:
        """Every worker says it runs the variant (and none that it is unpatched by mistake)."""
        text = self.log_path.read_text(errors="replace")
        marker = VARIANTS[self.variant][1]
        found = text.count(marker) if marker else 0
        if (marker and found < self.workers) or (not marker and "patches=off" in text.lower()):
            raise RuntimeError(f"{self.variant}: the server log does not show the variant")
        if "Hypercorn not patched" in text:
            raise RuntimeError(f"{self.variant}: Hypercorn could not be patched")


@dataclass
class Settings:
    viewers: int
    workers: int
    votes: int
    interval_ms: int
    hot_rate: int
    hot_seconds: int
    idle_seconds: float
    procs: int = 4
    concurrency: int = 128
    runs: list[tuple[str, bool]] = field(default_factory=list)


def with_cpu(server: Server, work: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """work()'s result and the CPU seconds the server (and PostgreSQL) used meanwhile."""
    meter = CpuMeter(server)
    started = time.monotonic()
    result = work()
    cores = meter.stop()
    seconds = time.monotonic() - started
    cpu = {
        "seconds": seconds,
        "server_s": cores["server"] * seconds,
        "workers_s": [w * seconds for w in cores["workers"]],
        "postgres_s": cores["postgres"] * seconds,
        "other_s": cores["other"] * seconds,
    }
    return result, cpu


def join(server: Server, viewers: Viewers, s: Settings) -> dict[str, Any]:
    """Open the viewers; their handshake rate and the server's CPU per handshake."""
    command = {"cmd": "connect", "total": s.viewers, "concurrency": s.concurrency}
    connect, cpu = with_cpu(server, lambda: viewers.call(210, **command, max_seconds=120))
    return {
        "connected": connect["total"],
        "failed": connect["failed"],
        "extensions": connect["extensions"],
        "handshakes_per_s": connect["per_second"],
        "cpu": cpu,
        "server_cpu_ms_per_handshake": 1000 * cpu["server_s"] / max(1, connect["opened"]),
    }


def spaced_votes(server: Server, viewers: Viewers, s: Settings) -> dict[str, Any]:
    """One vote at a time, each its own update, timed to the last viewer."""
    budget = s.votes * (s.interval_ms + VOTE_TIMEOUT_MS) / 1000 + 60
    command = {"cmd": "votes", "count": s.votes, "interval_ms": s.interval_ms}
    reply, cpu = with_cpu(
        server,
        lambda: viewers.call(budget, **command, first_user=0, timeout_ms=VOTE_TIMEOUT_MS),
    )
    stats = vote_stats(reply["votes"])
    stats.pop("raw")
    return {**stats, "cpu": cpu, "server_cpu_ms_per_update": 1000 * cpu["server_s"] / s.votes}


def hot_votes(server: Server, viewers: Viewers, s: Settings) -> dict[str, Any]:
    """Votes at a fixed rate (open loop): updates coalesce, every viewer ends exact."""
    command = {"cmd": "hot", "rate": s.hot_rate, "seconds": s.hot_seconds}
    reply, cpu = with_cpu(
        server,
        lambda: viewers.call(
            s.hot_seconds * 4 + 240, **command, first_user=s.votes, timeout_ms=VOTE_TIMEOUT_MS
        ),
    )
    rates = reply["messages_per_viewer_per_second"]
    return {
        "acknowledged": reply["acknowledged"],
        "achieved_rate": reply["acknowledged"] / reply["send_seconds"],
        "e2e_p50_ms": percentile(reply["e2e_ms"], 50),
        "e2e_p99_ms": percentile(reply["e2e_ms"], 99),
        "http_p99_ms": percentile(reply["http_ms"], 99),
        "messages_per_viewer_per_second_max": max(rates, default=None),
        "exact_viewers": reply["exact_viewers"],
        "viewers": reply["viewers"],
        "cpu": cpu,
        "server_cores": cpu["server_s"] / cpu["seconds"],
    }


def idle(server: Server, seconds: float) -> dict[str, float]:
    """The server with its viewers and nothing to send: pings only."""
    _, cpu = with_cpu(server, lambda: time.sleep(seconds))
    return cpu


def crowd_leaves(server: Server, viewers: Viewers) -> dict[str, Any]:
    """Every viewer drops its connection; the RSS once the server holds none of them."""
    dropped = viewers.call(120, cmd="close")["dropped"]
    viewers.kill()
    drained = wait_for(lambda: server_connections(server.port) == 0, 60)
    return {"dropped_by_server": dropped, "drained": drained, "rss": settled_rss(server)}


def churn_round(
    server: Server, poll: seed.Poll, seeded: seed.Seeded, deflate: bool, s: Settings
) -> dict[str, Any]:
    """A second crowd joins and drops: what its closed connections leave in memory."""
    viewers = open_viewers(server, poll, seeded, deflate, s.procs)
    try:
        joined = viewers.call(
            210, cmd="connect", total=s.viewers, concurrency=s.concurrency, max_seconds=120
        )["total"]
        left = crowd_leaves(server, viewers)
    finally:
        viewers.kill()
    return {"joined": joined, **left}


def measure(variant: str, deflate: bool, seeded: seed.Seeded, s: Settings) -> dict[str, Any]:
    label = f"{variant} {'deflate' if deflate else 'none'}"
    (poll,) = seed.create_polls(seeded, 1, f"patches {label}")
    server = VariantServer(variant, s.workers, seeded.url, RESULTS)
    out: dict[str, Any] = {"variant": variant, "deflate": deflate}
    with server.start(f"/api/v1/polls/{poll.id}"):
        server.check_variant()
        viewers = open_viewers(server, poll, seeded, deflate, s.procs)
        try:
            time.sleep(1.0)
            out["rss_idle"] = server.rss_bytes()
            out["join"] = join(server, viewers, s)
            time.sleep(3.0)  # the last viewer-count updates go out
            out["rss_with_viewers"] = server.rss_bytes()
            out["kib_per_viewer"] = (
                (out["rss_with_viewers"] - out["rss_idle"])
                / 1024
                / max(1, out["join"]["connected"])
            )
            out["idle"] = idle(server, s.idle_seconds)
            out["spaced"] = spaced_votes(server, viewers, s)
            out["hot"] = hot_votes(server, viewers, s)
            out["first_leave"] = crowd_leaves(server, viewers)
        finally:
            viewers.kill()
        out["second_round"] = churn_round(server, poll, seeded, deflate, s)
        kept = out["second_round"]["rss"] - out["first_leave"]["rss"]
        out["kib_kept_per_closed_viewer"] = kept / 1024 / max(1, out["second_round"]["joined"])
    out["clean_stop"] = server.clean_stop
    log_run(label, out)
    return out


def log_run(label: str, out: dict[str, Any]) -> None:
    spaced, hot = out["spaced"], out["hot"]
    log(
        f"{label}: {out['join']['connected']} viewers at {out['join']['handshakes_per_s']:.0f}/s, "
        f"{out['kib_per_viewer']:.1f} KiB each; fan-out p50 {spaced['last_viewer_p50_ms']:.1f} "
        f"p99 {spaced['last_viewer_p99_ms']:.1f} ms, {spaced['server_cpu_ms_per_update']:.0f} "
        f"ms CPU/update; hot e2e p99 {hot['e2e_p99_ms']:.0f} ms; idle "
        f"{out['idle']['server_s']:.2f} CPU s; kept {out['kib_kept_per_closed_viewer']:.1f} "
        "KiB per closed viewer"
    )


def webapp_state() -> str:
    """The commit, and whether webapp/ had uncommitted changes when the run started."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "webapp"], capture_output=True, text=True
    )
    return commit.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def run(s: Settings, repeat: int) -> dict[str, Any]:
    files = raise_open_files()
    if s.viewers * 2 + 256 > files:
        raise SystemExit(f"open-file limit {files} is too low for --viewers {s.viewers}")
    log(f"database {DATABASE}: creating, migrating")
    users = s.votes + s.hot_rate * s.hot_seconds
    seeded = seed.setup(DATABASE, users)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.patches " + " ".join(sys.argv[1:]),
        "settings": {**{k: v for k, v in vars(s).items() if k != "runs"}, "repeat": repeat},
        "load_start": os.getloadavg(),
        "webapp": webapp_state(),
        "runs": [],
    }
    started = time.monotonic()
    saved = RESULTS / f"patches-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    for round_ in range(1, repeat + 1):
        for variant, deflate in s.runs:
            state = webapp_state()  # others may commit or edit webapp/ meanwhile
            entry = measure_or_fail(variant, deflate, seeded, s)
            results["runs"].append({**entry, "repeat": round_, "webapp": state})
            results["seconds"] = time.monotonic() - started
            results["load_end"] = os.getloadavg()
            saved.write_text(json.dumps(results, indent=1))  # after every run: a crash keeps them
    log(f"raw results: {saved}")
    return results


def measure_or_fail(variant: str, deflate: bool, seeded: seed.Seeded, s: Settings) -> dict:
    """One run's figures, or what stopped it (the other runs go on)."""
    try:
        return measure(variant, deflate, seeded, s)
    except (RuntimeError, OSError) as exc:
        log(f"{variant} {'deflate' if deflate else 'none'} failed: {exc}")
        return {"variant": variant, "deflate": deflate, "error": str(exc)[:500]}


# ------------------------------------------------------------------ the report


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else sum(ordered[len(ordered) // 2 - 1 : len(ordered) // 2 + 1]) / 2
    )


def _pick(results: dict[str, Any], variant: str, deflate: bool) -> list[dict[str, Any]]:
    runs = results["runs"]
    return [
        r for r in runs if r["variant"] == variant and r["deflate"] == deflate and "error" not in r
    ]


def figure(
    results: dict[str, Any], variant: str, deflate: bool, get: Callable[[dict], float]
) -> float | None:
    """The median of a figure over the repeats of one run."""
    runs = _pick(results, variant, deflate)
    values = [v for v in (get(r) for r in runs) if v is not None]
    return _median(values) if values else None


Figure = tuple[str, Callable[[dict], Any], str]  # column, from a run, format
LIVE: list[Figure] = [
    ("vote→last viewer p50 ms", lambda r: r["spaced"]["last_viewer_p50_ms"], "{:.1f}"),
    ("p99 ms", lambda r: r["spaced"]["last_viewer_p99_ms"], "{:.1f}"),
    ("server CPU ms per update", lambda r: r["spaced"]["server_cpu_ms_per_update"], "{:.1f}"),
    ("vote HTTP p99 ms", lambda r: r["spaced"]["http_p99_ms"], "{:.1f}"),
    (
        "hot: e2e p50 / p99 ms",
        lambda r: (r["hot"]["e2e_p50_ms"], r["hot"]["e2e_p99_ms"]),
        "{:.0f} / {:.0f}",
    ),
    ("hot: votes/s acked", lambda r: r["hot"]["achieved_rate"], "{:.0f}"),
    ("hot: server cores", lambda r: r["hot"]["server_cores"], "{:.2f}"),
]
CONNECTIONS: list[Figure] = [
    ("handshakes/s", lambda r: r["join"]["handshakes_per_s"], "{:.0f}"),
    ("server CPU ms per handshake", lambda r: r["join"]["server_cpu_ms_per_handshake"], "{:.2f}"),
    ("KiB/viewer", lambda r: r["kib_per_viewer"], "{:.1f}"),
    ("idle: server CPU s", lambda r: r["idle"]["server_s"], "{:.2f}"),
    ("KiB kept per closed viewer", lambda r: r["kib_kept_per_closed_viewer"], "{:.1f}"),
]
FIGURES = LIVE + CONNECTIONS


def _cell(run: dict[str, Any], get: Callable[[dict], Any], fmt: str) -> str:
    value = get(run)
    if value is None or (isinstance(value, tuple) and None in value):
        return "n/a"
    return fmt.format(*value) if isinstance(value, tuple) else fmt.format(value)


def tables(results: dict[str, Any]) -> list[str]:
    """The live-update figures, then the connection and memory figures, a row per run."""
    return table(results, LIVE) + [""] + table(results, CONNECTIONS)


def table(results: dict[str, Any], figures: list[Figure]) -> list[str]:
    headers = ["variant", "compression"] + [name for name, _, _ in figures]
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    for run_ in results["runs"]:
        name = run_["variant"] + (
            f" ({run_['repeat']})" if results["settings"].get("repeat", 1) > 1 else ""
        )
        cells = [name, "deflate" if run_["deflate"] else "none"]
        if "error" in run_:
            cells += [f"failed: {run_['error'][:80]}"] + [""] * (len(figures) - 1)
        else:
            cells += [_cell(run_, get, fmt) for _, get, fmt in figures]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _get(results: dict[str, Any], variant: str, deflate: bool, key: str) -> float | None:
    getters = {name: get for name, get, _ in FIGURES}
    getters["hot e2e p99"] = lambda r: r["hot"]["e2e_p99_ms"]
    return figure(results, variant, deflate, getters[key])


def _ratio(
    results: dict, key: str, better: str, worse: str, deflate: bool = False, unit: str = ""
) -> str:
    """`a unit with, b without (b/a×)` for one figure of two variants."""
    a, b = _get(results, better, deflate, key), _get(results, worse, deflate, key)
    if a is None or b is None:
        return "not measured"
    times = f" ({b / a:.1f}×)" if a > 0 else ""
    return f"{a:.1f}{unit} with, {b:.1f}{unit} without{times}"


def _pays(results: dict, key: str, better: str, worse: str, deflate: bool = False) -> bool | None:
    """Lower is better for every figure this is asked about; 15 % is beyond this bench's noise."""
    a, b = _get(results, better, deflate, key), _get(results, worse, deflate, key)
    return None if a is None or b is None else a < 0.85 * b


def _verdict(pays: bool | None) -> str:
    return {None: "not measured", True: "**pays**", False: "**does not pay measurably**"}[pays]


def _difference(results: dict, key: str, variant: str, deflate: bool = False) -> float | None:
    """What the pings add to a figure: variant minus variant-nopings."""
    a = _get(results, variant, deflate, key)
    b = _get(results, f"{variant}-nopings", deflate, key)
    return None if a is None or b is None else a - b


P50, P99, CPU = "vote→last viewer p50 ms", "p99 ms", "server CPU ms per update"
HOT, KIB, IDLE = "hot e2e p99", "KiB/viewer", "idle: server CPU s"
KEPT = "KiB kept per closed viewer"


def conclusion(results: dict[str, Any]) -> list[str]:
    return [
        _shipped(results),
        _sink(results),
        _pinger(results),
        _cycle(results),
        _fixes(results),
        _deflate(results),
    ]


def _shipped(results: dict) -> str:
    def r(key: str, unit: str) -> str:
        return _ratio(results, key, "on", "off", unit=unit)

    return (
        "- **As shipped against Hypercorn as released** (`on` against `off`, no compression): "
        f"fan-out p50 {r(P50, ' ms')}, p99 {r(P99, ' ms')}; server CPU per update "
        f"{r(CPU, ' ms')}; hot poll e2e p99 {r(HOT, ' ms')}; idle server CPU {r(IDLE, ' s')}; "
        f"{r(KIB, ' KiB')} per viewer; {r(KEPT, ' KiB')} kept per closed viewer."
    )


def _sink(results: dict) -> str:
    def r(key: str, unit: str) -> str:
        return _ratio(results, key, "on-nopings", "off-nopings", unit=unit)

    sink = _pays(results, P50, "on-nopings", "off-nopings")
    return (
        "- **FrameSink** (prebuilt frames written straight to the socket; `on-nopings` "
        f"against `off-nopings`, so pings play no part): fan-out p50 {r(P50, ' ms')}, p99 "
        f"{r(P99, ' ms')}; server CPU per update {r(CPU, ' ms')}; hot poll e2e p99 "
        f"{r(HOT, ' ms')}: {_verdict(sink)}."
    )


def _pinger(results: dict) -> str:
    """What the pings add (a variant minus the same without pings), ours against Hypercorn's."""
    diffs = {
        k: (_difference(results, k, "on"), _difference(results, k, "off")) for k in (KIB, IDLE, P50)
    }
    if any(None in pair for pair in diffs.values()):
        return "- **Pinger**: not measured."
    (ours_kib, theirs_kib), (ours_cpu, theirs_cpu), (ours_p50, theirs_p50) = (
        (float(a or 0), float(b or 0)) for a, b in diffs.values()
    )
    pays = (
        theirs_kib - ours_kib > 1.0
        or theirs_cpu - ours_cpu > 0.1
        or theirs_p50 > 1.15 * ours_p50 + 5
    )
    viewers = results["settings"]["viewers"]
    cores = (theirs_cpu - ours_cpu) / results["settings"]["idle_seconds"]
    mib = (theirs_kib - ours_kib) * viewers / 1024
    return (
        "- **Pinger** (one task per process instead of Hypercorn's task per connection; each "
        "variant with its pings minus the same without): "
        f"{ours_kib:+.1f} KiB per viewer with ours, {theirs_kib:+.1f} with Hypercorn's; "
        f"{ours_cpu:+.2f} against {theirs_cpu:+.2f} server CPU seconds over the "
        f"{results['settings']['idle_seconds']:.0f} s idle; fan-out p50 {ours_p50:+.1f} against "
        f"{theirs_p50:+.1f} ms; at {viewers:,} viewers ours saves {cores:.3f} cores and "
        f"{mib:.1f} MiB: {_verdict(pays)}."
    )


def _cycle(results: dict) -> str:
    cycle = _pays(results, KEPT, "fixes", "off")
    return (
        "- **Reference-cycle break** (`fixes` against `off`, both sending and pinging as "
        f"Hypercorn does): {_ratio(results, KEPT, 'fixes', 'off', unit=' KiB')} kept per "
        f"closed viewer: {_verdict(cycle)}."
    )


def _fixes(results: dict) -> str:
    return (
        "- **Message-size and close-code fixes**: correctness, not speed (`tests/live` checks "
        "them); `fixes` against `off` bounds what they and the cycle break cost: fan-out p50 "
        f"{_ratio(results, P50, 'fixes', 'off', unit=' ms')}, server CPU per "
        f"update {_ratio(results, CPU, 'fixes', 'off', unit=' ms')}."
    )


def _deflate(results: dict) -> str:
    def r(key: str, unit: str) -> str:
        return _ratio(results, key, "on", "off", True, unit)

    return (
        "- **With permessage-deflate** (`on` against `off`): fan-out p50 "
        f"{r(P50, ' ms')}; server CPU per update {r(CPU, ' ms')}; {r(KIB, ' KiB')} per viewer; "
        f"{r(KEPT, ' KiB')} kept per closed viewer."
    )


def render(results: dict[str, Any]) -> str:
    s = results["settings"]
    repeats = s.get("repeat", 1)
    return "\n".join(
        [
            "## Hypercorn patches",
            "",
            f"Measured by `{results['command'].strip()}`: `livepolls serve` with {s['workers']} "
            "workers on PostgreSQL, one poll, "
            f"{s['viewers']:,} viewers (`bench/viewers.mjs`, {s['procs']} Node processes on the "
            f"same 2 cores, {s['concurrency']} handshakes at a time). Per run, on a freshly "
            f"started server: the viewers join; {s['idle_seconds']:.0f} s idle (pings only, "
            "every 15 s by default); "
            f"{s['votes']} votes one at a time, {s['interval_ms']} ms apart (each timed from "
            "just before its POST to the moment the last viewer holds it); "
            f"{s['hot_rate']} votes/s for {s['hot_seconds']} s (open loop); then every viewer "
            "drops its connection, and a second crowd of the same size joins and drops: "
            "*KiB kept per closed viewer* is the RSS that crowd leaves behind once the server "
            "holds none of its sockets and the RSS is steady. CPU seconds are the server's "
            "processes' from /proc; *KiB/viewer* is the growth of the RSS of the whole process "
            "tree with the viewers connected. Variants: `on` as shipped; `off` "
            "`LIVEPOLLS_HYPERCORN_PATCHES=off` (Hypercorn as released: the app sends through "
            "ASGI, Hypercorn pings each connection from a task of its own); `fixes` the size and "
            "close-code fixes and the cycle break without the FrameSink "
            "(`bench/hypercorn_parts.py`); `-nopings` the same with "
            "`LIVEPOLLS_PING_INTERVAL_S=0`."
            + _code_note(results)
            + _machine_note(results)
            + (
                f" Every run {repeats} times, interleaved; the conclusion uses medians."
                if repeats > 1
                else ""
            ),
            "",
            *tables(results),
            "",
            "What pays (lower is better throughout; a part pays when it takes 15 % or more off):",
            "",
            *conclusion(results),
        ]
    )


def _code_note(results: dict[str, Any]) -> str:
    states = sorted({r["webapp"] for r in results["runs"] if r.get("webapp")})
    if len(states) > 1:
        return f" Code under test: changed between runs ({'; '.join(states)})."
    state = states[0] if states else results.get("webapp")
    return f" Code under test: {state}." if state else ""


def _machine_note(results: dict[str, Any]) -> str:
    """The load averages, and how much CPU the rest of the machine used during the votes."""
    start, end = results.get("load_start"), results.get("load_end")
    if not start or not end:
        return ""
    rest = [r["spaced"]["cpu"]["other_s"] / r["spaced"]["cpu"]["seconds"] for r in _ok(results)]
    return (
        f" Load average {start[0]:.2f} at the start, {end[0]:.2f} at the end; during the spaced "
        f"votes the rest of the machine (the viewers' processes, PostgreSQL aside, and anything "
        f"else running) used {min(rest, default=0):.2f} to {max(rest, default=0):.2f} cores."
    )


def _ok(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in results["runs"] if "error" not in r]


def parse_runs(text: str) -> list[tuple[str, bool]]:
    runs = []
    for item in text.split(","):
        variant, _, compression = item.partition(":")
        if variant not in VARIANTS or compression not in ("none", "deflate"):
            raise SystemExit(
                f"--runs: {item!r} is not VARIANT:none|deflate ({', '.join(VARIANTS)})"
            )
        runs.append((variant, compression == "deflate"))
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.patches",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--viewers", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--votes", type=int, default=20, help="spaced votes per run")
    parser.add_argument("--interval-ms", type=int, default=300)
    parser.add_argument("--hot-rate", type=int, default=20, help="votes/s in the hot phase")
    parser.add_argument("--hot-seconds", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=16.0)
    parser.add_argument("--runs", default=DEFAULT_RUNS, help="VARIANT:none|deflate, ...")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md")
    parser.add_argument("--report-only", metavar="RESULTS_JSON", help="rewrite the section")
    args = parser.parse_args(argv)
    if args.report_only:
        write(json.loads(Path(args.report_only).read_text()), args.no_write)
        return
    settings = Settings(
        viewers=args.viewers,
        workers=args.workers,
        votes=args.votes,
        interval_ms=args.interval_ms,
        hot_rate=args.hot_rate,
        hot_seconds=args.hot_seconds,
        idle_seconds=args.idle_seconds,
        runs=parse_runs(args.runs),
    )
    results = run(settings, args.repeat)
    write(results, args.no_write)


def write(results: dict[str, Any], no_write: bool) -> None:
    """Print the figures and the conclusion; write the kept section unless no_write."""
    print("\n".join(tables(results) + [""] + conclusion(results)))
    if not no_write:
        from bench.report import replace_section

        replace_section(ROOT / "docs" / "benchmarks.md", "patches", render(results))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
