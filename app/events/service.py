"""Reading the events log: the catch-up path a consumer that was down, or prefers to poll, takes."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from app.events.domain import EventFilter, event_number
from app.events.repository import EventRepository
from app.platform.errors import EventNotKept

log = logging.getLogger("leadstatus.events")


async def read_events(
    pool: asyncpg.Pool, *, after: str | None, where: EventFilter, limit: int, retention_days: int
) -> list[asyncpg.Record]:
    """The settled events after the event `after` names (from the log's start when None)."""
    number = None if after is None else event_number(after)
    async with pool.acquire() as conn:
        repo = EventRepository(conn)
        if after is not None and (number is None or not await repo.is_kept(number)):
            raise EventNotKept(after, retention_days)
        return await repo.page(after=number, where=where, limit=limit)


async def announce_revisits(pool: asyncpg.Pool, *, now: datetime) -> int:
    """`lead.revisit_due` for every closed lead whose `revisit_at` came since the last round."""
    async with pool.acquire() as conn:
        return await EventRepository(conn).announce_revisits(now)


async def announce_stale(pool: asyncpg.Pool, *, now: datetime) -> int:
    """`lead.stale` for every open lead whose stay passed its status's `stale_after_days` since
    the last round (the first round starts the count from `now`)."""
    async with pool.acquire() as conn, conn.transaction():
        return await EventRepository(conn).announce_stale(now)


async def announce_forever(pool: asyncpg.Pool, interval: float = 60.0) -> None:
    while True:
        try:
            now = datetime.now(UTC)
            await announce_revisits(pool, now=now)
            await announce_stale(pool, now=now)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning(
                "announcing due revisits and stale leads failed (%s); retrying",
                type(error).__name__,
            )
        await asyncio.sleep(interval)


async def prune_events(pool: asyncpg.Pool, *, older_than: timedelta, now: datetime) -> int:
    async with pool.acquire() as conn:
        return await EventRepository(conn).prune(now - older_than)
