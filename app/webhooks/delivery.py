"""The delivery loop every service process runs: rounds of `deliver_round`, woken by the
database's notification at each new event, and by a timer when none comes (the timer is the
source of truth: a notification lost with a dropped connection only delays a round)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import asyncpg

from app.platform.sealing import Sealer
from app.webhooks.sending import Sender
from app.webhooks.service import CLAIM_BATCH, deliver_round

log = logging.getLogger("leadstatus.webhooks")

CHANNEL = "leadstatus_events"


async def deliver_forever(
    pool: asyncpg.Pool, listener: asyncpg.Pool, sender: Sender, sealer: Sealer, interval: float
) -> None:
    wake = asyncio.Event()
    rng = random.Random()
    listening: asyncpg.Connection | None = None

    def woken(*_: object) -> None:
        wake.set()

    try:
        while True:
            try:
                if listening is None or listening.is_closed():
                    listening = await listener.acquire()
                    await listening.add_listener(CHANNEL, woken)
                done = await deliver_round(pool, sender, sealer, rng)
                if done.sent >= CLAIM_BATCH or done.queued:
                    continue  # more may be waiting: go on at once
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("delivering webhooks failed (%s); retrying", type(error).__name__)
                if listening is not None:
                    with contextlib.suppress(Exception):
                        await listener.release(listening)
                    listening = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval)
            wake.clear()
    finally:
        if listening is not None:
            with contextlib.suppress(Exception):
                await listening.remove_listener(CHANNEL, woken)
                await listener.release(listening)
        await sender.close()
