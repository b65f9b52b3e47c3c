"""Reading the events log: the catch-up path a consumer that was down, or prefers to poll, takes."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from app.events.domain import EventFilter, event_number
from app.events.repository import EventRepository
from app.platform.errors import EventNotKept


async def read_events(
    pool: asyncpg.Pool, *, after: str | None, where: EventFilter, limit: int, retention_days: int
) -> list[asyncpg.Record]:
    """The settled events after the event `after` names (from the log's start when None)."""
    number = None
    if after is not None:
        number = event_number(after)
        if number is None:
            raise EventNotKept(after, retention_days)
    async with pool.acquire() as conn:
        repo = EventRepository(conn)
        if number is not None and not await repo.is_kept(number):
            raise EventNotKept(after or "", retention_days)
        return await repo.page(after=number, where=where, limit=limit)


async def prune_events(pool: asyncpg.Pool, *, older_than: timedelta, now: datetime) -> int:
    async with pool.acquire() as conn:
        return await EventRepository(conn).prune(now - older_than)
