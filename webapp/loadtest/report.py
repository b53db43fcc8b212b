"""A run's report in words, for people (the --json output is the report itself)."""

from __future__ import annotations

from typing import Any


def _latency(figures: dict[str, Any]) -> str:
    if not figures["count"]:
        return "no samples"
    return (
        "  ".join(f"{name} {figures[f'{name}_ms']:.1f} ms" for name in ("p50", "p95", "p99", "max"))
        + f"  ({figures['count']} samples)"
    )


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind}: {count}" for kind, count in sorted(counts.items())) or "none"


def render(report: dict[str, Any]) -> str:
    viewers, votes, check, client = (
        report["viewers"],
        report["votes"],
        report["check"],
        report["client"],
    )
    poll = report["poll"]
    fate = "deleted" if poll.get("deleted") else "kept" if poll.get("kept") else "NOT deleted"
    settings = report["settings"]
    lines = [
        f"livepolls loadtest of {report['target']}: {settings['viewers']} viewers,"
        f" {settings['rate']:g} votes/s for {settings['duration_s']:g} s,"
        f" {settings['voters']} voters (poll {poll['id']}, {fate})",
        f"  viewers          {viewers['connected']} of {viewers['requested']} connected"
        f" in {viewers['connect_s']:.1f} s; failed: {_kinds(viewers['failed'])};"
        f" closed during the run: {_kinds(viewers['closed_during_run'])}",
        f"  votes            {votes['sent']} of {votes['due']} sent, {votes['accepted']}"
        f" accepted = {votes['accepted_per_s']:g}/s; refused: {_kinds(votes['refused'])};"
        f" errors: {_kinds(votes['errors'])}",
    ]
    if votes["skipped_voters_busy"]:
        lines.append(
            f"                   {votes['skipped_voters_busy']} not sent: every voter was"
            " still waiting for an answer (use more --voters, or the server is saturated)"
        )
    for words, count in sorted(votes["refusals"].items(), key=lambda item: -item[1]):
        lines.append(f"                   {count} x {words}")
    last = report["last_viewer_latency"]
    lines.append(f"  vote→last viewer {_latency(last)}")
    if last["not_delivered"]:
        lines.append(
            f"                   {last['not_delivered']} accepted votes never reached every"
            " viewer within the drain time"
        )
    lines.append(f"  vote HTTP        {_latency(report['vote_http_latency'])}")
    counts = ", ".join(
        f"option {option}: {check['server_counts'][option]}"
        f" (expected {check['expected_counts'][option]})"
        for option in check["expected_counts"]
    )
    lines.append(
        f"  check            {'exact' if check['exact'] else 'MISMATCH'}: seq advanced"
        f" {check['seq_advance']} for {check['changes_accepted']} accepted changes; {counts}"
    )
    shares = ", ".join(f"{share:.0%}" for share in client["viewer_cpu_shares"])
    lines.append(
        f"  client CPU       voting {client['voting_cpu_share']:.0%} of a core, viewer"
        f" processes {shares or '-'} (this machine has {client['machine_cores']} cores)"
    )
    if client["busy"]:
        lines.append(
            "                   the load generator was busy ("
            + ", ".join(client["busy"])
            + "): the figures may show its limits, not the server's; run it on another"
            " machine or with more --processes"
        )
    for setting in report["raise"]:
        lines.append(f"  rate limit       raise {setting} on the deployment for this rate")
    for note in report.get("notes", []):
        lines.append(f"  note             {note}")
    return "\n".join(lines)
