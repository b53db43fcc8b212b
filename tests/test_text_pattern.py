"""`webapp.text.PATTERN`, the rule the OpenAPI document states for text, is the rule `clean`
applies: the contract run (tests/contract) trusts the one to describe the other."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from webapp.text import PATTERN, clean

MATCHES = re.compile(PATTERN)

# Text from every part of Unicode, weighted towards the characters the rule is about.
tricky = st.sampled_from(
    list("\t\n\r \x00\x1f\x7f\x85\xa0\xad\u061c\u200b\u200d\u200e\u202e\u2066\u3000\ufeff")
    + ["\U000e0067", "\U0001f3f4", "A", "\u0301", "\u0958"]
)
texts = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), tricky), max_size=12)


def accepted(text: str) -> bool:
    try:
        return clean(text) != ""
    except ValueError:
        return False


@settings(max_examples=3000, deadline=None)
@given(texts)
@example("A")
@example(" A\n")
@example("\u200b")
@example("a\nb")
@example("\u202eabc")
@example("\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f")
def test_the_spec_pattern_accepts_exactly_what_clean_keeps(text: str) -> None:
    assert bool(MATCHES.match(text)) == accepted(text)


def test_an_emoji_flag_keeps_its_closing_tag_characters() -> None:
    england = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    assert clean(f"Vote {england}") == f"Vote {england}"
