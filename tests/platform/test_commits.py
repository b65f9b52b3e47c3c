"""Which statements may have saved a change, on a real server: the pool's connections note it
while a request is watched, and the error answers rest on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from app.platform.commits import maybe_saved, watching_writes
from app.platform.db import create_pool
from app.platform.settings import Settings

ENDED = (asyncpg.AdminShutdownError, asyncpg.ConnectionDoesNotExistError)


@pytest.fixture
async def own_pool(database_url: str, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool of the service's kind whose sessions a test may end."""
    pool = await create_pool(database_url, settings, size=1, name="leadstatus-commits")
    try:
        yield pool
    finally:
        await pool.close()


async def _insert(conn: asyncpg.Connection, email: str) -> None:
    await conn.execute("INSERT INTO leads (email) VALUES ($1)", email)


async def test_reads_save_nothing_and_a_write_outside_a_transaction_may(
    own_pool: asyncpg.Pool,
) -> None:
    async with own_pool.acquire() as conn:
        with watching_writes():
            await conn.fetchval("SELECT count(*) FROM leads")
            await conn.fetchrow("SELECT id FROM leads LIMIT 1")
            assert not maybe_saved()
            await _insert(conn, "one@example.com")
            assert maybe_saved()
        assert not maybe_saved()  # nothing is watched outside a request


async def test_inside_a_transaction_only_its_commit_may_save(own_pool: asyncpg.Pool) -> None:
    async with own_pool.acquire() as conn:
        with watching_writes():
            async with conn.transaction():
                await _insert(conn, "two@example.com")
                async with conn.transaction():  # a savepoint's release saves nothing either
                    await _insert(conn, "three@example.com")
                assert not maybe_saved()
            assert maybe_saved()
        with watching_writes():
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await _insert(conn, "four@example.com")
                    raise RuntimeError
            assert not maybe_saved()
        assert (
            await conn.fetchval("SELECT count(*) FROM leads WHERE email = 'four@example.com'") == 0
        )


async def test_a_write_the_server_refuses_saved_nothing(own_pool: asyncpg.Pool) -> None:
    async with own_pool.acquire() as conn:
        await conn.execute("INSERT INTO leads (id, email) VALUES (1000001, 'five@example.com')")
        with watching_writes():
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute(
                    "INSERT INTO leads (id, email) VALUES (1000001, 'six@example.com')"
                )
            assert not maybe_saved()


async def _ended_while(own_pool: asyncpg.Pool, database_url: str, statement: str) -> bool:
    """Whether `statement`, its session ended by the server while it runs, may have saved."""
    async with own_pool.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        other = await asyncpg.connect(database_url)
        try:
            with watching_writes():
                running = asyncio.create_task(conn.execute(statement))
                for _ in range(500):
                    if await other.fetchval(
                        "SELECT state = 'active' FROM pg_stat_activity WHERE pid = $1", pid
                    ):
                        break
                    await asyncio.sleep(0.01)
                await other.execute("SELECT pg_terminate_backend($1)", pid)
                with pytest.raises(ENDED):
                    await running
                return maybe_saved()
        finally:
            await other.close()


async def test_a_session_ended_during_a_write_leaves_the_outcome_unknown(
    own_pool: asyncpg.Pool, database_url: str
) -> None:
    ended_write = "INSERT INTO leads (email) SELECT 'seven@example.com' FROM pg_sleep(30)"
    assert await _ended_while(own_pool, database_url, ended_write)
    assert not await _ended_while(own_pool, database_url, "SELECT pg_sleep(30)")
