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
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from app.events.domain import event_id, event_number
from app.events.envelope import envelope
from app.events.repository import EventRepository
from app.platform.errors import EventNotKept, SecretsUnreadable, WebhookNotFound
from app.platform.sealing import Sealer, new_standard_secret
from app.platform.wire import to_json
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

CLAIM_BATCH = 200
"""Deliveries a round takes: new ones per endpoint, then due retries up to this many in all."""
SENDING_AT_ONCE = 16
"""Requests in flight per process: more only queue inside the HTTP client, at a CPU cost that
grows with the queue."""
LEASE = timedelta(seconds=ATTEMPT_TIMEOUT_S * 3)
"""How long a claimed attempt is another process's to leave alone: past it, it is due again."""
SEND_WITHIN = LEASE - timedelta(seconds=ATTEMPT_TIMEOUT_S * 2)
"""A round starts no attempt later than this after its claim, so each ends within the lease."""


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


@dataclass
class _Line:
    """One lead's claimed deliveries to one endpoint, in the log's order, sent one after
    another: the first that is not taken stops the line, and the rest wait for its retry, so a
    receiver gets a lead's events in order whatever fails."""

    claims: list[asyncpg.Record]
    answers: list[Answer | None]


async def deliver_round(
    pool: asyncpg.Pool, sender: Sender, sealer: Sealer, rng: random.Random
) -> Round:
    """Queue what is new (claimed at once), claim the retries that are due, send, record.

    Every attempt starts within `SEND_WITHIN` of the claim and ends within the attempt's time
    limit, so it is over before the claim's lease runs out and no other process can have taken
    the delivery meanwhile; what was not started by then is released, due again at once. An
    endpoint that gave no answer at all (down, or past the time limit) is sent nothing more this
    round: its other deliveries wait for the retry instead of each waiting out the time limit."""
    done = Round()
    claimed: list[asyncpg.Record] = []
    send_until = time.monotonic() + SEND_WITHIN.total_seconds()  # the leases start after this
    async with pool.acquire() as conn:
        deliveries = DeliveryRepository(conn)
        for endpoint_id in await EndpointRepository(conn).enabled_ids():
            scanned, fresh = await deliveries.queue(endpoint_id, CLAIM_BATCH, LEASE)
            done.queued += scanned
            claimed.extend(fresh)
        if len(claimed) < CLAIM_BATCH:
            claimed.extend(await deliveries.claim(CLAIM_BATCH - len(claimed), LEASE))
        if not claimed:
            return done
        rows = await EventRepository(conn).by_number([c["event_id"] for c in claimed])
    events = {row["id"]: row for row in rows}
    lines: dict[tuple[int, int | None], _Line] = {}
    for claim in sorted(claimed, key=lambda c: c["id"]):
        event = events.get(claim["event_id"])
        key = (claim["endpoint_id"], event and event["lead_id"])
        lines.setdefault(key, _Line([], [])).claims.append(claim)

    keys = _Keys(sealer)
    at_once = asyncio.Semaphore(SENDING_AT_ONCE)
    unreachable: set[int] = set()

    async def send_line(line: _Line) -> None:
        async with at_once:
            for claim in line.claims:
                if time.monotonic() > send_until or claim["endpoint_id"] in unreachable:
                    return
                answer = await _attempt(sender, keys, claim, events.get(claim["event_id"]))
                line.answers.append(answer)
                if answer is not None and answer.status is None:
                    unreachable.add(claim["endpoint_id"])
                if answer is not None and verdict(answer.status) is not Verdict.DELIVERED:
                    return

    await asyncio.gather(*(send_line(line) for line in lines.values()))
    attempts: list[Attempted] = []
    released: list[tuple[asyncpg.Record, datetime]] = []
    for line in lines.values():
        tried = [_attempted(c, a, rng) for c, a in zip(line.claims, line.answers, strict=False)]
        attempts.extend(tried)
        # What follows a retried attempt waits for it; what was never started is due at once.
        after = tried[-1].next_attempt_at if tried else None
        released.extend((c, after or datetime.now(UTC)) for c in line.claims[len(tried) :])
    async with pool.acquire() as conn, conn.transaction():
        deliveries = DeliveryRepository(conn)
        await deliveries.record(attempts)
        await deliveries.release(released)
        await _judge_endpoints(conn, _verdicts(lines))
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
    body = to_json(envelope(event))
    headers = signature_headers(event_id(event["id"]), body, signing, now)
    return await sender.post(claim["url"], body, headers)


def _attempted(claim: asyncpg.Record, answer: Answer | None, rng: random.Random) -> Attempted:
    """What one attempt leaves its delivery at."""
    if answer is None:
        error = "the event is no longer kept in the log"
        return Attempted(claim["id"], claim["attempts"], None, 0, error, DeliveryState.FAILED, None)
    if verdict(answer.status) is Verdict.DELIVERED:
        state, next_at = DeliveryState.DELIVERED, None
    elif (delay := retry_delay(claim["attempts"], rng)) is None:
        state, next_at = DeliveryState.FAILED, None
    else:
        state, next_at = DeliveryState.PENDING, datetime.now(UTC) + delay
    return Attempted(
        claim["id"],
        claim["attempts"],
        answer.status,
        answer.duration_ms,
        answer.error,
        state,
        next_at,
    )


def _verdicts(lines: dict[tuple[int, int | None], _Line]) -> dict[int, set[Verdict]]:
    """Each endpoint's verdicts this round."""
    by_endpoint: dict[int, set[Verdict]] = {}
    for (endpoint_id, _), line in lines.items():
        found = by_endpoint.setdefault(endpoint_id, set())
        found.update(verdict(a.status) for a in line.answers if a is not None)
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
