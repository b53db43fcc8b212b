"""A poll's kind and the settings that go with it (docs/question_types.md).

`settings_of` is the one check of what a new poll of each kind must and must not carry:
options only for choice (2-20) and ranking (2-10), `allows_multiple` only for choice, the
scale's points and labels only (and always) for scale, `answers_per_person` only for word
clouds (default 3), `premoderated` for open text and Q&A, `allows_anonymous` for Q&A, and
a Q&A list always visible (people upvote what they see). Each refusal is a 422 naming the
field, the same on both databases (PostgreSQL's CHECKs hold the same rules underneath).
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.errors import Invalid
from webapp.questions.ranking import OPTIONS_MAX as RANKING_OPTIONS_MAX
from webapp.questions.scale import Scale
from webapp.tables import Kind

DEFAULT_ANSWERS = 3
WITH_OPTIONS = frozenset({Kind.choice, Kind.ranking})
MODERATED = frozenset({Kind.open_text, Kind.qa})


@dataclass(frozen=True)
class KindSettings:
    kind: Kind = Kind.choice
    answers_per_person: int | None = None  # word_cloud
    scale: Scale | None = None  # scale
    premoderated: bool = False  # open_text, qa
    allows_anonymous: bool = False  # qa


CHOICE = KindSettings()


def _only(kind: Kind, field: str, allowed: frozenset[Kind] | Kind) -> None:
    kinds = allowed if isinstance(allowed, frozenset) else frozenset({allowed})
    if kind not in kinds:
        named = " and ".join(sorted(k.value for k in kinds))
        raise Invalid(field, f"{field} is a setting of {named} polls, not of {kind.value} polls.")


def settings_of(
    kind: Kind,
    *,
    options: list[str] | None,
    allows_multiple: bool,
    answers_per_person: int | None,
    scale: Scale | None,
    premoderated: bool,
    allows_anonymous: bool,
    results_visibility: str,
) -> KindSettings:
    """The settings of a new poll of `kind`, checked against it (Invalid naming the field)."""
    if kind in WITH_OPTIONS:
        if options is None:
            raise Invalid("options", f"A {kind.value} poll needs options: send 2 or more.")
        if kind == Kind.ranking and len(options) > RANKING_OPTIONS_MAX:
            raise Invalid("options", f"A ranking has at most {RANKING_OPTIONS_MAX} options.")
    elif options is not None:
        raise Invalid("options", f"A {kind.value} poll has no options: leave them out.")
    if allows_multiple:
        _only(kind, "allows_multiple", Kind.choice)
    if answers_per_person is not None:
        _only(kind, "answers_per_person", Kind.word_cloud)
    if scale is not None:
        _only(kind, "scale", Kind.scale)
    elif kind == Kind.scale:
        raise Invalid("scale", "A scale poll needs its scale: points, low_label, high_label.")
    if premoderated:
        _only(kind, "premoderated", MODERATED)
    if allows_anonymous:
        _only(kind, "allows_anonymous", Kind.qa)
    if kind == Kind.qa and results_visibility != "always":
        raise Invalid(
            "results_visibility",
            "A Q&A's questions are what people upvote: they are always shown.",
        )
    if kind == Kind.word_cloud and answers_per_person is None:
        answers_per_person = DEFAULT_ANSWERS
    return KindSettings(kind, answers_per_person, scale, premoderated, allows_anonymous)
