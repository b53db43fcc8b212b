"""Watch a poll's live results and print every update (see docs/live.md).

    pip install websockets
    python docs/live_client.py 1                                  # a published poll, anonymously
    LIVEPOLLS_TOKEN=... python docs/live_client.py 1 --server https://polls.example.org

It reconnects with backoff when the connection drops, the server restarts (close 1012) or
fails (close 1011), drops stale snapshots by `seq`, shows hidden results as hidden
(`visible: false`), and stops for good when the poll is deleted, the poll is not visible
(close 4404), the token is rejected (close 4401) or the origin is refused (close 4403).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import urllib.error
import urllib.request
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

# Close codes after which reconnecting cannot help (1000 only after a "deleted" message).
FINAL = {
    4401: "the token was rejected",
    4403: "this origin may not use the session cookie",
    4404: "no such poll",
}
FIRST_DELAY = 0.5
MAX_DELAY = 30.0


class Stop(Exception):
    """Watching is over for good."""


def fetch_poll(server: str, poll_id: int, token: str | None) -> dict[str, Any]:
    """GET /api/v1/polls/{id}: the question and option texts (results carry only ids)."""
    request = urllib.request.Request(f"{server}/api/v1/polls/{poll_id}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            poll: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 404):
            raise Stop(f"HTTP {exc.code} for poll {poll_id}") from exc
        raise OSError(f"HTTP {exc.code}") from exc
    return poll


class Watcher:
    def __init__(self, server: str, poll_id: int, token: str | None) -> None:
        self.server = server.rstrip("/")
        self.poll_id = poll_id
        self.token = token
        self.seq = -1  # the newest seq shown; older snapshots are dropped
        self.texts: dict[int, str] = {}
        self.delivered = False  # whether the current connection has delivered a message

    @property
    def url(self) -> str:
        base = "ws" + self.server.removeprefix("http")  # http -> ws, https -> wss
        return f"{base}/api/v1/polls/{self.poll_id}/live"

    async def refresh_texts(self) -> None:
        poll = await asyncio.to_thread(fetch_poll, self.server, self.poll_id, self.token)
        self.texts = {option["id"]: option["text"] for option in poll["options"]}
        print(f"poll {self.poll_id}: {poll['question']}", flush=True)

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "deleted":
            raise Stop("the poll was deleted")  # the server closes with 1000 next
        if kind == "viewers":
            # Counted per server process: viewers connected to other workers are not included.
            print(f"{message['count']} watching on this server process", flush=True)
            return
        if message.get("seq", -1) < self.seq:
            return  # stale: we already showed something newer
        if kind == "poll":
            self.texts = {option["id"]: option["text"] for option in message["options"]}
            print(f"poll {self.poll_id} changed: {message['question']}", flush=True)
        elif kind == "results":
            self.seq = message["seq"]
            if any(option["id"] not in self.texts for option in message["options"]):
                await self.refresh_texts()
            self.show(message)

    def show(self, results: dict[str, Any]) -> None:
        state = "closed" if results["closed"] else "open"
        if not results.get("visible", True):
            # Hidden from this viewer (presenter's switch, or after_vote / after_close):
            # the counts are null, not zero.
            names = " | ".join(
                str(self.texts.get(option["id"], option["id"])) for option in results["options"]
            )
            print(f"[seq {results['seq']}] {names}  (results hidden, {state})", flush=True)
            return
        counts = " | ".join(
            f"{self.texts.get(option['id'], option['id'])}: {option['votes']}"
            for option in results["options"]
        )
        print(
            f"[seq {results['seq']}] {counts}  ({results['total_votes']} votes, "
            f"{results['voters']} voters, {state})",
            flush=True,
        )

    async def watch_once(self) -> None:
        """One connection, until it closes; raises Stop when reconnecting cannot help."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        async with connect(self.url, additional_headers=headers) as socket:
            try:
                async for raw in socket:
                    self.delivered = True
                    await self.handle(json.loads(raw))
            except ConnectionClosed:
                pass
            code = socket.close_code
        if code in FINAL:
            raise Stop(f"closed with {code}: {FINAL[code]}")
        # 1012 (restart), 1011 (server error), 1001, 1006 (network), and a 1000 that did not
        # follow a "deleted" message: come back.
        print(f"connection closed ({code}); reconnecting", file=sys.stderr, flush=True)

    async def run(self) -> None:
        delay = FIRST_DELAY
        while True:
            self.delivered = False
            try:
                await self.watch_once()
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                print(f"cannot connect ({exc}); retrying", file=sys.stderr, flush=True)
            if self.delivered:
                delay = FIRST_DELAY  # that connection worked: start the backoff over
            # Full jitter, so clients dropped together (a restart) do not return together.
            await asyncio.sleep(random.uniform(0, delay))
            delay = min(delay * 2, MAX_DELAY)


def main() -> None:
    parser = argparse.ArgumentParser(description="Watch a poll's live results.")
    parser.add_argument("poll_id", type=int)
    parser.add_argument("--server", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--token", default=os.environ.get("LIVEPOLLS_TOKEN"), help="default: $LIVEPOLLS_TOKEN"
    )
    args = parser.parse_args()
    watcher = Watcher(args.server, args.poll_id, args.token)
    try:
        asyncio.run(watcher.run())
    except Stop as stop:
        print(stop, flush=True)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
