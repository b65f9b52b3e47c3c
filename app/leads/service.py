"""The lead use cases: load, ask the domain, save; one database transaction each.

Status changes use optimistic concurrency: the lead is read without a lock, the domain decides,
and the write applies only if the lead is still at the version that was read (one statement, so
the lead and its history row commit together). Without `If-Match`, a lost race is retried against
the fresh state, so a client sees either success or the refusal that state deserves; with
`If-Match`, a stale version is the client's to resolve (412).

Every decision is taken under the current version of the lead's pipeline, as this process's
`Workflows` cache knows it; the write applies only while that version is still current, and a
lost race against a pipeline edit is re-decided under the new version like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from app.leads.domain import ChangeDetails, Lead, LeadFilter, LeadRecord, StatusChange
from app.leads.repository import LeadRepository, to_domain
from app.pipelines.cache import Workflows
from app.pipelines.default import DEFAULT_PIPELINE
from app.pipelines.repository import PipelineDefinitionRepository
from app.pipelines.workflow import Workflow
from app.platform.errors import (
    ConcurrentChange,
    DuplicateOpenLead,
    LeadNotFound,
    ServiceError,
    StaleVersion,
    UnknownStatus,
)

MAX_ATTEMPTS = 5
"""Lost optimistic races retried before answering 409; each retry re-checks the workflow."""

OnRecorded = Callable[[StatusChange], object]
"""Told the change a status-changing use case recorded, once, when it is written: inside the
caller's transaction, if the pool lent one (Idempotency-Key), so count it after that commits."""


def utc_now() -> datetime:
    return datetime.now(UTC)


async def create_lead(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    fields: Mapping[str, Any],
    pipeline: str = DEFAULT_PIPELINE,
) -> LeadRecord:
    """A new lead at the initial status of its pipeline's current version."""
    workflow = await workflows.current(pipeline)
    async with pool.acquire() as conn:
        repo = LeadRepository(conn)
        for _ in range(MAX_ATTEMPTS):
            try:
                row = await repo.insert(fields, workflow)
                if row is not None:
                    return row
                workflow = await workflows.refresh(pipeline, conn=conn)
                continue
            except asyncpg.UniqueViolationError:
                existing = await repo.open_lead_id_by_email(fields["email"])
                if existing is not None:
                    raise DuplicateOpenLead(fields["email"], existing) from None
                # The blocking lead closed in between: the email is free again.
        raise ConcurrentChange("The open leads with this email", email=fields["email"])


async def get_lead(pool: asyncpg.Pool, *, lead_id: int) -> LeadRecord:
    async with pool.acquire() as conn:
        row = await LeadRepository(conn).get(lead_id)
    if row is None:
        raise LeadNotFound(lead_id)
    return row


async def list_leads(
    pool: asyncpg.Pool, *, where: LeadFilter, before_id: int | None, limit: int
) -> tuple[list[LeadRecord], int | None]:
    """A page of leads and the id to continue before, or None on the last page."""
    async with pool.acquire() as conn:
        if where.statuses:
            known = await PipelineDefinitionRepository(conn).status_keys(where.pipeline)
            unknown = [s for s in where.statuses if s not in known]
            if unknown:
                raise UnknownStatus(where.pipeline or "any", unknown[0], known, field="status")
        rows = await LeadRepository(conn).list(where, before_id=before_id, limit=limit + 1)
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1]["id"]
    return rows, None


async def update_lead(
    pool: asyncpg.Pool, *, lead_id: int, changes: Mapping[str, Any], if_match: int | None
) -> LeadRecord:
    """Change descriptive fields; an empty change answers the lead as it is, version unchanged."""
    async with pool.acquire() as conn:
        repo = LeadRepository(conn)
        if changes:
            try:
                row = await repo.update_fields(lead_id, changes, expected_version=if_match)
            except asyncpg.UniqueViolationError:
                existing = await repo.open_lead_id_by_email(changes["email"])
                if existing is None:
                    raise ConcurrentChange("The open leads with this email") from None
                raise DuplicateOpenLead(changes["email"], existing) from None
            if row is not None:
                return row
        current = await repo.get(lead_id)
    if current is None:
        raise LeadNotFound(lead_id)
    if if_match is not None and current["version"] != if_match:
        raise StaleVersion(lead_id, if_match, current["version"])
    return current


