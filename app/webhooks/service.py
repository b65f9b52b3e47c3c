"""The webhook use cases: endpoints kept by admins, and the delivery round that sends the log.

A round queues each enabled endpoint's share of the new events (moving its cursor), claims the
deliveries that are due, sends them concurrently, and records every answer: delivered, retried
on the schedule, failed once the schedule is spent, the endpoint disabled on a 410 or after
five days of failing. Whatever a round does not finish, a later round (in any process) does.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from app.events.domain import event_id, event_number
from app.events.envelope import envelope
from app.events.repository import EventRepository
from app.platform.errors import EventNotKept, SecretsUnreadable, WebhookNotFound
from app.platform.sealing import Sealer, new_standard_secret
from app.webhooks.domain import (
    ATTEMPT_TIMEOUT_S,
    DISABLE_AFTER_FAILING,
    SECRET_OVERLAP,
    DeliveryState,
    Network,
    Verdict,
    retry_delay,
    verdict,
)
from app.webhooks.repository import Attempted, DeliveryRepository, EndpointRepository
from app.webhooks.sending import Answer, Sender, check_url, signature_headers

log = logging.getLogger("leadstatus.webhooks")

QUEUE_BATCH = 500
CLAIM_BATCH = 200
SENDING_AT_ONCE = 16
"""Requests in flight per process: more only queue inside the HTTP client, at a CPU cost that
grows with the queue."""
LEASE = timedelta(seconds=ATTEMPT_TIMEOUT_S * 3)
"""How long a claimed attempt is another process's to leave alone: past it, it is due again."""


async def add_endpoint(
    pool: asyncpg.Pool, sealer: Sealer, allowed: tuple[Network, ...], fields: Mapping[str, Any]
) -> tuple[asyncpg.Record, str]:
    """A new endpoint and its signing secret (shown this once)."""
    await check_url(fields["url"], allowed)
    secret = new_standard_secret()
    async with pool.acquire() as conn:
        row = await EndpointRepository(conn).create(fields, sealer.seal(secret))
    return row, secret


