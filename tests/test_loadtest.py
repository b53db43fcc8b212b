"""`livepolls loadtest`'s parts without a server: the one address it may use, the bounds it
refuses before connecting anywhere, the statistics, the seq of a message, the rate-limit
settings it names. Runs against a server: tests/live/test_loadtest_servers.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from webapp import cli, ratelimits
from webapp.config import RATE_LIMITS
from webapp.loadtest import deployment
from webapp.loadtest.stats import Floor, last_viewer_time, percentile, summarize
from webapp.loadtest.target import Target, TargetError, parse_target
from webapp.loadtest.viewers import seq_of

# --- the address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin", "live"),
    [
        ("http://polls.example.org", "http://polls.example.org:80", "ws://polls.example.org:80"),
        (
            "https://Polls.Example.org/",
            "https://polls.example.org:443",
            "wss://polls.example.org:443",
        ),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000", "ws://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000", "ws://[::1]:8000"),
    ],
)
def test_the_websocket_goes_to_the_origin_of_the_url(url: str, origin: str, live: str) -> None:
    target = parse_target(url)
    assert target.origin == origin
    assert target.live_url(7) == f"{live}/api/v1/polls/7/live"
    assert target.owns(target.live_url(7)) and target.owns(origin + "/api/v1/polls")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://polls.example.org", "http:// or https://"),
        ("ws://polls.example.org", "http:// or https://"),
        ("polls.example.org", "http:// or https://"),
        ("http://ops:secret@polls.example.org", "credentials"),
        ("http://ops@polls.example.org", "credentials"),
        ("http://polls.example.org/api/v1", "no path"),
        ("http://polls.example.org/polls/1", "no path"),
        ("http://polls.example.org/?x=1", "query"),
        ("http://polls.example.org/#top", "query"),
        ("http://:8000", "no host"),
        ("http://polls.example.org:99999", "not a valid URL"),
    ],
)
def test_any_url_but_a_deployments_root_is_refused(url: str, why: str) -> None:
    with pytest.raises(TargetError, match=why):
        parse_target(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://other.example.org:8000/api/v1/polls",
        "http://127.0.0.1:8001/api/v1/polls",
        "https://127.0.0.1:8000/api/v1/polls",
        "wss://127.0.0.1:8000/api/v1/polls/1/live",
        "http://evil@127.0.0.1:8000/",
    ],
)
def test_another_origin_is_not_owned(url: str) -> None:
    assert not Target("http", "127.0.0.1", 8000).owns(url)


# --- refusals before any connection ---------------------------------------------------------


@contextlib.contextmanager
def listening() -> Iterator[tuple[socket.socket, int]]:
    """A socket that listens and is never accepted from: a connection would wait in it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock, int(sock.getsockname()[1])


def nobody_connected(sock: socket.socket) -> bool:
    try:
        connection, _ = sock.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