async def lead_history(
    pool: asyncpg.Pool, *, lead_id: int, api_key: str | None = None, actor: str | None = None
) -> list[LeadRecord]:
    async with pool.acquire() as conn:
        repo = LeadRepository(conn)
        rows = await repo.history(lead_id, api_key=api_key, actor=actor)
        if not rows and not await repo.exists(lead_id):
            raise LeadNotFound(lead_id)
    return rows


async def transition_lead(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    lead_id: int,
    to: str,
    reason: str,
    details: ChangeDetails,
    if_match: int | None = None,
    api_key: str | None = None,
    on_recorded: OnRecorded | None = None,
) -> LeadRecord:
    def decide(lead: Lead, workflow: Workflow) -> StatusChange:
        return lead.transition(workflow, to, reason, now=utc_now(), details=details)

    async with pool.acquire() as conn:
        return await _change_status(
            conn,
            workflows,
            lead_id=lead_id,
            decide=decide,
            if_match=if_match,
            api_key=api_key,
            on_recorded=on_recorded,
        )


async def reopen_lead(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    lead_id: int,
    reason: str,
    to: str | None,
    details: ChangeDetails,
    if_match: int | None = None,
    api_key: str | None = None,
    on_recorded: OnRecorded | None = None,
) -> LeadRecord:
    def decide(lead: Lead, workflow: Workflow) -> StatusChange:
        return lead.reopen(workflow, reason, now=utc_now(), to=to, details=details)

    async with pool.acquire() as conn:
        return await _change_status(
            conn,
            workflows,
            lead_id=lead_id,
            decide=decide,
            if_match=if_match,
            api_key=api_key,
            on_recorded=on_recorded,
        )


async def _change_status(
    conn: asyncpg.Connection,
    workflows: Workflows,
    *,
    lead_id: int,
    decide: Callable[[Lead, Workflow], StatusChange],
    if_match: int | None,
    api_key: str | None,
    on_recorded: OnRecorded | None,
) -> LeadRecord:
    repo = LeadRepository(conn)
    for _ in range(MAX_ATTEMPTS):
        row = await repo.state(lead_id)
        if row is None:
            raise LeadNotFound(lead_id)
        if if_match is not None and row["version"] != if_match:
            raise StaleVersion(lead_id, if_match, row["version"])
        lead = to_domain(row)
        workflows.saw(lead.pipeline, row["current_version"])
        workflow = await workflows.version(lead.pipeline, row["current_version"], conn=conn)
        change = decide(lead, workflow)
        changed = await repo.record_change(lead_id, lead, change, api_key=api_key)
        if changed is not None:
            if on_recorded is not None:
                on_recorded(change)
            return changed
    raise ConcurrentChange(f"Lead {lead_id}", lead_id=lead_id)


@dataclass(frozen=True, slots=True)
class RequestedTransition:
    """One item of a bulk status change: a move as `transition_lead` takes it."""

    lead_id: int
    to: str
    reason: str
    details: ChangeDetails
    if_match: int | None = None


async def transition_leads(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    requested: Sequence[RequestedTransition],
    api_key: str | None = None,
    on_recorded: OnRecorded | None = None,
) -> list[LeadRecord | ServiceError]:
    """Apply many moves, each decided on its own, in order: per item the lead as it became or
    the refusal it got.

    One transaction holds them all, with a savepoint per item: a refused item leaves nothing
    behind while the others stand, and a failure nobody expected (the database going away)
    rolls the whole call back, so an answered error never hides half a cleanup. Two items on the
    same lead see each other, the second deciding on the state the first left."""
    results: list[LeadRecord | ServiceError] = []
    async with pool.acquire() as conn, conn.transaction():
        for item in requested:

            def decide(
                lead: Lead, workflow: Workflow, item: RequestedTransition = item
            ) -> StatusChange:
                return lead.transition(
                    workflow, item.to, item.reason, now=utc_now(), details=item.details
                )

            try:
                async with conn.transaction():
                    results.append(
                        await _change_status(
                            conn,
                            workflows,
                            lead_id=item.lead_id,
                            decide=decide,
                            if_match=item.if_match,
                            api_key=api_key,
                            on_recorded=on_recorded,
                        )
                    )
            except ServiceError as refused:
                results.append(refused)
    return results


