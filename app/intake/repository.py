"""All SQL about intake: sources, the exactly-once delivery record, and leads as intake sees them.

A delivery is claimed (inserted) before any work and settled (its answer written) at the end,
in one transaction: a redelivery of the same event waits on the unique key until the first one
commits, then reads the answer it stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from app.intake.domain import IntakeOutcome
from app.leads.domain import LeadRecord
from app.leads.repository import DESCRIPTIVE_FIELDS
from app.pipelines.workflow import Workflow
from app.platform.sql import IS_OPEN, decided_under_current

FILLABLE = ("first_name", "last_name", "company", "title", "phone", "country")
"""Fields a replay may fill on a lead where they are still empty (never overwritten)."""

UPDATABLE = ("default_owner", "default_segment", "reopen_returning", "field_map", "pipeline")
"""What `source update` may change (name, kind and secret have their own commands)."""

SourceRecord = Mapping[str, Any]
"""A row of `intake_sources`."""

_PLACED = len(DESCRIPTIVE_FIELDS) + 1
_INTAKE_INSERT = (
    f"INSERT INTO leads ({', '.join(DESCRIPTIVE_FIELDS)}, previous_lead_id, pipeline,"
    " pipeline_version, status) "
    f"SELECT {', '.join(f'${i}' for i in range(1, _PLACED + 4))} "
    f"WHERE {decided_under_current(f'${_PLACED + 1}', f'${_PLACED + 2}')} "
    f"ON CONFLICT (lower(email)) WHERE {IS_OPEN} DO NOTHING RETURNING *"
)


class SourceRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, source: Mapping[str, Any]) -> SourceRecord:
        """Raises asyncpg.UniqueViolationError when the name is taken."""
        row: SourceRecord = await self.conn.fetchrow(
            "INSERT INTO intake_sources (name, kind, secret, lead_source, default_owner,"
            " default_segment, reopen_returning, field_map, pipeline)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
            source["name"],
            source["kind"],
            source["secret"],
            source["lead_source"],
            source.get("default_owner"),
            source.get("default_segment"),
            source.get("reopen_returning", False),
            source.get("field_map", {}),
            source.get("pipeline", "default"),
        )
        return row

    async def get(self, name: str) -> SourceRecord | None:
        row: SourceRecord | None = await self.conn.fetchrow(
            "SELECT * FROM intake_sources WHERE name = $1", name
        )
        return row

    async def all(self) -> list[SourceRecord]:
        rows: list[SourceRecord] = await self.conn.fetch(
            "SELECT s.*, (SELECT max(received_at) FROM intake_deliveries d"
            "              WHERE d.source = s.name) AS last_delivery_at"
            "  FROM intake_sources s ORDER BY name"
        )
        return rows

    async def update(self, name: str, changes: Mapping[str, Any]) -> bool:
        names = [n for n in UPDATABLE if n in changes]
        sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=2))
        status: str = await self.conn.execute(
            f"UPDATE intake_sources SET {sets} WHERE name = $1",
            name,
            *(changes[n] for n in names),
        )
        return status.endswith(" 1")

    async def rotate(self, name: str, secret: str, *, previous_until: datetime) -> bool:
        """New secret; the old one still verifies until `previous_until`."""
        status: str = await self.conn.execute(
            "UPDATE intake_sources SET previous_secret = secret, previous_secret_until = $3,"
            " secret = $2, rotated_at = now() WHERE name = $1",
            name,
            secret,
            previous_until,
        )
        return status.endswith(" 1")

    async def remove(self, name: str) -> bool:
        status: str = await self.conn.execute("DELETE FROM intake_sources WHERE name = $1", name)
        return status.endswith(" 1")


class DeliveryRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim(
        self, source: str, event_id: str, *, content_type: str, body: bytes, external_id: str | None
    ) -> int | None:
        """Record the event as received; None when it was received before (a redelivery).

        The row's outcome and answer are placeholders until `settle`, in the same transaction.
        """
        delivery_id: int | None = await self.conn.fetchval(
            "INSERT INTO intake_deliveries (source, event_id, content_type, body, external_id,"
            " outcome, status_code, answer) VALUES ($1, $2, $3, $4, $5, 'ignored', 200, '')"
            " ON CONFLICT (source, event_id) DO NOTHING RETURNING id",
            source,
            event_id,
            content_type,
            body,
            external_id,
        )
        return delivery_id

    async def answer_of(self, source: str, event_id: str) -> dict[str, Any] | None:
        raw: bytes | None = await self.conn.fetchval(
            "SELECT answer FROM intake_deliveries WHERE source = $1 AND event_id = $2",
            source,
            event_id,
        )
        return None if raw is None else dict(orjson.loads(raw))

    async def settle(
        self, delivery_id: int, outcome: IntakeOutcome, lead_id: int | None, answer: Any
    ) -> None:
        await self.conn.execute(
            "UPDATE intake_deliveries SET outcome = $2, lead_id = $3, answer = $4 WHERE id = $1",
            delivery_id,
            outcome.value,
            lead_id,
            orjson.dumps(answer),
        )

    async def lock(self, delivery_id: int) -> int | None:
        """Lock a stored delivery for a replay; the lead it found, if any."""
        lead_id: int | None = await self.conn.fetchval(
            "SELECT lead_id FROM intake_deliveries WHERE id = $1 FOR UPDATE", delivery_id
        )
        return lead_id

    async def resolve_awaiting(self, source: str, external_id: str, lead_id: int) -> None:
        """Thin events that named this contact now point at its lead."""
        await self.conn.execute(
            "UPDATE intake_deliveries SET lead_id = $3 WHERE source = $1 AND external_id = $2"
            " AND outcome = 'awaiting_email' AND lead_id IS NULL",
            source,
            external_id,
            lead_id,
        )

    async def since(self, source: str, since: datetime) -> list[Mapping[str, Any]]:
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            "SELECT id, event_id, content_type, body, outcome, received_at"
            "  FROM intake_deliveries WHERE source = $1 AND received_at >= $2 ORDER BY id",
            source,
            since,
        )
        return rows

    async def prune(self, before: datetime) -> int:
        status: str = await self.conn.execute(
            "DELETE FROM intake_deliveries WHERE received_at < $1", before
        )
        return int(status.rsplit(" ", 1)[1])


class IntakeLeadRepository:
    """Leads as intake finds, creates and touches them (one connection, caller's transaction)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def person_lead(
        self, email: str, external_id: str | None, lead_source: str
    ) -> LeadRecord | None:
        """The person's open lead if any, else their latest one; locked until commit."""
        row: LeadRecord | None = await self.conn.fetchrow(
            "SELECT * FROM leads"
            " WHERE lower(email) = lower($1)"
            "    OR (source = $3 AND external_id = $2 AND $2::text IS NOT NULL)"
            f" ORDER BY {IS_OPEN} DESC, id DESC LIMIT 1 FOR UPDATE",
            email,
            external_id,
            lead_source,
        )
        return row

    async def create(
        self, fields: Mapping[str, Any], previous_lead_id: int | None, workflow: Workflow
    ) -> LeadRecord | None:
        """The new lead at the workflow's initial status; None when a concurrent delivery created
        this person's open lead first, or the workflow's version is no longer current."""
        row: LeadRecord | None = await self.conn.fetchrow(
            _INTAKE_INSERT,
            *(fields.get(name) for name in DESCRIPTIVE_FIELDS),
            previous_lead_id,
            workflow.pipeline,
            workflow.version,
            workflow.initial,
        )
        return row

    async def fill_empty(self, lead_id: int, fields: Mapping[str, Any]) -> bool:
        """Set the lead's empty descriptive fields from `fields`; whether any was empty."""
        names = [n for n in FILLABLE if fields.get(n) is not None]
        if not names:
            return False
        sets = ", ".join(f"{n} = coalesce({n}, ${i})" for i, n in enumerate(names, start=2))
        empty = " OR ".join(f"{n} IS NULL" for n in names)
        status: str = await self.conn.execute(
            f"UPDATE leads SET {sets}, version = version + 1, updated_at = now()"
            f" WHERE id = $1 AND ({empty})",
            lead_id,
            *(fields[n] for n in names),
        )
        return status.endswith(" 1")

    async def touch(self, lead_id: int, source: str, delivery_id: int) -> None:
        await self.conn.execute(
            "INSERT INTO lead_touches (lead_id, source, delivery_id) VALUES ($1, $2, $3)",
            lead_id,
            source,
            delivery_id,
        )
