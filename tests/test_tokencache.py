"""The process's token cache: what it keeps, for how long, and when it keeps nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp import tokencache
from webapp.accounts import Account
from webapp.tokencache import TokenCache

LATER = datetime.now(UTC) + timedelta(days=1)
CREATED = datetime(2026, 12, 1, tzinfo=UTC)


def account(user_id: int) -> Account:
    return Account(id=user_id, name=f"u{user_id}", email=None, created_at=CREATED)


def test_a_kept_token_is_answered_until_its_entry_ages_out(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(tokencache.time, "monotonic", lambda: now[0])
    cache = TokenCache(ttl_s=30)
    assert cache.get("d1") is None
    cache.put("d1", account(1), LATER)
    assert cache.get("d1") == account(1)
    now[0] += 29.9
    assert cache.get("d1") == account(1)
    now[0] += 0.2
    assert cache.get("d1") is None and len(cache) == 0


def test_an_expired_token_is_not_answered_even_when_fresh_in_the_cache() -> None:
    cache = TokenCache(ttl_s=30)
    cache.put("d1", account(1), datetime.now(UTC) - timedelta(seconds=1))
    assert cache.get("d1") is None


def test_revocations_by_token_and_by_user() -> None:
    cache = TokenCache(ttl_s=30)
    cache.put("a", account(1), LATER)
    cache.put("b", account(1), LATER)
    cache.put("c", account(2), LATER)
    cache.forget("c")
    assert cache.get("c") is None and cache.get("a") == account(1)
    cache.forget_user(1)
    assert cache.get("a") is None and cache.get("b") is None


def test_the_cache_is_bounded_and_drops_the_least_recently_kept() -> None:
    cache = TokenCache(ttl_s=30, max_entries=2)
    cache.put("a", account(1), LATER)
    cache.put("b", account(2), LATER)
    cache.put("a", account(1), LATER)  # kept again: now the newest
    cache.put("c", account(3), LATER)
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") == account(1)


def test_nothing_is_kept_or_answered_while_revocations_cannot_be_heard() -> None:
    hears = [True]
    cache = TokenCache(ttl_s=30, usable=lambda: hears[0])
    cache.put("a", account(1), LATER)
    hears[0] = False
    assert cache.get("a") is None
    cache.put("b", account(2), LATER)
    hears[0] = True
    assert cache.get("b") is None and cache.get("a") == account(1)


def test_a_ttl_of_zero_turns_the_cache_off() -> None:
    cache = TokenCache(ttl_s=0)
    cache.put("a", account(1), LATER)
    assert cache.get("a") is None and len(cache) == 0
