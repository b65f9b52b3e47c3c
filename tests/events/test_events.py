"""The events log as the database keeps it: written with every change whoever makes it, never
without one, and read in an order that a late commit cannot slip behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from app.events.domain import EventFilter, EventType, event_id
from app.events.envelope import LEAD_TIMES
from app.events.service import prune_events, read_events
from app.platform.errors import EventNotKept

INSERT_LEAD = "INSERT INTO leads (email) VALUES ($1) RETURNING id"


async def log(pool: asyncpg.Pool, where: EventFilter | None = None) -> list[asyncpg.Record]:
    return await read_events(
        pool, after=None, where=where or EventFilter(), limit=1000, retention_days=30
    )


async def test_a_writer_that_bypasses_the_service_is_announced_too(pool: asyncpg.Pool) -> None:
    lead_id = await pool.fetchval(INSERT_LEAD, "sql@example.com")
    await pool.execute(
        "UPDATE leads SET company = 'Direct', version = version + 1 WHERE id = $1", lead_id
    )
    types = [(r["type"], r["sequence"]) for r in await log(pool)]
    assert types == [("lead.created", 1), ("lead.updated", 2)]


async def test_a_rolled_back_change_leaves_no_event(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.fetchval(INSERT_LEAD, "gone@example.com")
        await tx.rollback()
    with pytest.raises(asyncpg.UniqueViolationError):
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchval(INSERT_LEAD, "twice@example.com")
            await conn.fetchval(INSERT_LEAD, "twice@example.com")
    assert await log(pool) == []


async def test_an_update_that_moves_no_version_is_no_event(pool: asyncpg.Pool) -> None:
    lead_id = await pool.fetchval(INSERT_LEAD, "quiet@example.com")
    await pool.execute("UPDATE leads SET updated_at = now() WHERE id = $1", lead_id)
    assert [r["type"] for r in await log(pool)] == ["lead.created"]


async def test_a_commit_that_comes_late_is_held_back_not_skipped(pool: asyncpg.Pool) -> None:
    """A transaction that wrote first and commits last: the reader does not see the later
    commit until the earlier one has ended, so reading on from `next` cannot pass it."""
    early = await pool.acquire()
    try:
        tx = early.transaction()
        await tx.start()
        await early.fetchval(INSERT_LEAD, "early@example.com")
        await pool.fetchval(INSERT_LEAD, "late@example.com")
        assert await log(pool) == []
        await tx.commit()
    finally:
        await pool.release(early)
    emails = [r["lead"] for r in await log(pool)]
    assert ['"early@example.com"' in e for e in emails] == [True, False]
    assert '"late@example.com"' in emails[1]


async def test_a_pipeline_version_is_announced(pool: asyncpg.Pool) -> None:
    definition = await pool.fetchval(
        "SELECT definition FROM pipeline_versions WHERE pipeline = 'default' AND version = 1"
    )
    await pool.execute(
        "INSERT INTO pipeline_versions (pipeline, version, definition, created_by, changes)"
        " VALUES ('default', 2, $1, 'ops', ARRAY['renamed a label'])",
        definition,
    )
    [event] = await log(pool, EventFilter(types=(EventType.PIPELINE_CHANGED,)))
    assert (event["lead_id"], event["sequence"], event["pipeline"]) == (None, 2, "default")
    assert '"created_by": "ops"' in event["details"]
    assert "renamed a label" in event["details"]


async def test_a_session_that_switches_events_off_writes_none(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL leadstatus.events = 'off'")
        await conn.fetchval(INSERT_LEAD, "seeded@example.com")
    await pool.fetchval(INSERT_LEAD, "live@example.com")
    [event] = await log(pool)
    assert '"live@example.com"' in event["lead"]


async def test_events_past_their_retention_are_pruned(pool: asyncpg.Pool) -> None:
    old = await pool.fetchval(INSERT_LEAD, "old@example.com")
    await pool.fetchval(INSERT_LEAD, "new@example.com")
    await pool.execute(
        "UPDATE events SET occurred_at = now() - interval '31 days' WHERE lead_id = $1", old
    )
    now = datetime.now(UTC)
    assert await prune_events(pool, older_than=timedelta(days=30), now=now) == 1
    assert [r["lead_id"] for r in await log(pool)] == [old + 1]
    with pytest.raises(EventNotKept):
        await read_events(pool, after=event_id(1), where=EventFilter(), limit=10, retention_days=30)


async def test_the_envelope_knows_every_time_column_of_a_lead(pool: asyncpg.Pool) -> None:
    columns = await pool.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = 'leads' AND data_type = 'timestamp with time zone'"
    )
    assert sorted(c["column_name"] for c in columns) == sorted(LEAD_TIMES)
