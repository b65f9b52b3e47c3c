"""The background job that closes leads left too long in a status that says so.

A pipeline opts in per status (`auto_close_after_days`); every serving process then runs rounds
of `close_stale_leads` at an interval, working a backlog off round after round. Rounds of
several processes take different leads (row locks, skipped when held), so running it
everywhere is safe and merely redundant.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from app.leads.service import AUTO_CLOSE_BATCH, OnRecorded, close_stale_leads, utc_now
from app.pipelines.cache import Workflows

log = logging.getLogger("leadstatus.auto_close")

BACKLOG_PAUSE_S = 0.5
"""Between full rounds while a backlog lasts: closings keep flowing without crowding requests."""


async def close_stale_forever(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    interval_s: float,
    on_recorded: OnRecorded | None = None,
) -> None:
    while True:
        pause = interval_s
        try:
            closed = await close_stale_leads(
                pool, workflows, now=utc_now(), on_recorded=on_recorded
            )
            if closed:
                log.info("closed %d leads left past their status's auto_close_after_days", closed)
            if closed >= AUTO_CLOSE_BATCH:
                pause = BACKLOG_PAUSE_S
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("closing stale leads failed (%s); retrying", type(error).__name__)
        await asyncio.sleep(pause)
