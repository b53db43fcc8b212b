"""A JSON body is decoded and parsed once per request: the API's check of it (UTF-8, depth)
hands its result to Quart's cache, which quart-schema's validation then reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from tests.conftest import MakeMember, MakePoll
from tests.helpers import vote


async def test_a_vote_body_is_parsed_once(
    client: Client, make_member: MakeMember, make_poll: MakePoll, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, voter = await make_member(), await make_member()
    poll = await make_poll(owner)
    option = poll["options"][1]["id"]
    body = json.dumps({"option_id": option})
    parsed: list[str] = []
    decode = json._default_decoder.decode  # type: ignore[attr-defined]

    def counting(text: str, *args: Any, **kwargs: Any) -> Any:
        if text == body:
            parsed.append(text)
        return decode(text, *args, **kwargs)

    monkeypatch.setattr(json._default_decoder, "decode", counting)  # type: ignore[attr-defined]

    answer = await vote(client, voter, poll["id"], option)

    assert answer.status_code == 201, await answer.get_data()
    assert (await answer.get_json())["options"][1]["votes"] == 1  # the body did reach the vote
    assert parsed == [body]
