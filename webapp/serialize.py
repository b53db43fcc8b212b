"""One way typed values become JSON: pydantic, through one TypeAdapter per type.

The API's responses (quart-schema, patched to use `adapter`: webapp/api/adapters.py) and the
live messages (webapp/live/snapshots.py) both go through here, so a datetime, an enum or a
null reads the same in both.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter


@functools.lru_cache(maxsize=256)
def _adapter(type_: Any) -> TypeAdapter[Any]:
    return TypeAdapter(type_)


def adapter(type_: Any) -> TypeAdapter[Any]:
    """The TypeAdapter of a type, built once (building one costs ~0.4 ms)."""
    try:
        return _adapter(type_)
    except TypeError:  # an unhashable annotation: built each time
        return TypeAdapter(type_)


def to_json(value: Any) -> str:
    """A dataclass (or any type pydantic knows) as compact JSON."""
    return adapter(type(value)).dump_json(value).decode()
