"""Fixtures for the command-line tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.platform.settings import Settings, get_settings


@pytest.fixture
def cli_env(
    database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The commands use the suite's database and the key its app seals secrets with."""
    assert settings.secret_key is not None
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LEADSTATUS_SECRET_KEY", settings.secret_key.get_secret_value())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
