"""The delivery loop: rounds of `deliver_round`, woken by the database's notification at each
new event, and by a timer when none comes (the timer is the source of truth: a notification
lost with a dropped connection only delays a round).

It runs in a process of its own (`leadstatus deliver`, which `leadstatus serve` starts beside
the API at a lower priority): sending is CPU work (TLS, HTTP, signing) that would otherwise take
turns with the requests on the API's event loop, and under a burst of writes the requests come
first while deliveries catch up. Several may run, on any machine: they share the work.

`rounds_forever` is the loop's shape, which the NATS publisher (`app.publishing`) runs too.

Under a steady stream of writes the loop does not listen: a round that found some work but not
a full batch is followed by another after `GATHER_S`, so each round carries what that time
brought (a round's statements cost the same for 5 deliveries as for 100), and writers are not
asked to notify (a notifying commit is serialized with every other). Only a round that found
nothing makes the process wait for a notification."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from enum import Enum

import asyncpg

from app.platform.db import close_pools, create_pool
from app.platform.sealing import Sealer, sealer_for
from app.platform.settings import Settings
from app.webhooks.domain import parse_networks
from app.webhooks.repository import waiting, woken
from app.webhooks.sending import Sender
from app.webhooks.service import CLAIM_BATCH, deliver_round

log = logging.getLogger("leadstatus.webhooks")

GATHER_S = 0.05
"""The pause after a round that found some work, to let the next one carry more."""


class Next(Enum):
    """When the round after this one runs."""

    AT_ONCE = "a full batch: more is waiting"
    SOON = "some work: after GATHER_S"
    ON_NEWS = "nothing: when an event is notified, or the timer ends"


CHANNEL = "leadstatus_events"
DELIVERY_CONNECTION = "leadstatus-webhooks"
"""The application name of the delivery process's connections."""


async def rounds_forever(
    listener: asyncpg.Pool,
    work: Callable[[], Awaitable[Next]],
    interval: float,
    failed: Callable[[Exception], float],
    *,
    publishing: bool = False,
) -> None:
    """Rounds of `work` (which says when the next one runs), woken by the notification of a new
    event or by the timer; after a round that failed, `failed(error)` says so and how long
    to pause. `publishing` says in `webhook_listeners` that the waiting process is a publisher."""
    wake = asyncio.Event()
    listening: asyncpg.Connection | None = None

    def notified(*_: object) -> None:
        wake.set()

    async def let_go(conn: asyncpg.Connection) -> None:
        with contextlib.suppress(Exception):
            await conn.remove_listener(CHANNEL, notified)
        with contextlib.suppress(Exception):
            await listener.release(conn)

    try:
        while True:
            try:
                if listening is None or listening.is_closed():
                    listening = await listener.acquire()
                    await listening.add_listener(CHANNEL, notified)
                then = await work()
                if then is Next.SOON:
                    await asyncio.sleep(GATHER_S)
                if then is not Next.ON_NEWS:
                    continue
                # Idle: ask writers to notify, then look once more, for what committed between
                # the last round and the asking.
                await waiting(listening, publishing=publishing)
                if await work() is not Next.ON_NEWS:
                    await woken(listening)
                    continue
            except Exception as error:  # the loop must outlive any one round's failure
                if listening is not None:
                    await let_go(listening)
                    listening = None
                await asyncio.sleep(failed(error))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval)
            wake.clear()
            with contextlib.suppress(Exception):
                await woken(listening)
    finally:
        if listening is not None:
            with contextlib.suppress(Exception):
                await woken(listening)
            await let_go(listening)


async def deliver_forever(
    pool: asyncpg.Pool, listener: asyncpg.Pool, sender: Sender, sealer: Sealer, interval: float
) -> None:
    rng = random.Random()

    async def busy() -> Next:
        done = await deliver_round(pool, sender, sealer, rng)
        if done.sent >= CLAIM_BATCH:
            return Next.AT_ONCE
        return Next.SOON if done.queued or done.sent else Next.ON_NEWS

    def failed(error: Exception) -> float:
        log.warning("delivering webhooks failed (%s); retrying", type(error).__name__)
        return interval

    try:
        await rounds_forever(listener, busy, interval, failed)
    finally:
        await sender.close()


async def run_delivery(url: str, settings: Settings) -> None:
    """The loop with pools and a sender of its own, until cancelled (`leadstatus deliver`)."""
    pool = await create_pool(url, settings, size=2, name=DELIVERY_CONNECTION)
    listener = await create_pool(url, settings, size=1, name=DELIVERY_CONNECTION)
    try:
        await deliver_forever(
            pool,
            listener,
            Sender(parse_networks(settings.webhook_allowed_networks)),
            sealer_for(settings),
            settings.webhook_poll_interval_s,
        )
    finally:
        await close_pools(listener, pool)
