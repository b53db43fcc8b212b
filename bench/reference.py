"""Reference: the same app and cases under Uvicorn, as ratios to Hypercorn's figures."""

from __future__ import annotations

from typing import Any

from bench.tables import combo_of, compression, ingest_row, md, reads_row, step_of
from bench.targets import READS, VOTES_MANY_POLLS, VOTES_ONE_POLL


class Ratios:
    """Rows of (case, Hypercorn, Uvicorn, Uvicorn / Hypercorn), where both measured it."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []

    def add(self, what: str, hyper: float | None, uvi: float | None, unit: str) -> None:
        if hyper is None or uvi is None:
            return
        ratio = f"{uvi / hyper:.2f}" if hyper else "n/a"
        self.rows.append([what, f"{hyper:.1f} {unit}", f"{uvi:.1f} {unit}", ratio])


def ratio_rows(results: dict) -> list[list[Any]]:
    ratios = Ratios()
    _ingest(results, ratios)
    _reads(results, ratios)
    for c in results["fanout"]:
        if c["server"] == "hypercorn":
            _fanout(c, combo_of(results, "uvicorn", c["workers"], c["deflate"]), ratios)
    return ratios.rows


def _ingest(results: dict, ratios: Ratios) -> None:
    for r in results["ingest"]:
        if r["server"] != "hypercorn":
            continue
        u = ingest_row(results, "uvicorn", r["workers"], r["case"], r["stored_votes"])
        label = f"votes/s, {r['workers']} worker(s), {r['case']}"
        label += ", 200k stored" if r["stored_votes"] else ""
        ratios.add(label, r["votes_per_second"], u["votes_per_second"] if u else None, "/s")


def _reads(results: dict, ratios: Ratios) -> None:
    for r in results["reads"]:
        if r["server"] == "hypercorn":
            keep = bool(r.get("keep_alive"))
            u = reads_row(results, "uvicorn", r["workers"], keep)
            ratios.add(
                f"reads, {r['workers']} worker(s), {'keep-alive' if keep else 'new connections'}",
                r["per_second"],
                u["per_second"] if u else None,
                "/s",
            )


def _fanout(c: dict, u: dict | None, ratios: Ratios) -> None:
    for s in c["steps"]:
        us = step_of(u, s["target"])
        if us is None or us["viewers"] != s["viewers"]:
            continue
        tag = f"{s['viewers']:,} viewers, {c['workers']} worker(s), {compression(c['deflate'])}"
        ratios.add(f"fan-out p99, {tag}", s["last_viewer_p99_ms"], us["last_viewer_p99_ms"], "ms")
        ratios.add(
            f"RSS per viewer, {tag}", s["rss_per_viewer"] / 1024, us["rss_per_viewer"] / 1024, "KiB"
        )
        ratios.add(
            f"connections/s opening, {tag}",
            s["connect"]["per_second"],
            us["connect"]["per_second"],
            "/s",
        )
        if s.get("hot") and us.get("hot"):
            hot, uhot = s["hot"]["e2e_p99_ms"], us["hot"]["e2e_p99_ms"]
            ratios.add(f"hot poll e2e p99, {tag}", hot, uhot, "ms")


def verdict(results: dict) -> str:
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
        "for, and there it is clearly ahead. The HTTP gap is real; issue #13's HTTP targets "
        f"against each server here: {_http_targets(results)} (see *What limits these "
        "figures*)."
    )


def _http_targets(results: dict) -> str:
    """Issue #13's HTTP targets, as each server measured them here."""
    many = f"{results['plan']['many_polls']} polls"
    parts = []
    for label, target, row, key in (
        ("votes on 1 poll", VOTES_ONE_POLL, "1 poll", "votes_per_second"),
        (f"votes over {many}", VOTES_MANY_POLLS, many, "votes_per_second"),
        ("reads", READS, None, "per_second"),
    ):
        rates = []
        for server in ("hypercorn", "uvicorn"):
            found = (
                reads_row(results, server, 2, keep_alive=True)
                if row is None
                else ingest_row(results, server, 2, row, False)
            )
            if found and found.get(key):
                rates.append(f"{server} {found[key]:,.0f}/s")
        if rates:
            parts.append(f"{label}, target {target:,}/s: {', '.join(rates)}")
    return "2 workers; " + "; ".join(parts) if parts else "not measured under both servers"


def section(results: dict) -> list[str]:
    return [
        "## Reference: Uvicorn / Hypercorn",
        "",
        "The same app and cases under Uvicorn (uvloop, httptools, websockets-sansio). Ratio = "
        "Uvicorn's figure / Hypercorn's (above 1 is more for Uvicorn: better for rates, worse "
        "for times and memory).",
        "",
        md(["case", "Hypercorn", "Uvicorn", "ratio"], ratio_rows(results)),
        "",
        verdict(results),
        "",
    ]
