"""`livepolls loadtest` against a real `serve` process, on the suite's database.

A short run reports exactly the votes it sent, with no error, latency figures for every vote,
and counts the server agrees with; it deletes its poll (and keeps it with --keep); a server
with a low vote limit gives 429s that the report names, with the setting to raise; Ctrl-C
in the middle of the voting still deletes the poll. The command runs as operators run it: a
process of its own, the token in its environment.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
from typing import Any

import httpx

from tests.live.servers import ROOT, Server, running_server

PASSWORD = "correct horse"
RUN_TIMEOUT = 120.0


async def operator_token(server: Server) -> str:
    email = f"ops-{secrets.token_hex(4)}@example.org"
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False, timeout=30) as http:
        body = {"name": "Ops", "email": email, "password": PASSWORD}
        assert (await http.post("/api/v1/users", json=body)).status_code == 201
        signed_in = await http.post(
            "/api/v1/auth/tokens", json={"email": email, "password": PASSWORD}
        )
        assert signed_in.status_code == 201, signed_in.text
        return str(signed_in.json()["token"])


async def loadtest(server: Server, token: str, *args: str) -> tuple[int, dict[str, Any] | str, str]:
    """Run the command to its end: (exit status, the JSON report or the text, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "webapp.cli",
        "loadtest",
        server.base_url,
        *args,
        cwd=ROOT,
        env=dict(os.environ, LIVEPOLLS_LOADTEST_TOKEN=token),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    assert process.returncode is not None
    text = out.decode()
    return process.returncode, json.loads(text) if "--json" in args else text, err.decode()


async def own_polls(server: Server, token: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False, timeout=30) as http:
        listed = await http.get(
            "/api/v1/polls?mine=true", headers={"authorization": f"Bearer {token}"}
        )
        assert listed.status_code == 200
        return list(listed.json()["items"])


async def test_a_short_run_counts_every_vote_and_deletes_its_poll() -> None:
    async with running_server() as server:
        token = await operator_token(server)
        status, report, err = await loadtest(
            server, token, "--viewers", "20", "--rate", "20", "--duration", "2", "--json"
        )
        assert status == 0, err
        assert isinstance(report, dict)
        assert report["ok"] is True
        votes = report["votes"]
        assert (votes["due"], votes["sent"], votes["accepted"], votes["changed"]) == (40,) * 4
        assert votes["refused"] == {} and votes["errors"] == {}
        assert votes["skipped_voters_busy"] == 0
        assert report["viewers"]["connected"] == 20 and report["viewers"]["failed"] == {}
        last = report["last_viewer_latency"]
        assert last["count"] == 40 and last["not_delivered"] == 0
        assert None not in (last["p50_ms"], last["p95_ms"], last["p99_ms"], last["max_ms"])
        assert report["vote_http_latency"]["count"] == 40
        check = report["check"]
        assert check["exact"] and check["seq_advance"] == 40
        assert check["server_counts"] == check["expected_counts"]
        assert sum(check["server_counts"].values()) == report["settings"]["voters"]
        assert report["poll"]["deleted"] is True
        assert await own_polls(server, token) == []
        assert "created poll" in err and "voting at 20/s" in err  # the progress


async def test_a_kept_poll_has_the_counts_the_report_gave() -> None:
    async with running_server() as server:
        token = await operator_token(server)
        status, report, err = await loadtest(
            server,
            token,
            "--viewers",
            "5",
            "--rate",
            "10",
            "--duration",
            "1",
            "--keep",
            "--json",
            "--quiet",
        )
        assert status == 0, err
        assert isinstance(report, dict) and err == ""
        [poll] = await own_polls(server, token)
        assert poll["id"] == report["poll"]["id"]
        assert poll["question"].startswith("livepolls loadtest ")
        counts = {str(option["id"]): option["votes"] for option in poll["options"]}
        assert counts == report["check"]["expected_counts"]
        # 10 votes by 12 voters in turn: ten voters with one vote each.
        assert poll["voters"] == sum(counts.values()) == report["votes"]["changed"] == 10


async def test_rate_limit_refusals_are_reported_as_429_with_the_setting() -> None:
    env = {"LIVEPOLLS_RATE_LIMITS": "true", "LIVEPOLLS_LIMIT_VOTES_PER_ACCOUNT": "2/minute"}
    async with running_server(env) as server:
        token = await operator_token(server)
        args = ["--viewers", "2", "--rate", "5", "--duration", "2", "--voters", "2"]
        status, report, err = await loadtest(server, token, *args, "--json")
        assert status == 1, err
        assert isinstance(report, dict) and report["ok"] is False
        votes = report["votes"]
        assert votes["accepted"] == 4  # two per voter, then the limit
        assert votes["refused"] == {"429": votes["sent"] - 4} and votes["sent"] > 4
        [words] = votes["refusals"]
        assert "HTTP 429: Too many votes from this account." in words
        assert report["raise"] == ["LIVEPOLLS_LIMIT_VOTES_PER_ACCOUNT"]
        assert report["check"]["exact"]  # refusals wrote nothing
        status, text, _ = await loadtest(server, token, *args)
        assert status == 1 and isinstance(text, str)
        assert "refused: 429:" in text
        assert "raise LIVEPOLLS_LIMIT_VOTES_PER_ACCOUNT on the deployment" in text
        assert await own_polls(server, token) == []


async def test_ctrl_c_while_voting_still_deletes_the_poll() -> None:
    async with running_server() as server:
        token = await operator_token(server)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "webapp.cli",
            "loadtest",
            server.base_url,
            "--viewers",
            "5",
            "--rate",
            "5",
            "--duration",
            "600",
            cwd=ROOT,
            env=dict(os.environ, LIVEPOLLS_LOADTEST_TOKEN=token),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        seen: list[str] = []
        while not any(line.startswith("voting at") for line in seen):
            line = await asyncio.wait_for(process.stderr.readline(), RUN_TIMEOUT)
            assert line, f"the command ended early: {seen}"
            seen.append(line.decode())
        assert len(await own_polls(server, token)) == 1
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        assert process.returncode == 130, err
        assert "deleted" in err.decode()
        assert await own_polls(server, token) == []
