"""The pool serves its waiters in order: a task that asks for a connection just as one is given
back queues behind those already waiting (asyncpg's own pool lets it take the connection, and
the waiter waits on, as far back as it was)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from app.platform.db import create_pool
from app.platform.settings import Settings


async def _order(pool: asyncpg.Pool) -> list[str]:
    """Who got the one connection after its holder gave it back: the task that had been
    waiting, or one that asked at the moment it was given back."""
    got: list[str] = []
    started: list[asyncio.Task[None]] = []
    waiting = asyncio.Event()

    async def use(name: str) -> None:
        async with pool.acquire() as conn:
            got.append(name)
            await conn.fetchval("SELECT 1")

    async def waiter() -> None:
        waiting.set()
        await use("waiter")

    async with pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
        started.append(asyncio.create_task(waiter()))
        await waiting.wait()
        await asyncio.sleep(0.01)  # the waiter is queued
        # Starts in the next turn of the loop, as the connection is being given back.
        asyncio.get_running_loop().call_soon(
            lambda: started.append(asyncio.create_task(use("newcomer")))
        )
    await asyncio.sleep(0.01)
    await asyncio.gather(*started)
    return got


async def test_a_freed_connection_goes_to_the_longest_waiter(
    database_url: str, settings: Settings
) -> None:
    pool = await create_pool(database_url, settings, size=1, name="leadstatus-fair")
    try:
        assert await _order(pool) == ["waiter", "newcomer"]
        # Used as asyncpg allows: awaited, then released by hand; and its query methods.
        conn = await pool.acquire()
        assert await conn.fetchval("SELECT 2") == 2
        await pool.release(conn)
        assert await pool.fetchval("SELECT 3") == 3
    finally:
        await pool.close()


async def test_waiters_are_told_when_the_pool_is_terminated(
    database_url: str, settings: Settings
) -> None:
    pool = await create_pool(database_url, settings, size=1, name="leadstatus-fair")
    await pool.acquire()  # never given back: a request stuck mid-query, say
    waiting = [asyncio.create_task(pool.fetchval("SELECT 1")) for _ in range(3)]
    await asyncio.sleep(0.05)
    pool.terminate()
    for waiter in waiting:
        with pytest.raises(asyncpg.InterfaceError):
            await asyncio.wait_for(waiter, 5)
    with pytest.raises(asyncpg.InterfaceError):
        await pool.fetchval("SELECT 1")
