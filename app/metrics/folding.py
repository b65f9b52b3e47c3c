"""Keeping the metrics rollups compact: a loop that folds pending deltas in, every second or so.

Status changes append their metrics deltas rather than updating shared rollup rows (which would
make concurrent changes queue on each other's locks); readers add whatever is pending, so the
figures are exact whenever the loop runs. It only keeps the pending deltas few and reads fast:
a missed round costs nothing but a little read time, and several service processes may all run
it (a fold takes what is committed; the others find nothing left).
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from app.metrics.rollups import fold, vacuum_churning_tables

log = logging.getLogger("leadstatus.rollups")


async def fold_forever(pool: asyncpg.Pool, interval: float, vacuum_every: float = 0) -> None:
    """Fold every `interval` seconds; every `vacuum_every` seconds (0: never) also reclaim the
    dead rows the folds and writes leave in the queue and rollup tables."""
    vacuumed = time.monotonic()
    while True:
        await asyncio.sleep(interval)
        try:
            async with pool.acquire() as conn:
                await fold(conn)
                if vacuum_every and time.monotonic() - vacuumed >= vacuum_every:
                    vacuumed = time.monotonic()
                    await vacuum_churning_tables(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            # The next round retries; the class says enough without leaking SQL or a URL.
            log.warning("folding metrics deltas failed (%s); retrying", type(error).__name__)
