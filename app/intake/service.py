"""The intake use cases: receive a marketing tool's delivery exactly once, without duplicates.

Each event of a delivery is one transaction: claim its event id (a redelivery finds it claimed
and gets the stored answer back, changing nothing), find the person's lead, let the domain decide
(create, touch, report, reopen, or create linked), write, and store the answer. Two deliveries of
different events for one new person race on the one-open-lead-per-email index: the loser rolls
back and runs again, now finding the winner's lead to touch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from app.intake.domain import IntakeOutcome, SourceKind, decide, normalize_email, reopen_reason
from app.intake.payloads import Arrival
from app.intake.repository import (
    DeliveryRepository,
    IntakeLeadRepository,
    SourceRecord,
    SourceRepository,
)
from app.intake.secrets import SecretKeeper
from app.leads.domain import ChangeDetails, LeadRecord
from app.leads.repository import LeadRepository, to_domain
from app.pipelines.cache import Workflows
from app.pipelines.workflow import Outcome
from app.platform.errors import ConcurrentChange, IntakeSourceNotFound

MAX_ATTEMPTS = 5
ROTATION_GRACE = timedelta(hours=24)
"""How long a rotated-out secret still verifies, while the sender is being updated."""
OnSettled = Callable[[IntakeOutcome | None], object]
"""Told each event's outcome once its transaction has committed; None: the event was received
before and its stored answer was given again."""


@dataclass(frozen=True, slots=True)
class IntakeSource:
    """A configured source as a delivery needs it: secrets opened, defaults at hand."""

    name: str
    kind: SourceKind
    secrets: tuple[str, ...]
    """Current first; the previous one too while its grace period lasts."""
    lead_source: str
    default_owner: str | None
    default_segment: str | None
    reopen_returning: bool
    field_map: Mapping[str, str]
    pipeline: str
    """The pipeline its new leads enter."""


async def find_source(
    pool: asyncpg.Pool, name: str, *, keeper: SecretKeeper, now: datetime
) -> IntakeSource:
    async with pool.acquire() as conn:
        row = await SourceRepository(conn).get(name)
    if row is None:
        raise IntakeSourceNotFound(name)
    return _opened(row, keeper, now)


def _opened(row: SourceRecord, keeper: SecretKeeper, now: datetime) -> IntakeSource:
    secrets = [keeper.open(row["secret"])]
    until = row["previous_secret_until"]
    if row["previous_secret"] and until is not None and until > now:
        secrets.append(keeper.open(row["previous_secret"]))
    return IntakeSource(
        name=row["name"],
        kind=SourceKind(row["kind"]),
        secrets=tuple(secrets),
        lead_source=row["lead_source"],
        default_owner=row["default_owner"],
        default_segment=row["default_segment"],
        reopen_returning=row["reopen_returning"],
        field_map=dict(row["field_map"]),
        pipeline=row["pipeline"],
    )


async def receive(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    source: IntakeSource,
    arrivals: Sequence[tuple[Arrival, Mapping[str, Any] | None]],
    content_type: str,
    now: datetime,
    on_settled: OnSettled | None = None,
) -> list[dict[str, Any]]:
    """Each arrival (with its validated lead fields, or None for a thin event) exactly once."""
    return [
        await _receive_one(
            pool,
            workflows,
            source,
            arrival,
            fields,
            content_type=content_type,
            now=now,
            on_settled=on_settled,
        )
        for arrival, fields in arrivals
    ]


class _LostRace(Exception):
    """A concurrent delivery created this person's open lead first: run again."""


T = TypeVar("T")


async def _retrying(attempt: Callable[[], Awaitable[T | None]], event_id: str) -> T:
    """Run a transaction again after a lost race (or when it asks to, returning None)."""
    for _ in range(MAX_ATTEMPTS):
        try:
            result = await attempt()
        except _LostRace:
            continue
        if result is not None:
            return result
    raise ConcurrentChange("The leads of this person", event_id=event_id)


async def _receive_one(
    pool: asyncpg.Pool,
    workflows: Workflows,
    source: IntakeSource,
    arrival: Arrival,
    fields: Mapping[str, Any] | None,
    *,
    content_type: str,
    now: datetime,
    on_settled: OnSettled | None,
) -> dict[str, Any]:
    redelivered = False

    async def attempt() -> dict[str, Any] | None:
        nonlocal redelivered
        async with pool.acquire() as conn, conn.transaction():
            deliveries = DeliveryRepository(conn)
            delivery_id = await deliveries.claim(
                source.name,
                arrival.event_id,
                content_type=content_type,
                body=arrival.body,
                external_id=arrival.external_id,
            )
            redelivered = delivery_id is None
            if delivery_id is None:
                # Received before: the stored answer (None if pruned meanwhile: claim afresh).
                return await deliveries.answer_of(source.name, arrival.event_id)
            if fields is None or arrival.outcome is not None:
                outcome = arrival.outcome or IntakeOutcome.IGNORED
                answer = _answer(arrival, delivery_id, outcome, None, None)
                await deliveries.settle(delivery_id, outcome, None, answer)
                return answer
            return await _apply_and_settle(
                conn, workflows, source, arrival, fields, delivery_id, now
            )

    answer = await _retrying(attempt, arrival.event_id)
    if on_settled is not None:
        on_settled(None if redelivered else IntakeOutcome(answer["outcome"]))
    return answer


