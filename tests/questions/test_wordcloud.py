"""The word cloud: sizes, no overlap, stable places, bounded, accessible SVG."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.questions.answers import AnswerCount
from webapp.questions.wordcloud import (
    HEIGHT,
    MAX_FONT,
    MAX_WORDS,
    MIN_FONT,
    WIDTH,
    Layout,
    Placed,
    layout,
    svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def words(*pairs: tuple[str, int]) -> list[AnswerCount]:
    return [AnswerCount(text.casefold(), text, count) for text, count in pairs]


def overlap(a: Placed, b: Placed) -> bool:
    al, at, ar, ab = a.box
    bl, bt, br, bb = b.box
    return al < br and bl < ar and at < bb and bt < ab


def assert_sound(cloud: Layout) -> None:
    """Every box inside the picture, no two boxes overlapping, one entry per key."""
    for word in cloud.words:
        left, top, right, bottom = word.box
        assert left >= 0 and top >= 0 and right <= cloud.width and bottom <= cloud.height
    assert not [(a.key, b.key) for a, b in combinations(cloud.words, 2) if overlap(a, b)]
    keys = [w.key for w in cloud.words] + [u.key for u in cloud.unplaced]
    assert len(keys) == len(set(keys))


def places(cloud: Layout) -> dict[str, tuple[int, int]]:
    return {w.key: (w.x, w.y) for w in cloud.words}


def test_font_size_follows_the_square_root_of_the_count() -> None:
    cloud = layout(words(("big", 100), ("quarter", 25), ("tiny", 1)))
    size = {w.key: w.size for w in cloud.words}
    assert size == {"big": MAX_FONT, "quarter": MAX_FONT // 2, "tiny": MIN_FONT}
    assert [w.key for w in cloud.words] == ["big", "quarter", "tiny"]  # drawing order


def test_the_first_word_sits_in_the_middle() -> None:
    (only,) = layout(words(("hello", 3))).words
    assert abs(only.x - WIDTH // 2) <= 4 and abs(only.y - HEIGHT // 2) <= 4


def test_many_equal_words_shrink_to_fit_and_none_overlap() -> None:
    cloud = layout([AnswerCount(f"w{i}", f"answer{i}", 1) for i in range(MAX_WORDS)])
    assert len(cloud.words) + len(cloud.unplaced) == MAX_WORDS
    assert len(cloud.words) >= 0.9 * MAX_WORDS
    assert {w.size for w in cloud.words} == {MIN_FONT}
    assert_sound(cloud)


def test_at_most_max_words_are_drawn_and_the_rest_are_counted() -> None:
    counts = [AnswerCount(f"w{i:04}", f"w{i:04}", 1 + (1000 - i) // 10) for i in range(1000)]
    cloud = layout(counts)
    assert len(cloud.words) + len(cloud.unplaced) == MAX_WORDS
    assert cloud.distinct == 1000 and cloud.answers == sum(c.count for c in counts)
    assert {w.key for w in cloud.words} <= {f"w{i:04}" for i in range(MAX_WORDS)}
    assert_sound(cloud)


def test_the_same_counts_give_the_same_picture() -> None:
    counts = words(("alpha", 5), ("beta", 3), ("gamma", 3), ("delta", 1))
    assert layout(counts) == layout(list(reversed(counts)))
    assert svg(layout(counts)) == svg(layout(counts))


def test_words_keep_their_places_when_counts_change_and_words_arrive() -> None:
    first = layout(words(("alpha", 10), ("beta", 6), ("gamma", 4), ("delta", 2)))
    # alpha doubles (everyone else shrinks), gamma gains one, two new words arrive.
    second = layout(
        words(("alpha", 20), ("beta", 6), ("gamma", 5), ("delta", 2), ("eps", 3), ("zeta", 1)),
        first,
    )
    assert_sound(second)
    assert {k: places(second)[k] for k in places(first)} == places(first)
    assert {"eps", "zeta"} <= set(places(second))


def test_a_word_that_grows_into_a_neighbour_moves_and_only_it() -> None:
    base = [AnswerCount(f"w{i}", f"word{i}", 4) for i in range(30)]
    first = layout(base)
    grown = [AnswerCount(w.key, w.text, 400 if w.key == "w29" else w.count) for w in base]
    second = layout(grown, first)
    assert_sound(second)
    moved = {k for k, place in places(second).items() if places(first).get(k) != place}
    assert moved <= {"w29"}
    assert len(second.words) == len(first.words)


def test_a_word_that_goes_frees_its_place() -> None:
    first = layout(words(("centre", 50), ("left", 2), ("right", 2)))
    without = layout(words(("left", 2), ("right", 2), ("newcomer", 40)), first)
    assert "centre" not in places(without)
    assert places(without)["left"] == places(first)["left"]
    # the newcomer, now the biggest, takes the freed middle
    (x, y), (cx, cy) = places(without)["newcomer"], places(first)["centre"]
    assert abs(x - cx) <= 4 and abs(y - cy) <= 4


def test_a_long_answer_is_sized_down_to_fit_the_width() -> None:
    long = "x" * 40
    (word,) = layout(words((long, 9))).words
    assert word.size < MAX_FONT and word.width <= WIDTH


def test_a_previous_layout_of_another_size_is_ignored() -> None:
    counts = words(("alpha", 5), ("beta", 2))
    small = layout(counts, width=400, height=300)
    assert layout(counts, small) == layout(counts)


def test_one_count_per_key() -> None:
    with pytest.raises(ValueError, match="one count per key"):
        layout([AnswerCount("a", "a", 1), AnswerCount("a", "A", 2)])


def test_zero_counts_are_left_out() -> None:
    cloud = layout(words(("kept", 1), ("gone", 0)))
    assert list(places(cloud)) == ["kept"] and cloud.distinct == 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from([f"w{i}" for i in range(60)]),
            st.integers(min_value=0, max_value=50),
            max_size=60,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_updates_never_overlap_and_keep_every_word_that_did_not_grow(
    rounds: list[dict[str, int]],
) -> None:
    cloud: Layout | None = None
    for counts in rounds:
        new = layout([AnswerCount(k, k * (1 + len(k) % 3), c) for k, c in counts.items()], cloud)
        assert_sound(new)
        if cloud is not None:
            before = {w.key: w for w in cloud.words}
            for word in new.words:
                old = before.get(word.key)
                if old is not None and word.size <= old.size:
                    assert (word.x, word.y) == (old.x, old.y), word.key
        cloud = new


def test_a_layout_survives_json_and_refuses_garbage() -> None:
    cloud = layout(words(("alpha", 5), ("beta", 2)))
    assert Layout.from_dict(json.loads(json.dumps(cloud.to_dict()))) == cloud
    for bad in ({}, {"words": "x"}, {**cloud.to_dict(), "words": [["a", "b"]]}):
        with pytest.raises(ValueError, match="not a word-cloud layout"):
            Layout.from_dict(bad)


def test_the_svg_is_well_formed_escaped_and_accessible() -> None:
    hostile = '<script>alert("x")</script> & co'
    cloud = layout(words((hostile, 3), ("plain", 1), ("bad\x00char", 1)))
    drawn = svg(cloud, title="Answers to <q>", id_prefix="wc-7")
    root = ET.fromstring(drawn)  # raises if not well-formed
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    assert root.get("aria-labelledby") == "wc-7-title wc-7-desc"
    assert root.findtext(f"{SVG}title") == "Answers to <q>"
    desc = root.findtext(f"{SVG}desc")
    assert (
        desc
        == f"5 answers, 3 different ones. Most frequent: {hostile}: 3; bad\ufffdchar: 1; plain: 1."
    )
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[0] == hostile and "<script>" not in drawn
    assert 'fill="#' not in drawn and "<style" not in drawn


def test_the_svg_uses_the_theme_colour_and_size_classes() -> None:
    root = ET.fromstring(svg(layout(words(("a", 9), ("b", 4), ("c", 1)))))
    (group,) = root.iter(f"{SVG}g")
    assert group.get("fill") == "currentColor"
    classes = [t.get("class", "") for t in root.iter(f"{SVG}text")]
    assert classes[0] == "wordcloud-word wordcloud-t1" and classes[-1].endswith("-t4")
    assert all(t.get("fill") is None for t in root.iter(f"{SVG}text"))


def test_an_empty_cloud_says_so() -> None:
    root = ET.fromstring(svg(layout([])))
    assert root.findtext(f"{SVG}desc") == "No answers yet."


def test_the_description_names_the_top_words_and_how_many_more() -> None:
    counts = [AnswerCount(f"w{i:03}", f"w{i:03}", 200 - i) for i in range(150)]
    desc = ET.fromstring(svg(layout(counts))).findtext(f"{SVG}desc") or ""
    assert desc.startswith("150 different ones") is False
    assert "Most frequent: w000: 200; w001: 199;" in desc and desc.endswith("; and 130 more.")


@pytest.mark.parametrize("prefix", ["", "1abc", 'x" onload="y', "a" * 65])
def test_element_ids_are_checked(prefix: str) -> None:
    with pytest.raises(ValueError, match="id_prefix"):
        svg(layout([]), id_prefix=prefix)
