"""Schemathesis hooks for the contract run (tests/contract/test_contract.py).

- Auth: a bearer token from `POST /api/v1/auth/tokens` for the run's account, fetched again
  whenever a request gets a 401 (the run itself revokes tokens with
  `DELETE /auth/tokens/current`).
- Bodies whose options are distinct as sent but look alike (`webapp.text.same_key`) are left
  out: JSON Schema's `uniqueItems` cannot say "distinct once case and invisible characters
  are ignored", which the spec states in words and the API refuses with a 422.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

from webapp.text import same_key

BASE_URL = os.environ.get("LIVEPOLLS_CONTRACT_URL", "")
EMAIL = os.environ.get("LIVEPOLLS_CONTRACT_EMAIL", "")
PASSWORD = os.environ.get("LIVEPOLLS_CONTRACT_PASSWORD", "")


@schemathesis.auth()
class BearerToken:
    def get(self, case: Any, context: Any) -> str:
        response = requests.post(
            f"{BASE_URL}/api/v1/auth/tokens",
            json={"email": EMAIL, "password": PASSWORD},
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["token"])

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


def _look_alike(options: list[Any]) -> bool:
    texts = [option for option in options if isinstance(option, str)]
    return len(set(texts)) == len(texts) and len({same_key(t) for t in texts}) < len(texts)


@schemathesis.hook
def filter_body(context: Any, body: Any) -> bool:
    options = body.get("options") if isinstance(body, dict) else None
    return not (isinstance(options, list) and _look_alike(options))
