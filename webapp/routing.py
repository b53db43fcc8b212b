"""URL parts shared by the pages and the API: database ids in canonical decimal."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


def _at_most(limit: str) -> str:
    """A regex for the canonical decimals from 1 to `limit`: shorter numbers, then for each
    digit of `limit` the numbers that agree before it and are smaller in it."""
    shorter = f"[1-9][0-9]{{0,{len(limit) - 2}}}"
    same_length = [
        f"{limit[:i]}{f'[{first}-{int(digit) - 1}]'}[0-9]{{{len(limit) - i - 1}}}"
        for i, digit in enumerate(limit)
        if int(digit) > (first := 1 if i == 0 else 0)
    ]
    return "(?:" + "|".join([shorter, *same_length, limit]) + ")"


class IdConverter(IntegerConverter):
    """A database id in canonical decimal, 1 to 2**31-1: "01", "+1", other scripts' digits
    ("١") or a larger number do not match the route (404), so one poll has one URL. The range
    is in the regex, not only a converter check: werkzeug answers a rule whose converter
    refuses the value with 405 when another rule on the path takes a different method."""

    regex = _at_most(str(MAX_ID))

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)
