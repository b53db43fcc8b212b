"""The one address a load test may talk to, and the bounds of a run.

Every connection goes to the scheme, host and port of the URL the operator gave: HTTP to that
origin, the WebSocket to the same origin (ws for http, wss for https), redirects never followed.
A URL that names anything more (a path, credentials, a query) is refused rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_VIEWERS = 20_000
MAX_RATE = 5_000.0  # votes a second
MAX_DURATION_S = 600.0
MAX_VOTERS = 5_000  # a poll issues at most 5000 invite codes
MAX_PROCESSES = 64
MAX_CONNECT_BATCH = 1_000


class TargetError(ValueError):
    """A URL or a bound the load test refuses (exit status 2)."""


@dataclass(frozen=True)
class Target:
    scheme: str  # http or https
    host: str  # as given (an IPv6 address without brackets)
    port: int

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    def live_url(self, poll_id: int) -> str:
        ws = "wss" if self.scheme == "https" else "ws"
        return f"{ws}://{self.netloc}/api/v1/polls/{poll_id}/live"

    def owns(self, url: str) -> bool:
        """Whether `url` goes to exactly this origin (scheme, host and port)."""
        try:
            parts = urlsplit(url)
            port = parts.port or _default_port(parts.scheme)
        except ValueError:
            return False
        expected = {"http": ("http", "ws"), "https": ("https", "wss")}[self.scheme]
        return (
            parts.scheme in expected
            and (parts.hostname or "").lower() == self.host.lower()
            and port == self.port
            and not parts.username
            and not parts.password
        )


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "ws": 80, "https": 443, "wss": 443}.get(scheme)


def parse_target(url: str) -> Target:
    """The deployment at `url`: http(s)://host[:port][/], nothing else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"not a valid URL: {url!r} ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise TargetError(f"the URL must start with http:// or https://, not {url!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetError("the URL must not carry credentials: use --token or --email")
    if not parts.hostname:
        raise TargetError(f"the URL names no host: {url!r}")
    if parts.path not in {"", "/"}:
        raise TargetError(
            f"the URL must be the deployment's root (no path), not {parts.path!r}: "
            "the load test finds the API under /api/v1 itself"
        )
    if parts.query or parts.fragment or url.strip().endswith(("?", "#")):
        raise TargetError("the URL must not carry a query or a fragment")
    default = _default_port(scheme)
    assert default is not None
    return Target(scheme, parts.hostname, port if port is not None else default)


def bounded(name: str, value: float, low: float, high: float) -> None:
    """Refuse a count or a time outside [low, high]."""
    if not low <= value <= high:
        raise TargetError(f"{name} must be from {low:g} to {high:g}, not {value:g}")