async def replay_one(
    pool: asyncpg.Pool,
    workflows: Workflows,
    source: IntakeSource,
    delivery_id: int,
    arrival: Arrival,
    fields: Mapping[str, Any],
    *,
    now: datetime,
) -> str:
    """One stored event read again: fill its lead's empty fields, or process it if it had none."""

    async def attempt() -> str:
        async with pool.acquire() as conn, conn.transaction():
            lead_id = await DeliveryRepository(conn).lock(delivery_id)
            if lead_id is not None:
                filled = await IntakeLeadRepository(conn).fill_empty(lead_id, fields)
                return "filled" if filled else "unchanged"
            answer = await _apply_and_settle(
                conn, workflows, source, arrival, fields, delivery_id, now
            )
            return str(answer["outcome"])

    return await _retrying(attempt, arrival.event_id)


def _answer(
    arrival: Arrival,
    delivery_id: int,
    outcome: IntakeOutcome,
    lead_id: int | None,
    previous_lead_id: int | None,
) -> dict[str, Any]:
    return {
        "event_id": arrival.event_id,
        "delivery_id": delivery_id,
        "outcome": outcome.value,
        "lead_id": lead_id,
        "previous_lead_id": previous_lead_id,
    }


async def _apply_and_settle(
    conn: asyncpg.Connection,
    workflows: Workflows,
    source: IntakeSource,
    arrival: Arrival,
    fields: Mapping[str, Any],
    delivery_id: int,
    now: datetime,
) -> dict[str, Any]:
    outcome, lead, previous = await _apply(
        conn, workflows, source, arrival, fields, delivery_id=delivery_id, now=now
    )
    deliveries = DeliveryRepository(conn)
    if arrival.external_id is not None:
        await deliveries.resolve_awaiting(source.name, arrival.external_id, lead)
    answer = _answer(arrival, delivery_id, outcome, lead, previous)
    await deliveries.settle(delivery_id, outcome, lead, answer)
    return answer


async def _apply(
    conn: asyncpg.Connection,
    workflows: Workflows,
    source: IntakeSource,
    arrival: Arrival,
    fields: Mapping[str, Any],
    *,
    delivery_id: int,
    now: datetime,
) -> tuple[IntakeOutcome, int, int | None]:
    """Create, touch or reopen; returns the outcome, the lead concerned and a linked lead."""
    leads = IntakeLeadRepository(conn)
    email = normalize_email(fields["email"])
    match = await leads.person_lead(email, arrival.external_id, source.lead_source)
    outcome = decide(
        Outcome(match["outcome"]) if match is not None else None,
        reopen_returning=source.reopen_returning,
    )
    if outcome in (IntakeOutcome.CREATED, IntakeOutcome.LINKED):
        previous = match["id"] if match is not None else None
        workflow = await workflows.current(source.pipeline, conn=conn)
        new_lead = _new_lead(source, arrival, fields, email)
        created = await leads.create(new_lead, previous, workflow)
        if created is None:
            # A concurrent delivery took the email, or a pipeline edit the version: run again.
            await workflows.refresh(source.pipeline, conn=conn)
            raise _LostRace
        return outcome, created["id"], previous
    assert match is not None
    if outcome is IntakeOutcome.REOPENED and not await _reopen(conn, workflows, match, source, now):
        outcome = IntakeOutcome.RETURNING
    await leads.touch(match["id"], source.name, delivery_id)
    return outcome, match["id"], None


async def _reopen(
    conn: asyncpg.Connection,
    workflows: Workflows,
    match: LeadRecord,
    source: IntakeSource,
    now: datetime,
) -> bool:
    """Reopen a returning prospect's lead under its pipeline; False where that pipeline has no
    reopening that needs nothing more than a reason (the prospect is then reported only)."""
    lead = to_domain(match)
    workflow = await workflows.current(lead.pipeline, conn=conn)
    reason = reopen_reason(workflow)
    if reason is None or not workflow.reopenable(lead.status):
        return False
    change = lead.reopen(
        workflow, reason, now=now, details=ChangeDetails(actor=f"intake:{source.name}")
    )
    # The row is locked (person_lead), so the version read is the current one; only a
    # pipeline edit can refuse the write, and then the whole event runs again under it.
    if await LeadRepository(conn).record_change(match["id"], lead, change) is None:
        await workflows.refresh(lead.pipeline, conn=conn)
        raise _LostRace
    return True


def _new_lead(
    source: IntakeSource, arrival: Arrival, fields: Mapping[str, Any], email: str
) -> dict[str, Any]:
    return {
        **fields,
        "email": email,
        "external_id": arrival.external_id,
        "source": source.lead_source,
        "owner": source.default_owner,
        "segment": source.default_segment,
        "attributes": {},
    }


async def prune_deliveries(pool: asyncpg.Pool, *, older_than: timedelta, now: datetime) -> int:
    """Forget deliveries past retention: their payloads, answers and exactly-once records."""
    async with pool.acquire() as conn:
        return await DeliveryRepository(conn).prune(now - older_than)
