"""All SQL about leads and their status changes; rows in, domain values out.

Each write is one statement: a status change updates the lead (guarded by its version) and appends
the history row in a single data-modifying CTE, so the two can never be split and the request
costs one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from typing import Any

import asyncpg

from app.leads.domain import Lead, LeadFilter, LeadRecord, StatusChange
from app.pipelines.workflow import Workflow
from app.platform.sql import IS_CLOSED, IS_OPEN, decided_under_current

DESCRIPTIVE_FIELDS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "phone",
    "source",
    "owner",
    "segment",
    "country",
    "estimated_value",
    "currency",
    "probability",
    "expected_close_date",
    "external_id",
    "attributes",
)
"""Columns a client may write; status columns change only through the workflow."""

_PLACED = len(DESCRIPTIVE_FIELDS)
_CURRENT = decided_under_current(f"${_PLACED + 1}", f"${_PLACED + 2}")
"""The guard of an insert: the pipeline and version its status was taken from are parameters."""
_INSERT = (
    f"INSERT INTO leads ({', '.join(DESCRIPTIVE_FIELDS)}, pipeline, pipeline_version, status) "
    f"SELECT {', '.join(f'${i}' for i in range(1, _PLACED + 4))} "
    f"WHERE {_CURRENT} RETURNING *"
)
"""A new lead at its pipeline's initial status, written only if the version that status was
taken from is still current (no rows otherwise: the caller re-reads the pipeline)."""

_COLUMN_TYPES = {
    "estimated_value": "numeric",
    "probability": "float8",
    "expected_close_date": "date",
    "attributes": "jsonb",
}
_INSERT_MANY = (
    f"WITH guard AS (SELECT {_CURRENT} AS current)"
    f" INSERT INTO leads ({', '.join(DESCRIPTIVE_FIELDS)}, pipeline, pipeline_version, status)"
    " SELECT u.*, "
    f"${_PLACED + 1}, ${_PLACED + 2}, ${_PLACED + 3} FROM guard, unnest("
    + ", ".join(
        f"${i}::{_COLUMN_TYPES.get(name, 'text')}[]"
        for i, name in enumerate(DESCRIPTIVE_FIELDS, start=1)
    )
    + ") u WHERE guard.current {conflict} RETURNING id, lower(email) AS email_key"
)
_INSERT_MANY_NEW = _INSERT_MANY.format(conflict="")
_INSERT_MANY_SKIPPING = _INSERT_MANY.format(
    conflict=f"ON CONFLICT (lower(email)) WHERE {IS_OPEN} DO NOTHING"
)

_CHANGE_STATUS = f"""
WITH changed AS (
    UPDATE leads
       SET status = $3, status_reason = $4, version = version + 1,
           reopen_count = reopen_count + $5::int, closed_from = $6, {{revisit}}
           closed_at = $14, outcome = $16, pipeline_version = $17,
           status_since = $8, updated_at = $8
     WHERE id = $1 AND version = $2 AND {decided_under_current("leads.pipeline", "$17")}
 RETURNING *
), recorded AS (
    INSERT INTO lead_status_changes
           (lead_id, from_status, to_status, reason, reopened, note, competitor, revisit_at,
            future_opportunity, actor, owner, source, segment, at, api_key, pipeline,
            pipeline_version, from_version, from_outcome, to_outcome, estimated_value, currency,
            probability, expected_close_date)
    SELECT id, $9, $3, $4, $5::int = 1, $10, $11, $7, $12, $13, owner, source, segment, $8, $15,
           pipeline, $17, $18, $19, $16, estimated_value, currency, probability,
           expected_close_date
      FROM changed
)
SELECT * FROM changed
"""
_CHANGE_STATUS_AND_REVISIT = _CHANGE_STATUS.format(revisit="revisit_at = $7,")
_CHANGE_STATUS_KEEPING_REVISIT = _CHANGE_STATUS.format(revisit="")
"""Most status changes leave `revisit_at` as it was (null). Not naming it spares the statement
the metrics trigger that watches it (`metrics_on_lead_update`, `UPDATE OF ... revisit_at`):
PostgreSQL skips a column trigger whose columns an UPDATE does not set, and otherwise re-reads
the trigger's WHEN clause from its stored text for every statement (a measurable share of the
server's CPU per transition). The version guard keeps the skipped value the one `lead` read;
`decided_under_current()` keeps the decision's pipeline version the current one."""


_STALE = (
    "EXISTS (SELECT FROM pipelines p JOIN pipeline_statuses s"
    " ON s.pipeline = p.name AND s.version = p.current_version"
    " WHERE p.name = leads.pipeline AND s.key = leads.status"
    " AND leads.status_since < {at}::timestamptz - make_interval(days => s.stale_after_days))"
)
"""A lead is stale by the staleness its status has now (a pipeline edit applies at once)."""

