"""Fixtures for the rollup tests: a connection of one's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest


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
