"""Audience Q&A's list past the results' first 100 (GET .../qa), on both databases: pages in
the screens' order, the bounds, bad parameters (422), hidden results, and the page's "Show
more questions" and "Sort now" without JavaScript."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Quart

from tests.api.problems import assert_validation_problem
from tests.conftest import MakeMember, Member
from tests.kinds.helpers import make_kind_poll, results
from tests.kinds.test_qa import asked, hidden_qa, upvote
from tests.kinds.test_qa_pages_live import found
from tests.pages.helpers import api_poll, api_token, signed_up
from webapp.tables import Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol


async def many_questions(poll_id: int, asker_id: int, count: int) -> None:
    """`count` shown questions at once, question i with i upvotes (so the last asked is first)."""
    values = ", ".join(f"({poll_id}, {asker_id}, 'Question {i}?', {i})" for i in range(count))
    await Poll.raw(f"INSERT INTO qa_question (poll, asker, text, upvotes) VALUES {values}")


async def listing(
    client: TestClientProtocol, poll_id: int, query: str = "", member: Member | None = None
) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/polls/{poll_id}/qa{query}", headers=member.auth if member else {}
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    return body


def texts(body: dict[str, Any]) -> list[str]:
    return [q["text"] for q in body["questions"]]


async def test_the_list_pages_past_the_first_hundred_in_the_screens_order(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    await many_questions(poll["id"], bob.id, 150)

    shown = await results(client, poll["id"])
    assert len(shown["detail"]["questions"]) == 100 and shown["detail"]["more"] == 50
    first = await listing(client, poll["id"])
    assert first["total"] == 150 and first["after"] == 0 and first["next_after"] == 100
    assert [q["id"] for q in first["questions"]] == [q["id"] for q in shown["detail"]["questions"]]
    rest = await listing(client, poll["id"], f"?after={first['next_after']}")
    assert texts(rest) == [f"Question {i}?" for i in range(49, -1, -1)]
    assert rest["next_after"] is None

    small = await listing(client, poll["id"], "?after=10&limit=5")
    assert texts(small) == [f"Question {i}?" for i in range(139, 134, -1)]
    assert small["next_after"] == 15
    past = await listing(client, poll["id"], "?after=500")
    assert past["questions"] == [] and past["next_after"] is None and past["total"] == 150


async def test_sort_upvotes_lists_the_canonical_order_and_stores_nothing(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cat = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    ids = [await asked(client, bob, poll["id"], f"Q{i}?") for i in range(6)]
    for qid in ids[1:]:  # a stored order from the first changes, then a jump too small to move
        await upvote(client, cat, poll["id"], qid)
    await upvote(client, ann, poll["id"], ids[5])
    screen = [q["id"] for q in (await listing(client, poll["id"]))["questions"]]
    sorted_now = await listing(client, poll["id"], "?sort=upvotes")
    by_upvotes = [q["id"] for q in sorted_now["questions"]]
    assert by_upvotes[0] == ids[5] and by_upvotes[-1] == ids[0]
    assert sorted(by_upvotes) == sorted(screen)
    # Sorting for one reader changes nothing anyone else sees.
    assert [q["id"] for q in (await listing(client, poll["id"]))["questions"]] == screen


async def test_bad_paging_parameters_are_422_naming_them(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    for query, field in (
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?after=-1", "after"),
        ("?after=" + "9" * 40, "after"),
        ("?after=1.5", "after"),
        ("?sort=random", "sort"),
    ):
        response = await client.get(f"/api/v1/polls/{poll['id']}/qa{query}")
        assert response.status_code == 422, query
        assert response.content_type == "application/problem+json"
        await assert_validation_problem(response, field)


async def test_the_list_is_hidden_with_the_results_and_only_for_qa(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, poll = await hidden_qa(client, make_member)
    for viewer in (bob, None):
        body = await listing(client, poll["id"], member=viewer)
        assert body["visible"] is False and body["questions"] is None and body["total"] is None
    assert texts(await listing(client, poll["id"], member=ann)) == ["Secret?"]

    scale = await make_kind_poll(client, ann, "open_text")
    assert (await client.get(f"/api/v1/polls/{scale['id']}/qa")).status_code == 409
    draft = await client.post(
        "/api/v1/polls", json={"question": "Draft?", "kind": "qa"}, headers=ann.auth
    )
    draft_id = (await draft.get_json())["id"]
    assert (await client.get(f"/api/v1/polls/{draft_id}/qa", headers=bob.auth)).status_code == 404


async def test_the_page_shows_more_questions_and_sorts_now_without_javascript(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    token = await api_token(app, "owner@example.org")
    poll_id = int((await api_poll(app, token, kind="qa", options=None))["id"])
    reader = await signed_up(app, "reader")
    (row,) = await Poll.raw("SELECT id FROM app_user WHERE name = {}", "reader")
    await many_questions(poll_id, int(row["id"]), 120)

    page = await owner.get(f"/polls/{poll_id}")
    more = page.dom.get("qa-show-more")
    assert more.tag == "a" and "after=100" in str(more.attrs["href"])
    sort_now = page.dom.get("qa-sort-now")
    assert sort_now.tag == "a"

    rest = await reader.get(str(more.attrs["href"]))
    assert rest.status == 200 and rest.is_full_page
    items = rest.dom.get("qa-questions").find_all("li", cls="qa-question")
    assert [found(i.find(cls="qa-text")).text.strip() for i in items][:2] == [
        "Question 19?",
        "Question 18?",
    ]
    assert len(items) == 20
    sorted_page = await reader.get(str(sort_now.attrs["href"]))
    assert sorted_page.status == 200 and sorted_page.is_full_page
    first = sorted_page.dom.get("qa-questions").find_all("li", cls="qa-question")[0]
    assert found(first.find(cls="qa-text")).text.strip() == "Question 119?"