_DUE_FOR_AUTO_CLOSE = """
SELECT l.id, l.status, l.version, l.reopen_count, l.closed_from, l.revisit_at, l.closed_at,
       l.status_reason, l.pipeline, l.pipeline_version, l.status_since, p.current_version
  FROM leads l
  JOIN pipelines p ON p.name = l.pipeline
  JOIN pipeline_statuses s
    ON s.pipeline = p.name AND s.version = p.current_version AND s.key = l.status
 WHERE l.outcome = 'open' AND s.auto_close_after_days IS NOT NULL
   AND l.status_since < $1::timestamptz - make_interval(days => s.auto_close_after_days)
 ORDER BY l.status_since
 LIMIT $2
   FOR UPDATE OF l SKIP LOCKED
"""
"""The leads longest overdue for an automatic closing, locked for the caller's transaction; a
lead another process holds is skipped, so several processes share the work without waiting."""

_STATE = (
    "SELECT l.status, l.version, l.reopen_count, l.closed_from, l.revisit_at, l.closed_at,"
    " l.status_reason, l.pipeline, l.pipeline_version, p.current_version"
    " FROM leads l JOIN pipelines p ON p.name = l.pipeline WHERE l.id = $1"
)


def to_domain(row: LeadRecord) -> Lead:
    return Lead(
        status=row["status"],
        version=row["version"],
        reopen_count=row["reopen_count"],
        closed_from=row["closed_from"],
        revisit_at=row["revisit_at"],
        closed_at=row["closed_at"],
        status_reason=row["status_reason"],
        pipeline=row["pipeline"],
        pipeline_version=row["pipeline_version"],
    )


def _failing_alone(conn: asyncpg.Connection) -> AbstractAsyncContextManager[Any]:
    """Let a statement that may fail (a taken email) fail without aborting the caller's
    transaction: a savepoint inside one (the Idempotency-Key path), nothing outside (no
    extra round trip on the hot path)."""
    if conn.is_in_transaction():
        savepoint: AbstractAsyncContextManager[Any] = conn.transaction()
        return savepoint
    return nullcontext()


