"""Keeping the service's own records bounded: intake deliveries, idempotency answers, events
and their webhook deliveries.

Both exist so a retry finds what its first attempt did; past their retention nobody retries,
and they are removed in the background, a failed round retried at the next.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from app.events.service import prune_events
from app.idempotency.repository import IdempotencyRepository
from app.intake.service import prune_deliveries
from app.webhooks.service import prune_deliveries as prune_webhook_deliveries

log = logging.getLogger("leadstatus.retention")

PRUNE_EVERY_S = 3600.0
IDEMPOTENCY_RETENTION = timedelta(hours=48)
"""Answers to Idempotency-Keys are promised for 24 hours; kept twice that."""


async def prune_idempotency(pool: asyncpg.Pool, *, now: datetime) -> int:
    async with pool.acquire() as conn:
        return await IdempotencyRepository(conn).prune(now - IDEMPOTENCY_RETENTION)


async def prune_forever(
    pool: asyncpg.Pool, *, intake_retention: timedelta, events_retention: timedelta
) -> None:
    while True:
        try:
            now = datetime.now(UTC)
            deliveries = await prune_deliveries(pool, older_than=intake_retention, now=now)
            answers = await prune_idempotency(pool, now=now)
            events = await prune_events(pool, older_than=events_retention, now=now)
            sent = await prune_webhook_deliveries(pool, older_than=events_retention, now=now)
            if deliveries or answers or events or sent:
                log.info(
                    "pruned %d intake deliveries, %d idempotency answers, %d events,"
                    " %d webhook deliveries",
                    deliveries,
                    answers,
                    events,
                    sent,
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("pruning old records failed (%s); retrying", type(error).__name__)
        await asyncio.sleep(PRUNE_EVERY_S)
