"""Ranking questions: each person puts all K options (2 to 10) in order; a Borda count.

A ranking must be complete: every option exactly once. Partial rankings are refused, so
every ranking hands out the same points (K(K-1)/2) and no variant of Borda for unranked
options has to be chosen and explained; with at most 10 options, and the page's selects
defaulting to the poll's order, ranking them all costs little.

Points: the option ranked first gets K-1, the second K-2, ... the last 0 (the classic
Borda count). Results list the options by points; equal points are ordered by more first
places, then more second places and so on, then by the poll's own option order, so the order
is total and the same on every screen. `rank` is shared by options with equal points (1, 2,
2, 4) and `tied` says so: the tie-break orders the list, it does not pretend to a winner.
`percent` is the option's share of the most points it could have had (every ranking placing
it first), for the length of its bar.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from webapp.errors import Invalid

OPTIONS_MIN = 2
OPTIONS_MAX = 10
_ORDINALS = ("first", "second", "third", "fourth")


@dataclass(frozen=True)
class RankedOption:
    id: int
    points: int
    rank: int  # 1 + how many options have more points
    tied: bool  # another option has the same points
    percent: int  # of the most points the option could have had
    positions: tuple[int, ...]  # how many rankings put it first, second, ...
    average_position: float | None  # 1 = first, rounded to two decimals


@dataclass(frozen=True)
class RankingResults:
    rankings: int
    options: tuple[RankedOption, ...]  # by points, ties broken as the module says
    explanation: str


def _option_id(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_options(option_ids: Sequence[int]) -> None:
    """A ranking question's options: from 2 to 10, distinct."""
    if not OPTIONS_MIN <= len(option_ids) <= OPTIONS_MAX:
        raise Invalid("options", f"a ranking needs from {OPTIONS_MIN} to {OPTIONS_MAX} options")
    if len(set(option_ids)) != len(option_ids):
        raise ValueError("option ids repeat")


def check_ranking(
    option_ids: Sequence[int], order: object, field: str = "order"
) -> tuple[int, ...]:
    """One person's ranking, best first: every option id of the question exactly once.
    Invalid names the field, or the element (`order[2]`) at fault."""
    if not isinstance(order, list | tuple):
        raise Invalid(field, "must be a list of the option ids, best first")
    known = set(option_ids)
    seen: set[int] = set()
    for index, value in enumerate(order):
        option = _option_id(value)
        where = f"{field}[{index}]"
        if option is None:
            raise Invalid(where, "must be an option id (a whole number)")
        if option not in known:
            raise Invalid(where, f"{option} is not an option of this question")
        if option in seen:
            raise Invalid(where, f"ranks option {option} a second time")
        seen.add(option)
    missing = [option for option in option_ids if option not in seen]
    if missing:
        listed = ", ".join(str(option) for option in missing)
        raise Invalid(field, f"must rank every option; missing: {listed}")
    return tuple(order)


def tally(option_ids: Sequence[int], rankings: Iterable[Sequence[int]]) -> dict[int, list[int]]:
    """How many rankings put each option at each position (checked rankings only)."""
    positions = {option: [0] * len(option_ids) for option in option_ids}
    for order in rankings:
        for position, option in enumerate(order):
            positions[option][position] += 1
    return positions


def explain(options: int, rankings: int) -> str:
    """How the points were counted, in plain words, for the results page."""
    top = options - 1
    if options <= len(_ORDINALS):
        middle = "".join(f", {top - p} to its {_ORDINALS[p]} choice" for p in range(1, top))
        share = f"{top} point{'s' if top > 1 else ''} to its first choice{middle} and 0 to its last"
    else:
        share = f"{top} points to its first choice, {top - 1} to its second"
        share += ", and so on to 0 for its last"
    who = "Each ranking" if rankings != 1 else "The one ranking"
    return (
        f"{who} gives {share}. The options are listed by their total points; equal totals "
        "go to the option with more first places (then more second places, and so on)."
    )


def ranking_results(
    option_ids: Sequence[int], positions: Mapping[int, Sequence[int]]
) -> RankingResults:
    """The Borda count of these position counts (as `tally` returns, or as stored), for the
    options in the question's own order."""
    size = len(option_ids)
    if set(positions) != set(option_ids) or any(len(positions[o]) != size for o in option_ids):
        raise ValueError("one count per option and position")
    rankings = sum(positions[option_ids[0]]) if option_ids else 0
    points = {o: sum(c * (size - 1 - p) for p, c in enumerate(positions[o])) for o in option_ids}
    order = sorted(
        range(size),
        key=lambda i: (-points[option_ids[i]], [-c for c in positions[option_ids[i]]], i),
    )
    most = rankings * (size - 1)
    ranked = []
    for index in order:
        option = option_ids[index]
        counts = tuple(positions[option])
        placed = sum((p + 1) * c for p, c in enumerate(counts))
        ranked.append(
            RankedOption(
                id=option,
                points=points[option],
                rank=1 + sum(1 for o in option_ids if points[o] > points[option]),
                tied=sum(1 for o in option_ids if points[o] == points[option]) > 1,
                percent=round(points[option] * 100 / most) if most else 0,
                positions=counts,
                average_position=round(placed / rankings, 2) if rankings else None,
            )
        )
    return RankingResults(rankings, tuple(ranked), explain(size, rankings))
