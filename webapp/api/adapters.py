"""One pydantic TypeAdapter per type, not one per request.

quart-schema 0.25 builds a new `TypeAdapter` for every response it serialises from a
dataclass (and for every body it loads), which generates the type's whole core schema each
time: about 0.4 ms per response, a fifth of a vote's CPU in the benchmark. Adapters are
immutable, so one per type serves every request.
"""

from __future__ import annotations

import logging

from pydantic import TypeAdapter
from quart_schema import conversion

from webapp.serialize import adapter as _cached

log = logging.getLogger(__name__)


def install() -> bool:
    """Swap quart-schema's TypeAdapter for the cached one; False, with a warning, when the
    installed quart-schema no longer builds adapters there (it then runs as released)."""
    current = getattr(conversion, "TypeAdapter", None)
    if current is not TypeAdapter and current is not _cached:
        log.warning("quart-schema's conversion.TypeAdapter is %r: adapters not cached", current)
        return False
    conversion.TypeAdapter = _cached  # type: ignore[assignment,misc]
    return True
