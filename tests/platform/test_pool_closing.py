"""Closing the pools when a process stops: polite, but bounded."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from app.platform import db
from app.platform.settings import Settings
from tests.databases import connections_named

CLOSING = "leadstatus-closing-test"


async def test_a_connection_never_given_back_does_not_hold_the_close(
    database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "CLOSE_WITHIN_S", 0.3)
    held_pool = await db.create_pool(database_url, settings, size=1, name=CLOSING)
    free_pool = await db.create_pool(database_url, settings, size=1, name=CLOSING)
    await held_pool.acquire()  # a request stuck mid-query, say
    assert await connections_named(database_url, CLOSING) == 2
    started = time.monotonic()
    # Without the bound this waits for the release forever (the test's own limit fails it).
    await asyncio.wait_for(db.close_pools(held_pool, free_pool), 10)
    assert time.monotonic() - started < 5
    for _ in range(50):  # the server notices a terminated connection a moment later
        if await connections_named(database_url, CLOSING) == 0:
            break
        await asyncio.sleep(0.05)
    assert await connections_named(database_url, CLOSING) == 0
    for pool in (held_pool, free_pool):
        assert pool.is_closing()
        with pytest.raises(asyncpg.InterfaceError):
            await pool.fetchval("SELECT 1")


async def test_pools_given_everything_back_close_politely(
    database_url: str, settings: Settings
) -> None:
    pool = await db.create_pool(database_url, settings, size=1)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT 1") == 1
    await db.close_pools(pool)
    assert pool.is_closing()
