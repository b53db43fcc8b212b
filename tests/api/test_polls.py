"""POST/GET /api/v1/polls and GET/PATCH/DELETE /api/v1/polls/{id}."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from quart import Quart
from quart.wrappers import Response

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember, MakePoll, Member
from webapp.tables import Poll, PollOption, Vote

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

POLLS = "/api/v1/polls"
POLL_FIELDS = {
    "id",
    "question",
    "is_published",
    "allows_multiple",
    "closed_at",
    "opens_at",
    "closes_at",
    "state",
    "created_at",
    "updated_at",
    "creator",
    "options",
    "total_votes",
    "voters",
    "allows_guests",
    "voting",
    "guest_network_cap",
    "results_visibility",
    "results_hidden",
    "results_visible",
    "join_code",
    # The question type and its settings (#15): null (or false) where the kind has none.
    "kind",
    "answers_per_person",
    "scale",
    "premoderated",
    "allows_anonymous",
}
OPTION_FIELDS = {"id", "text", "position", "votes"}


def poll_url(poll_id: int) -> str:
    return f"{POLLS}/{poll_id}"


def new_poll(**changes: Any) -> dict[str, Any]:
    """A valid creation body, with some fields replaced (or removed when given as ...)."""
    body: dict[str, Any] = {"question": "Tabs or spaces?", "options": ["Tabs", "Spaces"]}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


async def poll_count() -> int:
    return int(await Poll.count())


async def get_poll(
    client: TestClientProtocol, poll_id: int, member: Member | None = None
) -> Response:
    return await client.get(poll_url(poll_id), headers=member.auth if member else None)


async def fetch_poll(client: TestClientProtocol, poll_id: int, member: Member) -> dict[str, Any]:
    response = await get_poll(client, poll_id, member)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return dict(await response.get_json())


async def patch(
    client: TestClientProtocol, poll_id: int, member: Member | None, body: Any
) -> Response:
    return await client.patch(poll_url(poll_id), json=body, headers=member.auth if member else None)


async def list_ids(
    client: TestClientProtocol, member: Member | None = None, query: str = ""
) -> list[int]:
    response = await client.get(f"{POLLS}{query}", headers=member.auth if member else None)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return [item["id"] for item in (await response.get_json())["items"]]


def assert_poll_shape(poll: dict[str, Any]) -> None:
    assert set(poll) == POLL_FIELDS
    assert isinstance(poll["id"], int) and poll["id"] >= 1
    assert set(poll["creator"]) == {"id", "name"}
    for option in poll["options"]:
        assert set(option) == OPTION_FIELDS
    assert [option["position"] for option in poll["options"]] == list(range(len(poll["options"])))


# --- POST /polls: success ------------------------------------------------------------------


async def test_create_poll_returns_201_with_the_full_poll(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member("ann")
    body = new_poll(options=["Tabs", "Spaces", "Both"], is_published=True, allows_multiple=True)

    response = await client.post(POLLS, json=body, headers=ann.auth)

    assert response.status_code == 201, await response.get_data(as_text=True)
    poll = await response.get_json()
    assert_poll_shape(poll)
    assert poll["question"] == "Tabs or spaces?"
    assert poll["is_published"] is True
    assert poll["allows_multiple"] is True
    assert poll["closed_at"] is None
    created_at = datetime.fromisoformat(poll["created_at"])
    updated_at = datetime.fromisoformat(poll["updated_at"])
    assert created_at.tzinfo is not None
    assert updated_at >= created_at
    assert poll["creator"] == {"id": ann.id, "name": "ann"}
    assert [option["text"] for option in poll["options"]] == ["Tabs", "Spaces", "Both"]
    assert [option["position"] for option in poll["options"]] == [0, 1, 2]
    assert all(option["votes"] == 0 for option in poll["options"])
    assert len({option["id"] for option in poll["options"]}) == 3
    assert poll["total_votes"] == 0
    assert poll["voters"] == 0
    assert await poll_count() == 1


async def test_the_largest_valid_poll_fits_under_the_body_limit(
    app: Quart, client: TestClientProtocol, make_member: MakeMember
) -> None:
    """Every field at its longest, every character an emoji that JSON escapes as two \\u
    escapes (12 bytes): still a 201, not a 413, so a valid body is never refused for size."""
    ann = await make_member("ann")
    question = "\U0001f600" * 300
    options = [f"{index:02d}" + "\U0001f600" * 198 for index in range(20)]
    body = json.dumps({"question": question, "options": options, "is_published": True})
    assert len(body) > 48 * 1024

    response = await client.post(
        POLLS, data=body, headers={**ann.auth, "Content-Type": "application/json"}
    )

    assert response.status_code == 201, await response.get_data(as_text=True)
    poll = await response.get_json()
    assert poll["question"] == question and [o["text"] for o in poll["options"]] == options
    assert len(body) < app.extensions["settings"].max_body_bytes


async def test_create_poll_location_header_gets_the_same_poll(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    response = await client.post(POLLS, json=new_poll(is_published=True), headers=ann.auth)
    assert response.status_code == 201
    created = await response.get_json()

    location = response.headers["Location"]
    assert location.endswith(poll_url(created["id"]))
    fetched = await client.get(location, headers=ann.auth)

    assert fetched.status_code == 200
    assert await fetched.get_json() == created


async def test_create_poll_defaults_to_an_unpublished_single_choice_draft(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()

    response = await client.post(POLLS, json=new_poll(), headers=ann.auth)

    assert response.status_code == 201
    poll = await response.get_json()
    assert poll["is_published"] is False
    assert poll["allows_multiple"] is False
    assert poll["closed_at"] is None


async def test_create_poll_trims_whitespace_around_question_and_options(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    body = new_poll(question="  Lunch?\n", options=["  Pizza ", "\tSushi"])

    response = await client.post(POLLS, json=body, headers=ann.auth)

    assert response.status_code == 201
    poll = await response.get_json()
    assert poll["question"] == "Lunch?"
    assert [option["text"] for option in poll["options"]] == ["Pizza", "Sushi"]


async def test_create_poll_accepts_the_limits_exactly(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    options = ["o" * 200] + [f"option {i}" for i in range(19)]
    body = new_poll(question="q" * 300, options=options)

    response = await client.post(POLLS, json=body, headers=ann.auth)

    assert response.status_code == 201, await response.get_data(as_text=True)
    poll = await response.get_json()
    assert poll["question"] == "q" * 300
    assert [option["text"] for option in poll["options"]] == options
    assert [option["position"] for option in poll["options"]] == list(range(20))


async def test_create_poll_anonymously_is_401(client: TestClientProtocol) -> None:
    response = await client.post(POLLS, json=new_poll())

    await assert_problem(response, 401)
    assert "WWW-Authenticate" in response.headers
    assert await poll_count() == 0


async def test_create_poll_with_an_invalid_token_is_401(client: TestClientProtocol) -> None:
    response = await client.post(
        POLLS, json=new_poll(), headers={"Authorization": "Bearer not-a-real-token"}
    )

    await assert_problem(response, 401)
    assert await poll_count() == 0


# --- POST /polls: bad input ----------------------------------------------------------------

BAD_CREATE_BODIES = [
    pytest.param(new_poll(options=["Only"]), "options", id="one-option"),
    pytest.param(new_poll(options=[]), "options", id="no-options"),
    pytest.param(new_poll(options=[f"o{i}" for i in range(21)]), "options", id="21-options"),
    pytest.param(new_poll(options=["Yes", "No", "Yes"]), "options", id="duplicate-options"),
    pytest.param(new_poll(options=["Yes", "yes"]), "options", id="duplicate-ignoring-case"),
    pytest.param(new_poll(options=["Yes", " Yes "]), "options", id="duplicate-after-trim"),
    pytest.param(new_poll(options=["Yes", "  "]), "options.1", id="blank-option"),
    pytest.param(new_poll(options=["Yes", ""]), "options.1", id="empty-option"),
    pytest.param(new_poll(options=["o" * 201, "No"]), "options.0", id="option-over-200"),
    pytest.param(new_poll(options=["Yes", 2]), "options.1", id="option-not-a-string"),
    pytest.param(new_poll(options="Yes,No"), "options", id="options-not-a-list"),
    pytest.param(new_poll(options={"a": "Yes"}), "options", id="options-an-object"),
    pytest.param(new_poll(options=...), "options", id="options-missing"),
    pytest.param(new_poll(question="   "), "question", id="blank-question"),
    pytest.param(new_poll(question=""), "question", id="empty-question"),
    pytest.param(new_poll(question="q" * 301), "question", id="question-over-300"),
    pytest.param(new_poll(question=...), "question", id="question-missing"),
    pytest.param(new_poll(question=42), "question", id="question-not-a-string"),
    pytest.param(new_poll(colour="red"), "colour", id="unknown-field"),
    pytest.param(new_poll(is_published="true"), "is_published", id="is-published-string"),
    pytest.param(new_poll(is_published=1), "is_published", id="is-published-int"),
    pytest.param(new_poll(allows_multiple="yes"), "allows_multiple", id="allows-multiple-str"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATE_BODIES)
async def test_create_poll_with_bad_input_is_422_naming_the_field_and_creates_nothing(
    client: TestClientProtocol, make_member: MakeMember, body: dict[str, Any], field: str
) -> None:
    ann = await make_member()

    response = await client.post(POLLS, json=body, headers=ann.auth)

    await assert_validation_problem(response, field)
    assert await poll_count() == 0
    assert await list_ids(client, ann, "?mine=true") == []


@pytest.mark.parametrize("payload", [[], ["Tabs", "Spaces"], "poll", 42, None])
async def test_create_poll_body_that_is_not_an_object_is_422(
    client: TestClientProtocol, make_member: MakeMember, payload: Any
) -> None:
    ann = await make_member()

    response = await client.post(POLLS, json=payload, headers=ann.auth)

    await assert_problem(response, 422)
    assert await poll_count() == 0


async def test_create_poll_malformed_json_is_400(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()

    response = await client.post(
        POLLS,
        data='{"question": "Tabs?", "options": ["a", "b"',
        headers={**ann.auth, "Content-Type": "application/json"},
    )

    await assert_problem(response, 400)
    assert await poll_count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_create_poll_non_json_content_type_is_415(
    client: TestClientProtocol, make_member: MakeMember, content_type: str
) -> None:
    ann = await make_member()
    raw = '{"question": "Tabs or spaces?", "options": ["Tabs", "Spaces"]}'

    response = await client.post(
        POLLS, data=raw, headers={**ann.auth, "Content-Type": content_type}
    )

    await assert_problem(response, 415)
    assert await poll_count() == 0


# --- GET /polls ----------------------------------------------------------------------------


async def test_list_polls_shows_only_published_polls_newest_first(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    first = await make_poll(ann, question="First?")
    await make_poll(ann, question="Ann's draft?", is_published=False)
    second = await make_poll(bob, question="Second?")
    await make_poll(bob, question="Bob's draft?", is_published=False)
    third = await make_poll(ann, question="Third?")

    response = await client.get(POLLS)

    assert response.status_code == 200
    page = await response.get_json()
    assert set(page) == {"items", "next_cursor"}
    assert [item["id"] for item in page["items"]] == [third["id"], second["id"], first["id"]]
    assert [item["question"] for item in page["items"]] == ["Third?", "Second?", "First?"]
    assert all(item["is_published"] for item in page["items"])
    assert page["next_cursor"] is None
    for item in page["items"]:
        assert_poll_shape(item)
    assert page["items"][0] == await fetch_poll(client, third["id"], ann)


async def test_list_polls_never_shows_other_users_drafts(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    published = await make_poll(ann)
    await make_poll(ann, is_published=False)

    assert await list_ids(client, bob) == [published["id"]]
    assert await list_ids(client) == [published["id"]]
    # Without mine=true even the creator sees only the published feed.
    assert await list_ids(client, ann) == [published["id"]]


async def test_list_polls_is_empty_when_there_are_none(client: TestClientProtocol) -> None:
    response = await client.get(POLLS)

    assert response.status_code == 200
    assert await response.get_json() == {"items": [], "next_cursor": None}


async def test_list_polls_pages_walk_every_poll_once_in_order(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    created = [(await make_poll(ann, question=f"Poll {i}?"))["id"] for i in range(5)]
    await make_poll(ann, is_published=False)

    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(POLLS + query)
        assert response.status_code == 200, await response.get_data(as_text=True)
        page = await response.get_json()
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
        assert len(pages) < 10, "pagination does not terminate"

    assert [len(ids) for ids in pages] == [2, 2, 1]
    assert [poll_id for ids in pages for poll_id in ids] == list(reversed(created))


async def test_list_polls_last_full_page_has_no_next_cursor(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    for _ in range(4):
        await make_poll(ann)

    first = await (await client.get(f"{POLLS}?limit=2")).get_json()
    second = await (await client.get(f"{POLLS}?limit=2&cursor={first['next_cursor']}")).get_json()

    assert first["next_cursor"] is not None
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None


async def test_list_polls_default_limit_is_20(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    for _ in range(21):
        await make_poll(ann)

    page = await (await client.get(POLLS)).get_json()

    assert len(page["items"]) == 20
    assert page["next_cursor"] is not None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("cursor=abc", "cursor"),
        ("cursor=-1", "cursor"),
        ("cursor=12345678901", "cursor"),
        ("cursor=0", "cursor"),
        ("cursor=01", "cursor"),
        ("mine=maybe", "mine"),
    ],
)
async def test_list_polls_bad_query_is_422_naming_the_parameter(
    client: TestClientProtocol, query: str, field: str
) -> None:
    response = await client.get(f"{POLLS}?{query}")

    await assert_validation_problem(response, field)


@pytest.mark.parametrize("limit", [1, 100])
async def test_list_polls_limit_bounds_are_accepted(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll, limit: int
) -> None:
    ann = await make_member()
    await make_poll(ann)
    await make_poll(ann)

    page = await (await client.get(f"{POLLS}?limit={limit}")).get_json()

    assert len(page["items"]) == min(limit, 2)


async def test_list_polls_with_a_cursor_beyond_any_id_lists_everything(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    """A 10-digit cursor beyond the 32-bit id range matches the spec's pattern, so it is a
    valid request: every poll has a smaller id (and the number never reaches the database)."""
    ann = await make_member()
    poll = await make_poll(ann)

    for cursor in ("9999999999", "2147483648"):
        assert await list_ids(client, None, f"?cursor={cursor}") == [poll["id"]]
        assert await list_ids(client, ann, f"?mine=true&cursor={cursor}") == [poll["id"]]


async def test_list_polls_with_the_largest_id_as_cursor_lists_everything(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    assert await list_ids(client, None, "?cursor=2147483647") == [poll["id"]]


async def test_list_mine_shows_the_callers_polls_including_drafts_only(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    published = await make_poll(ann)
    draft = await make_poll(ann, is_published=False)
    await make_poll(bob)
    await make_poll(bob, is_published=False)

    response = await client.get(f"{POLLS}?mine=true", headers=ann.auth)

    assert response.status_code == 200
    page = await response.get_json()
    assert [item["id"] for item in page["items"]] == [draft["id"], published["id"]]
    assert all(item["creator"]["id"] == ann.id for item in page["items"])
    assert page["next_cursor"] is None


async def test_list_mine_paginates(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    created = []
    for i in range(3):
        created.append((await make_poll(ann, is_published=i % 2 == 0))["id"])
        await make_poll(bob)

    first = await (await client.get(f"{POLLS}?mine=true&limit=2", headers=ann.auth)).get_json()
    cursor = first["next_cursor"]
    second_response = await client.get(
        f"{POLLS}?mine=true&limit=2&cursor={cursor}", headers=ann.auth
    )
    second = await second_response.get_json()

    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids == list(reversed(created))
    assert second["next_cursor"] is None


async def test_list_mine_anonymously_is_401(client: TestClientProtocol) -> None:
    response = await client.get(f"{POLLS}?mine=true")

    await assert_problem(response, 401)


async def test_list_polls_with_an_invalid_token_is_401(client: TestClientProtocol) -> None:
    response = await client.get(POLLS, headers={"Authorization": "Bearer nope"})

    await assert_problem(response, 401)


# --- GET /polls/{id} -----------------------------------------------------------------------


async def test_published_poll_is_visible_to_anonymous_and_other_users(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    poll = await make_poll(ann)

    anonymous = await get_poll(client, poll["id"])
    other = await get_poll(client, poll["id"], bob)

    assert anonymous.status_code == 200
    assert other.status_code == 200
    assert await anonymous.get_json() == poll
    assert await other.get_json() == poll


async def test_draft_is_visible_to_its_creator(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await get_poll(client, draft["id"], ann)

    assert response.status_code == 200
    body = await response.get_json()
    assert body == draft
    assert body["is_published"] is False


async def test_draft_is_404_for_anonymous(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await get_poll(client, draft["id"])

    body = await assert_problem(response, 404)
    assert draft["question"] not in str(body)


async def test_draft_is_404_for_another_user(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await get_poll(client, draft["id"], bob)

    await assert_problem(response, 404)


@pytest.mark.parametrize("poll_id", ["12345", "99999999999", "2147483648", "0"])
async def test_get_unknown_or_out_of_range_poll_is_404(
    client: TestClientProtocol, poll_id: str
) -> None:
    response = await client.get(f"{POLLS}/{poll_id}")

    await assert_problem(response, 404)


async def test_get_poll_with_non_numeric_id_is_404(client: TestClientProtocol) -> None:
    response = await client.get(f"{POLLS}/abc")

    await assert_problem(response, 404)


async def test_get_poll_with_an_invalid_token_is_401_not_anonymous(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    response = await client.get(poll_url(poll["id"]), headers={"Authorization": "Bearer nope"})

    await assert_problem(response, 401)


# --- PATCH /polls/{id}: who may ------------------------------------------------------------


async def test_patch_anonymously_is_401(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    response = await patch(client, poll["id"], None, {"closed": True})

    await assert_problem(response, 401)
    assert await fetch_poll(client, poll["id"], ann) == poll


async def test_patch_someone_elses_published_poll_is_403(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    poll = await make_poll(ann)

    response = await patch(client, poll["id"], bob, {"closed": True})

    await assert_problem(response, 403)
    assert await fetch_poll(client, poll["id"], ann) == poll


async def test_patch_someone_elses_draft_is_404(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await patch(client, draft["id"], bob, {"is_published": True})

    await assert_problem(response, 404)
    assert await fetch_poll(client, draft["id"], ann) == draft


async def test_patch_by_the_creator_is_200_with_the_poll(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await patch(client, draft["id"], ann, {"question": "Renamed?"})

    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert_poll_shape(body)
    assert body["id"] == draft["id"]
    assert body["question"] == "Renamed?"
    assert body == await fetch_poll(client, draft["id"], ann)


async def test_patch_unknown_poll_is_404(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()

    response = await patch(client, 12345, ann, {"closed": True})

    await assert_problem(response, 404)


# --- PATCH /polls/{id}: editing a draft ----------------------------------------------------


async def test_creator_edits_a_drafts_question_options_and_allows_multiple(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, ["a", "b", "c"], is_published=False)

    response = await patch(
        client,
        draft["id"],
        ann,
        {"question": "  New question? ", "options": [" x ", "y"], "allows_multiple": True},
    )

    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["question"] == "New question?"
    assert body["allows_multiple"] is True
    assert body["is_published"] is False
    assert [option["text"] for option in body["options"]] == ["x", "y"]
    assert [option["position"] for option in body["options"]] == [0, 1]
    assert all(option["votes"] == 0 for option in body["options"])
    assert body["created_at"] == draft["created_at"]
    assert await fetch_poll(client, draft["id"], ann) == body
    assert await PollOption.count().where(PollOption.poll == draft["id"]) == 2


async def test_editing_options_replaces_them_all(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, ["a", "b"], is_published=False)
    options = ["one", "two", "three", "four"]

    response = await patch(client, draft["id"], ann, {"options": options})

    assert response.status_code == 200
    body = await response.get_json()
    assert [option["text"] for option in body["options"]] == options
    assert [option["position"] for option in body["options"]] == [0, 1, 2, 3]
    assert body["question"] == draft["question"]
    rows = await PollOption.select(PollOption.text).where(PollOption.poll == draft["id"])
    assert sorted(row["text"] for row in rows) == sorted(options)


async def test_editing_only_the_question_keeps_the_options(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    body = await (await patch(client, draft["id"], ann, {"question": "Other?"})).get_json()

    assert body["options"] == draft["options"]


async def test_a_change_moves_updated_at_forward(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await patch(client, draft["id"], ann, {"question": "Changed?"})

    body = await response.get_json()
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(draft["updated_at"])
    assert body["created_at"] == draft["created_at"]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"question": "Other?"}, id="question"),
        pytest.param({"options": ["x", "y"]}, id="options"),
        pytest.param({"allows_multiple": True}, id="allows-multiple"),
    ],
)
async def test_editing_a_published_poll_is_409_and_changes_nothing(
    client: TestClientProtocol,
    make_member: MakeMember,
    make_poll: MakePoll,
    changes: dict[str, Any],
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    response = await patch(client, poll["id"], ann, changes)

    await assert_problem(response, 409)
    assert await fetch_poll(client, poll["id"], ann) == poll


# --- PATCH /polls/{id}: publish, close, reopen ---------------------------------------------


async def test_publishing_a_draft_makes_it_public(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await patch(client, draft["id"], ann, {"is_published": True})

    assert response.status_code == 200
    body = await response.get_json()
    assert body["is_published"] is True
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(draft["updated_at"])
    assert (await get_poll(client, draft["id"])).status_code == 200
    assert await list_ids(client) == [draft["id"]]


async def test_publishing_an_already_published_poll_is_a_harmless_200(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    response = await patch(client, poll["id"], ann, {"is_published": True})

    assert response.status_code == 200
    assert await response.get_json() == poll


async def test_unpublishing_a_published_poll_is_409(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    response = await patch(client, poll["id"], ann, {"is_published": False})

    await assert_problem(response, 409)
    assert (await fetch_poll(client, poll["id"], ann))["is_published"] is True


async def test_closing_a_published_poll_sets_closed_at(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    response = await patch(client, poll["id"], ann, {"closed": True})

    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["closed_at"] is not None
    closed_at = datetime.fromisoformat(body["closed_at"])
    assert closed_at >= datetime.fromisoformat(poll["created_at"])
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(poll["updated_at"])
    assert (await fetch_poll(client, poll["id"], ann))["closed_at"] == body["closed_at"]


async def test_closing_an_already_closed_poll_keeps_the_first_closed_at(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    closed = await (await patch(client, poll["id"], ann, {"closed": True})).get_json()

    response = await patch(client, poll["id"], ann, {"closed": True})

    assert response.status_code == 200
    assert (await response.get_json())["closed_at"] == closed["closed_at"]


async def test_reopening_a_closed_poll_clears_closed_at(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    await patch(client, poll["id"], ann, {"closed": True})

    response = await patch(client, poll["id"], ann, {"closed": False})

    assert response.status_code == 200
    body = await response.get_json()
    assert body["closed_at"] is None
    assert (await fetch_poll(client, poll["id"], ann))["closed_at"] is None


async def test_closing_a_draft_is_409(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await patch(client, draft["id"], ann, {"closed": True})

    await assert_problem(response, 409)
    assert await fetch_poll(client, draft["id"], ann) == draft


async def test_closing_a_poll_with_votes_keeps_the_counts(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    poll = await make_poll(ann)
    option_id = poll["options"][1]["id"]
    voted = await client.post(
        f"{poll_url(poll['id'])}/votes", json={"option_id": option_id}, headers=bob.auth
    )
    assert voted.status_code == 201, await voted.get_data(as_text=True)

    response = await patch(client, poll["id"], ann, {"closed": True})

    assert response.status_code == 200
    body = await response.get_json()
    assert body["closed_at"] is not None
    assert [option["votes"] for option in body["options"]] == [0, 1, 0]
    assert body["total_votes"] == 1
    assert body["voters"] == 1


# --- PATCH /polls/{id}: bad input ----------------------------------------------------------

BAD_PATCH_BODIES = [
    pytest.param({"options": ["Only"]}, "options", id="one-option"),
    pytest.param({"options": [f"o{i}" for i in range(21)]}, "options", id="21-options"),
    pytest.param({"options": ["Yes", "yes"]}, "options", id="duplicate-ignoring-case"),
    pytest.param({"options": ["Yes", "  "]}, "options.1", id="blank-option"),
    pytest.param({"options": ["o" * 201, "No"]}, "options.0", id="option-over-200"),
    pytest.param({"options": "Yes,No"}, "options", id="options-not-a-list"),
    pytest.param({"question": "  "}, "question", id="blank-question"),
    pytest.param({"question": "q" * 301}, "question", id="question-over-300"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    pytest.param({"is_published": "true"}, "is_published", id="is-published-string"),
    pytest.param({"closed": 1}, "closed", id="closed-int"),
    pytest.param({"allows_multiple": "no"}, "allows_multiple", id="allows-multiple-string"),
]


@pytest.mark.parametrize(("body", "field"), BAD_PATCH_BODIES)
async def test_patch_with_bad_input_is_422_naming_the_field_and_changes_nothing(
    client: TestClientProtocol,
    make_member: MakeMember,
    make_poll: MakePoll,
    body: dict[str, Any],
    field: str,
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await patch(client, draft["id"], ann, body)

    await assert_validation_problem(response, field)
    assert await fetch_poll(client, draft["id"], ann) == draft


async def test_patch_with_an_empty_body_is_422(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await patch(client, draft["id"], ann, {})

    await assert_problem(response, 422)
    assert await fetch_poll(client, draft["id"], ann) == draft


async def test_patch_malformed_json_is_400(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await client.patch(
        poll_url(draft["id"]),
        data='{"question": ',
        headers={**ann.auth, "Content-Type": "application/json"},
    )

    await assert_problem(response, 400)
    assert await fetch_poll(client, draft["id"], ann) == draft


async def test_patch_non_json_content_type_is_415(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await client.patch(
        poll_url(draft["id"]),
        data='{"question": "Other?"}',
        headers={**ann.auth, "Content-Type": "text/plain"},
    )

    await assert_problem(response, 415)
    assert await fetch_poll(client, draft["id"], ann) == draft


# --- DELETE /polls/{id} --------------------------------------------------------------------


async def test_delete_anonymously_is_401(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    response = await client.delete(poll_url(poll["id"]))

    await assert_problem(response, 401)
    assert await poll_count() == 1


async def test_delete_someone_elses_published_poll_is_403(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    poll = await make_poll(ann)

    response = await client.delete(poll_url(poll["id"]), headers=bob.auth)

    await assert_problem(response, 403)
    assert await fetch_poll(client, poll["id"], ann) == poll


async def test_delete_someone_elses_draft_is_404(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await client.delete(poll_url(draft["id"]), headers=bob.auth)

    await assert_problem(response, 404)
    assert await fetch_poll(client, draft["id"], ann) == draft


async def test_delete_unknown_poll_is_404(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()

    response = await client.delete(poll_url(12345), headers=ann.auth)

    await assert_problem(response, 404)


@pytest.mark.parametrize("is_published", [True, False])
async def test_creator_deletes_a_poll_with_204_and_it_is_gone(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll, is_published: bool
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, is_published=is_published)

    response = await client.delete(poll_url(poll["id"]), headers=ann.auth)

    assert response.status_code == 204
    assert await response.get_data() == b""
    await assert_problem(await get_poll(client, poll["id"], ann), 404)
    assert await list_ids(client, ann, "?mine=true") == []
    again = await client.delete(poll_url(poll["id"]), headers=ann.auth)
    await assert_problem(again, 404)


async def test_deleting_a_poll_deletes_its_options_and_votes_only(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    bob = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    other = await make_poll(ann)
    for option in poll["options"][:2]:
        voted = await client.post(
            f"{poll_url(poll['id'])}/votes", json={"option_id": option["id"]}, headers=bob.auth
        )
        assert voted.status_code == 201, await voted.get_data(as_text=True)
    voted = await client.post(
        f"{poll_url(other['id'])}/votes",
        json={"option_id": other["options"][0]["id"]},
        headers=bob.auth,
    )
    assert voted.status_code == 201
    assert await Vote.count().where(Vote.poll == poll["id"]) == 2

    response = await client.delete(poll_url(poll["id"]), headers=ann.auth)

    assert response.status_code == 204
    assert await PollOption.count().where(PollOption.poll == poll["id"]) == 0
    assert await Vote.count().where(Vote.poll == poll["id"]) == 0
    option_ids = [option["id"] for option in poll["options"]]
    assert await PollOption.count().where(PollOption.id.is_in(option_ids)) == 0
    assert await Vote.count().where(Vote.option.is_in(option_ids)) == 0
    # The other poll and its vote are untouched.
    assert await PollOption.count().where(PollOption.poll == other["id"]) == 3
    assert await Vote.count().where(Vote.poll == other["id"]) == 1
    assert (await fetch_poll(client, other["id"], ann))["total_votes"] == 1


@pytest.mark.parametrize("field", ["question", "options", "closed", "is_published"])
async def test_patch_with_a_null_field_is_422_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll, field: str
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await patch(client, draft["id"], ann, {field: None})

    await assert_problem(response, 422)
    assert await fetch_poll(client, draft["id"], ann) == draft


async def test_reopening_a_draft_that_was_never_closed_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await patch(client, draft["id"], ann, {"closed": False})

    assert response.status_code == 200
    assert await fetch_poll(client, draft["id"], ann) == draft