class LeadRepository:
    """Leads and their history on one asyncpg connection (the caller owns any transaction)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, lead_id: int, *, for_update: bool = False) -> LeadRecord | None:
        lock = " FOR UPDATE" if for_update else ""
        row: LeadRecord | None = await self.conn.fetchrow(
            f"SELECT * FROM leads WHERE id = $1{lock}", lead_id
        )
        return row

    async def state(self, lead_id: int) -> LeadRecord | None:
        """The columns the workflow decides on (`to_domain`'s), not the whole row: a status
        change answers with the row its write returns, so reading the rest first (the contact
        fields, the attributes' JSON) would be decoded for nothing."""
        row: LeadRecord | None = await self.conn.fetchrow(_STATE, lead_id)
        return row

    async def insert(self, fields: Mapping[str, Any], workflow: Workflow) -> LeadRecord | None:
        """Insert a new lead at the workflow's initial status; None when that version is no
        longer current; raises asyncpg.UniqueViolationError on a duplicate email."""
        async with _failing_alone(self.conn):
            row: LeadRecord | None = await self.conn.fetchrow(
                _INSERT,
                *(fields.get(name) for name in DESCRIPTIVE_FIELDS),
                workflow.pipeline,
                workflow.version,
                workflow.initial,
            )
        return row

    async def insert_many(
        self, leads: Sequence[Mapping[str, Any]], workflow: Workflow, *, skip_open_emails: bool
    ) -> dict[str, int]:
        """Insert new leads in one statement (emails distinct); lower(email) -> id of each.

        With `skip_open_emails`, a lead whose email has an open lead already is skipped rather
        than failing the statement; without, such a lead raises asyncpg.UniqueViolationError
        (a plain insert costs PostgreSQL less than a speculative one). Nothing is
        inserted when the workflow's version is no longer current.
        """
        columns = [[lead.get(name) for lead in leads] for name in DESCRIPTIVE_FIELDS]
        sql = _INSERT_MANY_SKIPPING if skip_open_emails else _INSERT_MANY_NEW
        async with _failing_alone(self.conn):
            rows = await self.conn.fetch(
                sql, *columns, workflow.pipeline, workflow.version, workflow.initial
            )
        return {row["email_key"]: row["id"] for row in rows}

    async def open_lead_ids_by_email(self, emails: Sequence[str]) -> dict[str, int]:
        """lower(email) -> id of the open lead with that email, for those that have one."""
        rows = await self.conn.fetch(
            "SELECT lower(email) AS email_key, id FROM leads"
            f" WHERE lower(email) = ANY($1::text[]) AND {IS_OPEN}",
            [email.lower() for email in emails],
        )
        return {row["email_key"]: row["id"] for row in rows}

    async def open_lead_id_by_email(self, email: str) -> int | None:
        lead_id: int | None = await self.conn.fetchval(
            f"SELECT id FROM leads WHERE lower(email) = lower($1) AND {IS_OPEN}",
            email,
        )
        return lead_id

    async def update_fields(
        self, lead_id: int, changes: Mapping[str, Any], *, expected_version: int | None
    ) -> LeadRecord | None:
        """Apply descriptive changes; None when the lead is missing or not at `expected_version`."""
        names = [n for n in changes if n in DESCRIPTIVE_FIELDS]
        sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=3))
        sets = f"{sets}, " if sets else ""
        async with _failing_alone(self.conn):
            row: LeadRecord | None = await self.conn.fetchrow(
                f"UPDATE leads SET {sets}version = version + 1, updated_at = now() "
                "WHERE id = $1 AND ($2::int IS NULL OR version = $2) RETURNING *",
                lead_id,
                expected_version,
                *(changes[n] for n in names),
            )
        return row

    async def record_change(
        self, lead_id: int, lead: Lead, change: StatusChange, *, api_key: str | None = None
    ) -> LeadRecord | None:
        """Move the lead and append the history row at once; None if `lead.version` is stale or
        the change was decided under a pipeline version that is no longer current."""
        after = lead.apply(change)
        d = change.details
        same_revisit = after.revisit_at == lead.revisit_at
        row: LeadRecord | None = await self.conn.fetchrow(
            _CHANGE_STATUS_KEEPING_REVISIT if same_revisit else _CHANGE_STATUS_AND_REVISIT,
            lead_id,
            lead.version,
            change.to_status,
            change.reason,
            int(change.reopened),
            after.closed_from,
            after.revisit_at,
            change.at,
            change.from_status,
            d.note,
            d.competitor,
            d.future_opportunity,
            d.actor,
            after.closed_at,
            api_key,
            change.to_outcome.value,
            change.pipeline_version,
            change.from_version,
            change.from_outcome.value,
        )
        return row

    async def due_for_auto_close(self, now: datetime, limit: int) -> list[LeadRecord]:
        rows: list[LeadRecord] = await self.conn.fetch(_DUE_FOR_AUTO_CLOSE, now, limit)
        return rows

    async def history(
        self, lead_id: int, *, api_key: str | None = None, actor: str | None = None
    ) -> list[LeadRecord]:
        rows: list[LeadRecord] = await self.conn.fetch(
            "SELECT * FROM lead_status_changes WHERE lead_id = $1"
            " AND ($2::text IS NULL OR api_key = $2) AND ($3::text IS NULL OR actor = $3)"
            " ORDER BY id",
            lead_id,
            api_key,
            actor,
        )
        return rows

    async def exists(self, lead_id: int) -> bool:
        found: bool = await self.conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM leads WHERE id = $1)", lead_id
        )
        return found

    async def list(
        self, where: LeadFilter, *, before_id: int | None, limit: int
    ) -> list[LeadRecord]:
        """Newest first, keyset-paginated on id: stable however many leads arrive meanwhile."""
        clauses: list[str] = []
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if where.pipeline is not None:
            clauses.append(f"pipeline = {arg(where.pipeline)}")
        if where.statuses:
            clauses.append(f"status = ANY({arg(list(where.statuses))}::text[])")
        for column in ("owner", "source", "segment"):
            value = getattr(where, column)
            if value is not None:
                clauses.append(f"{column} = {arg(value)}")
        if where.created_after is not None:
            clauses.append(f"created_at >= {arg(where.created_after)}")
        if where.created_before is not None:
            clauses.append(f"created_at < {arg(where.created_before)}")
        if where.revisit_due_at is not None:
            clauses.append(f"revisit_at <= {arg(where.revisit_due_at)}")
            clauses.append(IS_CLOSED)
        if where.stale_at is not None:
            clauses.append(IS_OPEN)
            clauses.append(_STALE.format(at=arg(where.stale_at)))
        if before_id is not None:
            clauses.append(f"id < {arg(before_id)}")
        sql = "SELECT * FROM leads"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY id DESC LIMIT {arg(limit)}"
        rows: list[LeadRecord] = await self.conn.fetch(sql, *args)
        return rows