async def list_endpoints(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await EndpointRepository(conn).all()


async def get_endpoint(pool: asyncpg.Pool, endpoint_id: int) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await EndpointRepository(conn).get(endpoint_id)
    if row is None:
        raise WebhookNotFound(endpoint_id)
    return row


async def edit_endpoint(
    pool: asyncpg.Pool, allowed: tuple[Network, ...], endpoint_id: int, changes: Mapping[str, Any]
) -> asyncpg.Record:
    """Change what and where an endpoint receives; `enabled` turns it off, or on again (then
    it receives everything it missed)."""
    if changes.get("url") is not None:
        await check_url(changes["url"], allowed)
    async with pool.acquire() as conn, conn.transaction():
        repo = EndpointRepository(conn)
        if await repo.get(endpoint_id) is None:
            raise WebhookNotFound(endpoint_id)
        if changes.get("enabled") is True:
            await repo.enable(endpoint_id)
        elif changes.get("enabled") is False:
            await repo.disable(endpoint_id, "disabled through the API")
        row = await repo.edit(endpoint_id, changes)
    assert row is not None
    return row


async def remove_endpoint(pool: asyncpg.Pool, endpoint_id: int) -> None:
    async with pool.acquire() as conn:
        if not await EndpointRepository(conn).delete(endpoint_id):
            raise WebhookNotFound(endpoint_id)


async def rotate_secret(
    pool: asyncpg.Pool, sealer: Sealer, endpoint_id: int
) -> tuple[asyncpg.Record, str]:
    """A new signing secret; the old one signs beside it for 24 hours."""
    secret = new_standard_secret()
    async with pool.acquire() as conn:
        row = await EndpointRepository(conn).rotate(
            endpoint_id, sealer.seal(secret), SECRET_OVERLAP
        )
    if row is None:
        raise WebhookNotFound(endpoint_id)
    return row, secret


async def list_deliveries(
    pool: asyncpg.Pool,
    endpoint_id: int,
    *,
    state: DeliveryState | None,
    before: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        if await EndpointRepository(conn).get(endpoint_id) is None:
            raise WebhookNotFound(endpoint_id)
        return await DeliveryRepository(conn).page(
            endpoint_id, state=state, before=before, limit=limit
        )


async def recover(pool: asyncpg.Pool, endpoint_id: int, *, since: datetime) -> int:
    """Queue again what the endpoint has not received since `since`; how many."""
    async with pool.acquire() as conn, conn.transaction():
        if await EndpointRepository(conn).get(endpoint_id) is None:
            raise WebhookNotFound(endpoint_id)
        return await DeliveryRepository(conn).recover(endpoint_id, since)


async def resend(
    pool: asyncpg.Pool, endpoint_id: int, public_id: str, *, retention_days: int
) -> int:
    """Send one event to the endpoint again; the new delivery's id."""
    number = event_number(public_id)
    async with pool.acquire() as conn, conn.transaction():
        if await EndpointRepository(conn).get(endpoint_id) is None:
            raise WebhookNotFound(endpoint_id)
        delivery_id = await DeliveryRepository(conn).resend(endpoint_id, number) if number else None
    if delivery_id is None:
        raise EventNotKept(public_id, retention_days)
    return delivery_id


async def prune_deliveries(pool: asyncpg.Pool, *, older_than: timedelta, now: datetime) -> int:
    """Delivered and failed deliveries past the events' retention: their events are gone too."""
    async with pool.acquire() as conn:
        return await DeliveryRepository(conn).prune(now - older_than)


@dataclass
class Round:
    queued: int = 0
    sent: int = 0
    delivered: int = 0


async def deliver_round(
    pool: asyncpg.Pool, sender: Sender, sealer: Sealer, rng: random.Random
) -> Round:
    """Queue what is new, then send what is due (one batch of each)."""
    done = Round()
    async with pool.acquire() as conn:
        deliveries = DeliveryRepository(conn)
        for endpoint_id in await EndpointRepository(conn).enabled_ids():
            done.queued += await deliveries.queue(endpoint_id, QUEUE_BATCH)
        claimed = await deliveries.claim(CLAIM_BATCH, LEASE)
        if not claimed:
            return done
        rows = await EventRepository(conn).by_number([c["event_id"] for c in claimed])
    events = {row["id"]: row for row in rows}
    # One lead's events go to one endpoint one after another, in the log's order; the rest at
    # once. A consumer still orders by `sequence`: a retry comes after what followed it.
    lines: dict[tuple[int, int | None], list[asyncpg.Record]] = {}
    for claim in sorted(claimed, key=lambda c: c["id"]):
        event = events.get(claim["event_id"])
        lines.setdefault((claim["endpoint_id"], event and event["lead_id"]), []).append(claim)

    keys = _Keys(sealer)
    at_once = asyncio.Semaphore(SENDING_AT_ONCE)

    async def send_line(line: list[asyncpg.Record]) -> list[Answer | None]:
        async with at_once:
            return [await _attempt(sender, keys, c, events.get(c["event_id"])) for c in line]

    answered = await asyncio.gather(*(send_line(line) for line in lines.values()))
    attempts = [
        _attempted(claim, answer, rng)
        for line, answers in zip(lines.values(), answered, strict=True)
        for claim, answer in zip(line, answers, strict=True)
    ]
    async with pool.acquire() as conn, conn.transaction():
        await DeliveryRepository(conn).record(attempts)
        await _judge_endpoints(conn, _verdicts(lines, answered))
    done.sent = len(attempts)
    done.delivered = sum(a.state is DeliveryState.DELIVERED for a in attempts)
    return done


class _Keys:
    """Each sealed secret opened once a round, however many deliveries it signs."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.opened: dict[str, str] = {}

    def open(self, sealed: str) -> str:
        if sealed not in self.opened:
            self.opened[sealed] = self.sealer.open(sealed)
        return self.opened[sealed]


async def _attempt(
    sender: Sender, keys: _Keys, claim: asyncpg.Record, event: asyncpg.Record | None
) -> Answer | None:
    """The endpoint's answer; None when the log no longer keeps the event."""
    if event is None:
        return None
    now = datetime.now(UTC)
    try:
        signing = [keys.open(claim["secret"])]
        if claim["previous_secret"] and (claim["previous_secret_until"] or now) > now:
            signing.append(keys.open(claim["previous_secret"]))
    except SecretsUnreadable:
        # A deployment with the wrong LEADSTATUS_SECRET_KEY: retried, and said, until fixed.
        return Answer(None, 0, "the signing secret does not open with LEADSTATUS_SECRET_KEY")
    body = orjson.dumps(envelope(event))
    headers = signature_headers(event_id(event["id"]), body, signing, now)
    return await sender.post(claim["url"], body, headers)


def _attempted(claim: asyncpg.Record, answer: Answer | None, rng: random.Random) -> Attempted:
    """What one attempt leaves its delivery at."""
    if answer is None:
        error = "the event is no longer kept in the log"
        return Attempted(claim["id"], None, 0, error, DeliveryState.FAILED, None)
    if verdict(answer.status) is Verdict.DELIVERED:
        state, next_at = DeliveryState.DELIVERED, None
    elif (delay := retry_delay(claim["attempts"], rng)) is None:
        state, next_at = DeliveryState.FAILED, None
    else:
        state, next_at = DeliveryState.PENDING, datetime.now(UTC) + delay
    return Attempted(claim["id"], answer.status, answer.duration_ms, answer.error, state, next_at)


def _verdicts(
    lines: dict[tuple[int, int | None], list[asyncpg.Record]], answered: list[list[Answer | None]]
) -> dict[int, set[Verdict]]:
    """Each endpoint's verdicts this round."""
    by_endpoint: dict[int, set[Verdict]] = {}
    for (endpoint_id, _), answers in zip(lines, answered, strict=True):
        found = by_endpoint.setdefault(endpoint_id, set())
        found.update(verdict(a.status) for a in answers if a is not None)
    return by_endpoint


async def _judge_endpoints(conn: asyncpg.Connection, answered_by: dict[int, set[Verdict]]) -> None:
    """An endpoint that took a delivery is answering; one that took none is failing (disabled
    after five days of it); one that answered 410 is gone (disabled at once)."""
    deliveries, endpoints = DeliveryRepository(conn), EndpointRepository(conn)
    now = datetime.now(UTC)
    for endpoint_id, verdicts in answered_by.items():
        if Verdict.GONE in verdicts:
            await deliveries.endpoint_failed(endpoint_id)
            await endpoints.disable(endpoint_id, "the endpoint answered 410 Gone")
        elif Verdict.DELIVERED in verdicts:
            await deliveries.endpoint_answered(endpoint_id)
        elif verdicts:
            failing_since = await deliveries.endpoint_failed(endpoint_id)
            if now - failing_since >= DISABLE_AFTER_FAILING:
                await endpoints.disable(
                    endpoint_id,
                    f"no delivery succeeded for {DISABLE_AFTER_FAILING.days} days "
                    f"(since {failing_since.isoformat()})",
                )
