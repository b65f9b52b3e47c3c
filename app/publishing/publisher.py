"""The publishing loop: rounds of `publish_round`, woken like the delivery loop (a notification
at each new event, the timer as the source of truth).

It runs in the delivery process (`leadstatus deliver`) when LEADSTATUS_NATS_URL is set, beside
the webhooks and on connections of its own, or alone (`leadstatus publish`). Several may run:
one at a time publishes a stream. NATS being away stops neither the webhooks nor the loop: it
says so in one line, tries again after a pause that doubles up to `MAX_PAUSE_S`, and says when
it publishes again.
"""

from __future__ import annotations

import logging

import asyncpg

from app.platform.db import close_pools, create_pool
from app.platform.settings import Settings
from app.publishing.jetstream import JetStream, describe
from app.publishing.service import BATCH, publish_round, start_publishing
from app.webhooks.delivery import Next, rounds_forever

log = logging.getLogger("leadstatus.publishing")

PUBLISHING_CONNECTION = "leadstatus-publisher"
"""The application name of the publisher's database connections."""
FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 30.0


class Outage:
    """Failed tries in a row: the pause before the next one, and a line at each end of a run."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.failures = 0

    def failed(self, error: Exception) -> float:
        self.failures += 1
        if self.failures == 1:
            log.warning(
                "publishing events to NATS stream %s failed (%s); trying again, pausing up to"
                " %g s between tries (webhooks go on)",
                self.stream,
                describe(error),
                MAX_PAUSE_S,
            )
        pause: float = min(FIRST_PAUSE_S * 2.0 ** (self.failures - 1), MAX_PAUSE_S)
        return pause

    def over(self) -> None:
        if self.failures:
            log.info(
                "publishing events to NATS stream %s again (after %d failed tries)",
                self.stream,
                self.failures,
            )
            self.failures = 0


async def publish_forever(
    pool: asyncpg.Pool, listener: asyncpg.Pool, stream: JetStream, interval: float
) -> None:
    outage = Outage(stream.name)

    async def busy() -> Next:
        published = await publish_round(pool, stream)
        outage.over()
        if published >= BATCH:
            return Next.AT_ONCE
        return Next.SOON if published else Next.ON_NEWS

    try:
        await rounds_forever(listener, busy, interval, outage.failed, publishing=True)
    finally:
        await stream.close()


def servers(url: str) -> list[str]:
    return [part.strip() for part in url.split(",") if part.strip()]


async def run_publisher(url: str, settings: Settings, *, from_start: bool = False) -> None:
    """The loop with pools and a NATS connection of its own, until cancelled."""
    assert settings.nats_url is not None
    stream = JetStream(
        servers(settings.nats_url.get_secret_value()),
        settings.nats_stream,
        settings.nats_subject_prefix,
    )
    pool = await create_pool(url, settings, size=1, name=PUBLISHING_CONNECTION)
    listener = await create_pool(url, settings, size=1, name=PUBLISHING_CONNECTION)
    try:
        await start_publishing(pool, stream.name, from_start=from_start)
        await publish_forever(pool, listener, stream, settings.webhook_poll_interval_s)
    finally:
        await close_pools(listener, pool)
