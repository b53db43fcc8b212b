"""The results of each kind other than choice, as the API, the pages and the live stream
show them: one dataclass per kind, told apart by `kind` (docs/question_types.md).

A `Results` carries one of these in `detail` (null while the results are hidden from the
viewer, as a choice poll's counts are). Pure data: the loaders are webapp/kinds/<kind>.py.
Hidden and (premoderated) pending entries are never in here: everyone who may see the
results sees the same detail, and the owner's moderation queue is read apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

# The poll columns a kind's settings live in (webapp/tables.py), read with every tally.
KIND_COLUMNS = (
    "kind",
    "answers_per_person",
    "scale_points",
    "scale_low",
    "scale_high",
    "premoderated",
    "allows_anonymous",
)


@dataclass
class ScaleBucket:
    value: int
    count: int
    percent: int  # of the respondents, rounded


@dataclass
class ScaleDetail:
    points: int
    low_label: str
    high_label: str
    responses: int
    average: float | None  # two decimals; null with no responses
    median: float | None  # the mean of the middle two for an even count
    histogram: list[ScaleBucket]  # every value 1 .. points
    kind: Literal["scale"] = field(default="scale", kw_only=True)


@dataclass
class WordView:
    key: str  # the normalised answer (what the owner hides a word by)
    text: str  # its first-seen spelling
    count: int
    size: int  # font size in the 800 x 450 picture
    x: int  # the centre of its box
    y: int
    width: int  # its box, padding included
    height: int


@dataclass
class WordCloudDetail:
    answers: int  # every answer given (hidden words left out)
    distinct: int
    words: list[WordView]  # drawn: the most frequent, at most 100
    more: int  # distinct answers left out of the picture
    kind: Literal["word_cloud"] = field(default="word_cloud", kw_only=True)


@dataclass
class RankedOptionView:
    id: int
    text: str
    points: int  # Borda: K-1 for a first place .. 0 for the last
    rank: int
    tied: bool
    percent: int  # of the most points possible
    positions: list[int]  # how many people put it first, second, ...
    average_position: float | None


@dataclass
class RankingDetail:
    rankings: int
    options: list[RankedOptionView]
    explanation: str
    kind: Literal["ranking"] = field(default="ranking", kw_only=True)


@dataclass
class TextAnswerView:
    id: int
    text: str
    created_at: datetime


@dataclass
class OpenTextDetail:
    answers: list[TextAnswerView]  # newest first, at most 50
    more: int
    kind: Literal["open_text"] = field(default="open_text", kw_only=True)


@dataclass
class QaQuestionView:
    id: int
    text: str
    asker: str | None  # null when asked anonymously
    upvotes: int
    answered: bool
    highlighted: bool
    created_at: datetime


@dataclass
class QaDetail:
    questions: list[QaQuestionView]
    highlighted_id: int | None
    settled: bool
    more: int = 0  # shown questions past the first 100 (GET .../qa lists them)
    kind: Literal["qa"] = field(default="qa", kw_only=True)


Detail = Annotated[
    ScaleDetail | WordCloudDetail | RankingDetail | OpenTextDetail | QaDetail,
    Field(discriminator="kind"),
]
