"""Fixtures for the integration tests: the commands' environment, a connection of one's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import orjson
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


@pytest.fixture
async def own_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection outside the pool: session settings made on it cannot leak into other tests."""
    conn = await asyncpg.connect(database_url)
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )
    try:
        yield conn
    finally:
        await conn.close()
