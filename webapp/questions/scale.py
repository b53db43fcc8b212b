"""Rating scales: 1 to N (N from 2 to 10) with a label at each end, and their results.

The results are computed from the count per value (what the database keeps), never from a
list of ratings: `responses` is the sum of the counts, `average` the mean rounded to two
decimals, `median` the middle rating, or for an even number of responses the mean of the
two middle ones (so 3.5 is possible), and each value's `percent` its share of the
respondents rounded to a whole number, as a choice poll's percentages are (they need not add
up to 100). With no responses the average and the median are None and every percent is 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from webapp.errors import Invalid
from webapp.text import clean

POINTS_MIN = 2
POINTS_MAX = 10
LABEL_MAX = 60


@dataclass(frozen=True)
class Scale:
    points: int  # ratings are 1 .. points
    low: str  # the label of 1
    high: str  # the label of `points`


@dataclass(frozen=True)
class Bucket:
    value: int
    count: int
    percent: int


@dataclass(frozen=True)
class ScaleResults:
    points: int
    low: str
    high: str
    responses: int
    average: float | None
    median: float | None
    histogram: tuple[Bucket, ...]  # every value 1 .. points, in order


def _integer(value: object) -> int | None:
    """An int, or the digits of a form field; None for anything else (bools too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 3:
        return int(value)
    return None


def _label(text: str, field: str) -> str:
    if len(text) > LABEL_MAX:
        raise Invalid(field, f"should have at most {LABEL_MAX} characters")
    try:
        cleaned = clean(text)
    except ValueError as exc:
        raise Invalid(field, str(exc)) from None
    if not cleaned:
        raise Invalid(field, "must not be empty (spaces and invisible characters do not count)")
    return cleaned


def make_scale(points: object, low: str, high: str) -> Scale:
    """A scale as its creator set it; Invalid naming `points`, `low_label` or `high_label`."""
    count = _integer(points)
    if count is None or not POINTS_MIN <= count <= POINTS_MAX:
        raise Invalid("points", f"must be a whole number from {POINTS_MIN} to {POINTS_MAX}")
    return Scale(count, _label(low, "low_label"), _label(high, "high_label"))


def check_rating(scale: Scale, value: object, field: str = "rating") -> int:
    """One person's rating: a whole number from 1 to the scale's points (or its digits)."""
    rating = _integer(value)
    if rating is None or not 1 <= rating <= scale.points:
        raise Invalid(field, f"must be a whole number from 1 to {scale.points}")
    return rating


def _median(counts: list[int], responses: int) -> float:
    """The mean of the ratings at sorted positions (n-1)//2 and n//2 (one rating if n is odd)."""
    wanted = [(responses - 1) // 2, responses // 2]
    found: list[int] = []
    seen = 0
    for value, count in enumerate(counts, start=1):
        seen += count
        while wanted and wanted[0] < seen:
            found.append(value)
            wanted.pop(0)
    return sum(found) / 2


def scale_results(scale: Scale, counts: Mapping[int, int]) -> ScaleResults:
    """Results from the count per rating (values missing from `counts` have none)."""
    if not set(counts) <= set(range(1, scale.points + 1)):
        raise ValueError(f"counts for values outside 1..{scale.points}: {sorted(counts)}")
    if any(count < 0 for count in counts.values()):
        raise ValueError("negative counts")
    per_value = [counts.get(value, 0) for value in range(1, scale.points + 1)]
    responses = sum(per_value)
    total = sum(value * count for value, count in enumerate(per_value, start=1))
    return ScaleResults(
        points=scale.points,
        low=scale.low,
        high=scale.high,
        responses=responses,
        average=round(total / responses, 2) if responses else None,
        median=_median(per_value, responses) if responses else None,
        histogram=tuple(
            Bucket(value, count, round(count * 100 / responses) if responses else 0)
            for value, count in enumerate(per_value, start=1)
        ),
    )