AUTO_CLOSE_BATCH = 200
"""Leads closed per round (one transaction): bounded, so a pipeline edit that makes thousands
due at once is worked off in short transactions rather than one long lock."""


async def close_stale_leads(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    now: datetime,
    limit: int = AUTO_CLOSE_BATCH,
    on_recorded: OnRecorded | None = None,
) -> int:
    """One round of automatic closings: the leads longest overdue (at most `limit`), each
    decided by the domain under its pipeline's current version and recorded like a client's
    change; how many were closed. Processes running rounds at once take different leads."""
    closed = 0
    async with pool.acquire() as conn, conn.transaction():
        repo = LeadRepository(conn)
        for row in await repo.due_for_auto_close(now, limit):
            lead = to_domain(row)
            workflow = await workflows.version(lead.pipeline, row["current_version"], conn=conn)
            change = lead.close_as_stale(workflow, since=row["status_since"], now=now)
            if change is None:
                continue
            if await repo.record_change(row["id"], lead, change) is not None:
                closed += 1
                if on_recorded is not None:
                    on_recorded(change)
    return closed


async def _replaced(
    workflows: Workflows, workflow: Workflow, conn: asyncpg.Connection
) -> Workflow | None:
    """The pipeline's new current version when `workflow`'s has been replaced (an insert under
    it wrote nothing), else None: the rows were skipped for their emails."""
    current = await workflows.refresh(workflow.pipeline, conn=conn)
    return current if current.version != workflow.version else None


async def create_leads(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    leads: Sequence[Mapping[str, Any]],
    pipeline: str = DEFAULT_PIPELINE,
) -> list[tuple[str, int | None]]:
    """Create many leads at once: per input, ("created", id), ("duplicate", id of the open lead
    with that email, maybe one created earlier in the same call) or ("conflict", None).

    One lookup of the open leads with these emails, then one plain INSERT of the rest; should
    a concurrent writer take an email in between, the insert runs again skipping such rows.
    """
    keys = [lead["email"].lower() for lead in leads]
    first_of: dict[str, int] = {}
    for index, key in enumerate(keys):
        first_of.setdefault(key, index)
    unique = [leads[index] for index in first_of.values()]
    created: dict[str, int] = {}
    workflow = await workflows.current(pipeline)
    async with pool.acquire() as conn:
        repo = LeadRepository(conn)
        # Usually none of them exists yet: look the duplicates up, insert the rest plainly.
        existing = await repo.open_lead_ids_by_email([lead["email"] for lead in unique])
        pending = [lead for lead in unique if lead["email"].lower() not in existing]
        for _ in range(MAX_ATTEMPTS):
            if not pending:
                break
            try:
                inserted = await repo.insert_many(pending, workflow, skip_open_emails=False)
            except asyncpg.UniqueViolationError:
                break  # a concurrent writer took one of the emails meanwhile: skip such rows
            if not inserted and (fresh := await _replaced(workflows, workflow, conn)):
                workflow = fresh
                continue
            created, pending = inserted, []
            break
        for _ in range(MAX_ATTEMPTS):
            if not pending:
                break
            inserted = await repo.insert_many(pending, workflow, skip_open_emails=True)
            if not inserted and (fresh := await _replaced(workflows, workflow, conn)):
                workflow = fresh
                continue
            created.update(inserted)
            skipped = [lead for lead in pending if lead["email"].lower() not in created]
            existing.update(await repo.open_lead_ids_by_email([lead["email"] for lead in skipped]))
            # An open lead that blocked a row but closed before the lookup frees its email.
            pending = [lead for lead in skipped if lead["email"].lower() not in existing]
    results: list[tuple[str, int | None]] = []
    for index, key in enumerate(keys):
        if key in created:
            results.append(("created" if first_of[key] == index else "duplicate", created[key]))
        elif key in existing:
            results.append(("duplicate", existing[key]))
        else:
            results.append(("conflict", None))
    return results