@pytest.mark.parametrize(
    ("url", "args", "message"),
    [
        ("ftp://127.0.0.1:{port}", [], "http:// or https://"),
        ("ws://127.0.0.1:{port}", [], "http:// or https://"),
        ("http://127.0.0.1:{port}/api/v1", [], "no path"),
        ("http://ops:pw@127.0.0.1:{port}", [], "credentials"),
        ("http://127.0.0.1:{port}", ["--viewers", "20001"], "--viewers must be from 0 to 20000"),
        ("http://127.0.0.1:{port}", ["--viewers", "-1"], "--viewers must be"),
        ("http://127.0.0.1:{port}", ["--rate", "0"], "--rate must be from 0.1 to 5000"),
        ("http://127.0.0.1:{port}", ["--rate", "nan"], "--rate must be"),
        ("http://127.0.0.1:{port}", ["--duration", "601"], "--duration must be from 1 to 600"),
        ("http://127.0.0.1:{port}", ["--voters", "5001"], "--voters must be from 1 to 5000"),
        ("http://127.0.0.1:{port}", ["--rate", "5000"], "more than a poll's 5000 invite codes"),
        ("http://127.0.0.1:{port}", ["--processes", "0"], "--processes must be"),
        ("http://127.0.0.1:{port}", ["--no-token"], "give an account"),
        ("http://127.0.0.1:{port}", ["--email", "a@example.org"], "LIVEPOLLS_LOADTEST_PASSWORD"),
    ],
)
def test_refusals_exit_2_with_a_message_and_connect_nowhere(
    url: str,
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("LIVEPOLLS_LOADTEST_TOKEN", raising=False)
    monkeypatch.delenv("LIVEPOLLS_LOADTEST_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    token = [] if "--no-token" in args or "--email" in args else ["--token", "t"]
    args = [arg for arg in args if arg != "--no-token"]
    with listening() as (sock, port):
        with pytest.raises(SystemExit) as exited:
            cli.main(["loadtest", url.format(port=port), *token, *args])
        assert exited.value.code == 2
        assert message in capsys.readouterr().err
        assert nobody_connected(sock)


def test_a_redirect_is_not_followed() -> None:
    """A deployment that answers with a redirect elsewhere: the run stops, says so, and the
    other address never hears from it, nor the proxy the environment names."""

    async def scenario() -> tuple[int, str, bool]:
        with listening() as (elsewhere, other_port), listening() as (proxy, proxy_port):
            env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
            for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
                env[name] = f"http://127.0.0.1:{proxy_port}"

            async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(
                    b"HTTP/1.1 307 Temporary Redirect\r\n"
                    + f"Location: http://127.0.0.1:{other_port}/api/v1/polls\r\n".encode()
                    + b"Content-Length: 0\r\n\r\n"
                )
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(redirect, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            async with server:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "webapp.cli",
                    "loadtest",
                    f"http://127.0.0.1:{port}",
                    "--token",
                    "t",
                    "--viewers",
                    "1",
                    "--duration",
                    "1",
                    env=env,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                _, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode is not None
            untouched = nobody_connected(elsewhere) and nobody_connected(proxy)
            return process.returncode, err.decode(), untouched

    status, err, untouched = asyncio.run(scenario())
    assert status == 1
    assert "HTTP 307" in err and "not followed" in err and "no poll created" in err
    assert untouched


def test_the_server_does_not_import_the_load_test() -> None:
    code = (
        "import sys, webapp.server; from webapp import create_app; create_app();"
        " print(sorted(m for m in sys.modules if m.startswith('webapp.loadtest')"
        " or m.split('.')[0] == 'websockets'))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == "[]"


# --- statistics -----------------------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    ordered = [float(n) for n in range(1, 101)]
    assert [percentile(ordered, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0], 50) == 1.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summaries_in_milliseconds() -> None:
    summary = summarize([0.003, 0.001, 0.002, 0.010])
    assert (summary.count, summary.p50, summary.p95, summary.p99, summary.max) == (
        4,
        2.0,
        10.0,
        10.0,
        10.0,
    )
    assert summarize([]).as_dict() == {
        "count": 0,
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "max_ms": None,
    }


def test_the_floor_rises_when_the_slowest_viewer_catches_up() -> None:
    floor = Floor()
    for viewer in range(3):
        floor.seen(viewer, 5, 0.0)  # the first snapshot
    assert floor.value == 5 and floor.rises == []
    floor.seen(0, 8, 1.0)
    floor.seen(1, 7, 1.5)
    assert floor.value == 5 and floor.rises == []  # viewer 2 still has 5
    floor.seen(2, 6, 2.0)
    assert floor.value == 6 and floor.rises == [(6, 2.0)]
    floor.seen(2, 6, 2.1)  # a repeat, or an older message: nothing
    floor.seen(2, 4, 2.2)
    floor.seen(2, 9, 3.0)
    assert floor.rises == [(6, 2.0), (7, 3.0)]
    floor.drop(1, 4.0)  # the one with 7 leaves: the others have 8 and 9
    assert floor.value == 8 and floor.rises[-1] == (8, 4.0)
    floor.drop(0, 5.0)
    floor.drop(2, 6.0)
    assert floor.value is None and floor.viewers == 0


def test_the_last_viewer_is_the_latest_process() -> None:
    fast = [(6, 1.0), (9, 2.0)]
    slow = [(7, 1.5), (8, 3.0)]
    assert last_viewer_time([fast, slow], 6) == 1.5  # the slow process had 7 >= 6 at 1.5
    assert last_viewer_time([fast, slow], 8) == 3.0
    assert last_viewer_time([fast, slow], 9) is None  # the slow one never reached 9
    assert last_viewer_time([], 1) is None


def test_seq_is_read_from_results_messages_only() -> None:
    results = (
        '{"type":"results","poll_id":1,"options":[{"id":1,"text":"seq","votes":2,"percent":100}],'
        '"total_votes":2,"voters":2,"seq":42,"closed":false,"visible":true,"responses":2,'
        '"audience_sees":true}'
    )
    assert seq_of(results) == 42 and seq_of(results.encode()) == 42
    assert seq_of('{"type":"poll","poll_id":1,"seq":43}') is None
    assert seq_of('{"type":"heartbeat","interval_ms":5000}') is None


# --- rate limits ----------------------------------------------------------------------------


def test_every_rate_limit_message_names_its_setting() -> None:
    """The load test's table follows the server's: each 429 detail and the setting behind it."""
    expected = {
        ratelimits.MESSAGES[rule]: RATE_LIMITS[setting]
        for rule, (setting, _) in ratelimits.RULES.items()
        # The load test neither signs up, joins as a guest, nor asks Q&A questions: it votes.
        if rule not in ("signup", "guest", "qa_ask")
    }
    assert expected == deployment.LIMIT_SETTINGS


def test_a_429_is_explained_with_what_to_raise() -> None:
    response = httpx.Response(
        429,
        headers={"retry-after": "17"},
        json={
            "status": 429,
            "detail": "Too many votes from your network. Try again in 17 seconds.",
        },
    )
    assert deployment.explain(response) == (
        "HTTP 429: Too many votes from your network. Try again in 17 seconds. (retry after 17 s);"
        " raise LIVEPOLLS_LIMIT_VOTES_PER_ADDRESS on the deployment"
    )
    assert deployment.explain(response, retry=False) == (
        "HTTP 429: Too many votes from your network.;"
        " raise LIVEPOLLS_LIMIT_VOTES_PER_ADDRESS on the deployment"
    )


# --- progress and report --------------------------------------------------------------------


def test_progress_is_one_updating_line_on_a_terminal_and_plain_lines_otherwise() -> None:
    from webapp.loadtest.run import Phase

    written: list[str] = []
    terminal = Phase(written.append, tty=True)
    terminal.tick("1 s")
    terminal.tick("2 s")
    terminal.say("cleaning up")
    assert written == ["\r\x1b[2K1 s", "\r\x1b[2K2 s", "\n", "cleaning up\n"]
    written.clear()
    piped = Phase(written.append, tty=False)
    # A period longer than the monotonic clock has run (the machine's uptime): the first
    # line is still written at once, and the next one waits for the period.
    period = time.monotonic() + 3600
    piped.tick("1 s", every=period)
    piped.tick("2 s", every=period)  # within the period: not repeated
    piped.done("done")
    assert written == ["1 s\n", "done\n"]
    Phase(None, tty=True).tick("quiet")  # --quiet writes nothing (and does not fail)


def test_the_voters_follow_the_rate_and_the_processes_the_viewers() -> None:
    from webapp.loadtest.run import Options

    target = Target("http", "127.0.0.1", 8000)
    assert Options(target, rate=20).voter_count == 23  # 0.9 a second each
    assert Options(target, rate=20, voters=5).voter_count == 5
    assert Options(target, viewers=100).process_count == 1
    assert Options(target, viewers=20_000, processes=3).process_count == 3


def test_transport_errors_are_named_by_kind() -> None:
    from webapp.loadtest.run import transport_kind

    refused = httpx.ConnectError("[Errno 111] Connection refused")
    assert transport_kind(refused) == "refused"
    assert transport_kind(httpx.ConnectError("Name or service not known")) == "connect error"
    assert transport_kind(httpx.ReadTimeout("slow")) == "timeout"
    assert transport_kind(httpx.RemoteProtocolError("closed")) == "connection closed"
    assert transport_kind(httpx.ReadError("reset")) == "read error"
    assert transport_kind(httpx.WriteError("broken pipe")) == "write error"


# --- the viewers' connections -----------------------------------------------------------------


def test_a_viewer_follows_no_redirect_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A WebSocket answered with a redirect elsewhere fails as such, with the proxy settings
    of the environment ignored: neither the other address nor the proxy hears from it."""
    from webapp.loadtest.viewers import Crowd, watch

    async def scenario(elsewhere: int) -> Crowd:
        async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 307 Temporary Redirect\r\n"
                + f"Location: ws://127.0.0.1:{elsewhere}/api/v1/polls/1/live\r\n".encode()
                + b"Content-Length: 0\r\n\r\n"
            )
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(redirect, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        crowd = Crowd(expected=1)
        async with server:
            deadline = asyncio.get_running_loop().time() + 20
            url = f"ws://127.0.0.1:{port}/api/v1/polls/1/live"
            await watch(crowd, 0, url, True, asyncio.Semaphore(1), deadline)
        return crowd

    with listening() as (other, other_port), listening() as (proxy, proxy_port):
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name in ("http_proxy", "https_proxy", "all_proxy", "ws_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
        crowd = asyncio.run(scenario(other_port))
        assert crowd.failed == {"http 307": 1} and crowd.connected == 0
        assert crowd.settled.is_set()
        assert nobody_connected(other) and nobody_connected(proxy)


def test_a_server_that_never_answers_holds_the_viewers_only_until_the_deadline() -> None:
    from webapp.loadtest.viewers import Crowd, watch

    async def scenario(port: int) -> Crowd:
        crowd = Crowd(expected=2)
        deadline = asyncio.get_running_loop().time() + 0.5
        url = f"ws://127.0.0.1:{port}/api/v1/polls/1/live"
        gate = asyncio.Semaphore(1)  # the second waits for the first: the deadline holds both
        # Within 20 s, while each connection's own handshake timeout is 30 s.
        async with asyncio.timeout(20):
            await asyncio.gather(*(watch(crowd, n, url, False, gate, deadline) for n in (0, 1)))
        return crowd

    with listening() as (_, port):  # connections wait in its backlog, never answered
        crowd = asyncio.run(scenario(port))
    assert crowd.failed == {"timeout": 2} and crowd.settled.is_set()


def test_a_viewer_is_ready_only_once_it_has_its_first_results() -> None:
    """Until its first results message a connected viewer is not in the floor, so the run
    must not start voting: the child reports ready once every viewer has had one."""
    from websockets.asyncio.server import ServerConnection, serve

    from webapp.loadtest.viewers import Crowd, watch

    class Heard(Crowd):
        """A viewer's crowd that says when it has counted a message."""

        heard: asyncio.Event

        def __setattr__(self, name: str, value: object) -> None:
            super().__setattr__(name, value)
            if name == "messages" and value:
                self.heard.set()

    async def scenario() -> tuple[tuple[int, bool, int | None], Crowd]:
        release = asyncio.Event()

        async def live(ws: ServerConnection) -> None:
            await ws.send('{"type":"heartbeat","interval_ms":5000}')
            await release.wait()
            await ws.send('{"type":"results","poll_id":1,"seq":7}')
            await ws.wait_closed()

        crowd = Heard(expected=1)
        crowd.heard = asyncio.Event()
        async with serve(live, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            deadline = asyncio.get_running_loop().time() + 20
            url = f"ws://127.0.0.1:{port}/api/v1/polls/1/live"
            viewer = asyncio.create_task(
                watch(crowd, 0, url, False, asyncio.Semaphore(1), deadline)
            )
            async with asyncio.timeout(10):
                await crowd.heard.wait()  # connected, and heard from
            before = (crowd.connected, crowd.settled.is_set(), crowd.floor.value)
            release.set()
            async with asyncio.timeout(10):
                await crowd.settled.wait()
            crowd.stopping = True
            await asyncio.gather(*(ws.close() for ws in list(crowd.sockets)))
            async with asyncio.timeout(10):
                await viewer
        return before, crowd

    before, crowd = asyncio.run(scenario())
    assert before == (1, False, None)  # connected, heard from, but not ready
    assert crowd.settled.is_set() and crowd.floor.rises == [] and crowd.messages == 2
    assert crowd.closed == {} and crowd.failed == {}
