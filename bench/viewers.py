"""The Python end of bench/viewers.mjs: one JSON command per line, one JSON reply per line."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.seed import Poll, Seeded
    from bench.servers import Server

BENCH = Path(__file__).resolve().parent


class Viewers:
    """Drives bench/viewers.mjs (its header lists the commands and their replies)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(BENCH / "viewers.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=BENCH,
            text=True,
            bufsize=1,
        )
        self._buffer = ""
        self._id = 0

    def call(self, timeout: float, **command: Any) -> dict:
        assert self.process.stdin is not None
        self._id += 1
        self.process.stdin.write(json.dumps({"id": self._id, **command}) + "\n")
        self.process.stdin.flush()
        line = self._read_line(timeout, command["cmd"])
        reply: dict = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"viewers.mjs {command['cmd']}: {reply.get('error')}")
        return reply

    def _read_line(self, timeout: float, cmd: str) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while "\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                self.kill()
                raise RuntimeError(f"viewers.mjs: no answer to {cmd} in {timeout}s")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(fd, 1 << 20).decode()
                if chunk:
                    self._buffer += chunk
        line, _, self._buffer = self._buffer.partition("\n")
        return line

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def open_viewers(
    server: Server, poll: Poll, seeded: Seeded, deflate: bool, procs: int = 4
) -> Viewers:
    """Viewer processes set up to watch `poll` on `server` (they join on a later command)."""
    viewers = Viewers()
    viewers.call(
        30,
        cmd="init",
        ws_url=server.base.replace("http://", "ws://") + f"/api/v1/polls/{poll.id}/live",
        http_base=server.base,
        poll_id=poll.id,
        option_ids=poll.option_ids,
        token_prefix=seeded.token_prefix,
        deflate=deflate,
        procs=procs,
    )
    return viewers
