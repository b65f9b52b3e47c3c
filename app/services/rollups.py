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

import asyncpg

from app.repositories.rollups import fold

log = logging.getLogger("leadstatus.rollups")


async def fold_forever(pool: asyncpg.Pool, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            async with pool.acquire() as conn:
                await fold(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            # The next round retries; the class says enough without leaking SQL or a URL.
            log.warning("folding metrics deltas failed (%s); retrying", type(error).__name__)
