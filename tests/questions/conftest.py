"""The question types' core is pure: its tests need no database, so they skip the
migrated, cleaned database that every other test gets."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def migrated_database() -> None:
    return None


@pytest.fixture
def clean_tables() -> None:
    return None
