"""All SQL about pipelines: their versions, the rows derived from each, and the leads they hold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from app.pipelines.workflow import REMAP_REASON, SYSTEM_ACTOR

PipelineRecord = Mapping[str, Any]
"""A row of `pipeline_versions` joined with its pipeline's current version."""

_VERSION = (
    "SELECT v.pipeline, v.version, v.definition, v.created_at, v.created_by, v.changes, v.remap,"
    " p.current_version"
    " FROM pipeline_versions v JOIN pipelines p ON p.name = v.pipeline"
    " WHERE v.pipeline = $1 AND v.version = {version}"
)


_REMAP = f"""
WITH moving AS (
    SELECT id, pipeline_version AS before FROM leads
     WHERE pipeline = $1 AND status = $2 ORDER BY id FOR UPDATE
), moved AS (
    UPDATE leads l
       SET status = $3, pipeline_version = $4, version = l.version + 1,
           status_reason = '{REMAP_REASON}', updated_at = $5,
           closed_from = CASE WHEN $6::jsonb ? l.closed_from THEN $6::jsonb ->> l.closed_from
                              ELSE l.closed_from END
      FROM moving m
     WHERE l.id = m.id
 RETURNING l.id, m.before, l.owner, l.source, l.segment, l.outcome, l.revisit_at,
           l.estimated_value, l.currency, l.probability, l.expected_close_date
), recorded AS (
    INSERT INTO lead_status_changes
           (lead_id, from_status, to_status, reason, reopened, revisit_at, actor, owner, source,
            segment, at, api_key, pipeline, pipeline_version, from_version, from_outcome,
            to_outcome, estimated_value, currency, probability, expected_close_date)
    SELECT id, $2, $3, '{REMAP_REASON}', false, revisit_at, '{SYSTEM_ACTOR}', owner, source,
           segment, $5, $7, $1, $4, before, outcome, outcome, estimated_value, currency,
           probability, expected_close_date
      FROM moved
    RETURNING 1
)
SELECT count(*) FROM recorded
"""


class PipelineDefinitionRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def current_version(self, name: str) -> int | None:
        version: int | None = await self.conn.fetchval(
            "SELECT current_version FROM pipelines WHERE name = $1", name
        )
        return version

    async def current(self, name: str) -> PipelineRecord | None:
        row: PipelineRecord | None = await self.conn.fetchrow(
            _VERSION.format(version="p.current_version"), name
        )
        return row

    async def version(self, name: str, version: int) -> PipelineRecord | None:
        row: PipelineRecord | None = await self.conn.fetchrow(
            _VERSION.format(version="$2"), name, version
        )
        return row

    async def versions(self, name: str) -> list[PipelineRecord]:
        rows: list[PipelineRecord] = await self.conn.fetch(
            "SELECT v.pipeline, v.version, v.created_at, v.created_by, v.changes, v.remap,"
            " p.current_version"
            " FROM pipeline_versions v JOIN pipelines p ON p.name = v.pipeline"
            " WHERE v.pipeline = $1 ORDER BY v.version",
            name,
        )
        return rows

    async def definitions(self, name: str) -> list[PipelineRecord]:
        """Every version's definition, oldest first (what a new version is checked against)."""
        rows: list[PipelineRecord] = await self.conn.fetch(
            "SELECT version, definition FROM pipeline_versions WHERE pipeline = $1"
            " ORDER BY version",
            name,
        )
        return rows

    async def all_current(self) -> list[PipelineRecord]:
        rows: list[PipelineRecord] = await self.conn.fetch(
            "SELECT p.name AS pipeline, p.current_version AS version, v.definition, v.created_at,"
            " v.created_by,"
            " (SELECT count(*) FROM leads l WHERE l.pipeline = p.name) AS leads"
            " FROM pipelines p JOIN pipeline_versions v"
            "   ON v.pipeline = p.name AND v.version = p.current_version"
            " ORDER BY p.name"
        )
        return rows

    async def status_keys(self, pipeline: str | None) -> list[str]:
        """Every key a version of `pipeline` (of any, when None) has had, in funnel order."""
        rows = await self.conn.fetch(
            "SELECT key FROM pipeline_statuses WHERE $1::text IS NULL OR pipeline = $1"
            " GROUP BY key ORDER BY min(position), key",
            pipeline,
        )
        return [row["key"] for row in rows]

    async def lock_for_edit(self) -> None:
        """Wait for the writes of leads in flight and hold off new ones (and other edits) until
        the caller's transaction ends: a write that waited then finds the version it decided
        under replaced (`decided_under_current()`), and a remap misses no lead that moved
        meanwhile. Every pipeline's writes wait, for as long as the edit takes: a lock a
        write takes anyway costs writes nothing while no edit runs, where a lock of the
        pipeline's own would cost every write a trip through the shared lock table."""
        await self.conn.execute("LOCK TABLE leads IN SHARE ROW EXCLUSIVE MODE")

    async def leads_per_status(self, name: str, statuses: Sequence[str]) -> dict[str, int]:
        rows = await self.conn.fetch(
            "SELECT status, count(*) AS n FROM leads"
            " WHERE pipeline = $1 AND status = ANY($2::text[]) GROUP BY status",
            name,
            list(statuses),
        )
        return {row["status"]: row["n"] for row in rows}

    async def store(
        self,
        name: str,
        version: int,
        definition: Mapping[str, Any],
        *,
        created_by: str | None,
        changes: Sequence[str],
        remap: Mapping[str, str],
    ) -> None:
        """Record a new version and make it current (the caller holds the edit lock); the
        connection's jsonb codec sends the documents."""
        document = dict(definition)
        if version == 1:
            await self.conn.execute(
                "INSERT INTO pipelines (name, current_version) VALUES ($1, 1)", name
            )
        else:
            await self.conn.execute(
                "UPDATE pipelines SET current_version = $2, updated_at = now() WHERE name = $1",
                name,
                version,
            )
        await self.conn.execute(
            "INSERT INTO pipeline_versions (pipeline, version, definition, created_by, changes,"
            " remap) VALUES ($1, $2, $3::jsonb, $4, $5::text[], $6::jsonb)",
            name,
            version,
            document,
            created_by,
            list(changes),
            dict(remap),
        )
        await self.conn.execute(
            "SELECT pipeline_version_store($1, $2, $3::jsonb)", name, version, document
        )

    async def remap(
        self,
        name: str,
        old: str,
        new: str,
        *,
        version: int,
        closed_from: Mapping[str, str | None],
        at: datetime,
        api_key: str | None,
    ) -> int:
        """Move every lead of `name` in the removed status `old` to `new` under `version`, each
        with its history row (reason `pipeline_remap`, actor `system`); how many moved.

        The outcome is the same on both sides (the domain saw to it), so the lead's closing stays
        as it was; a `closed_from` naming a removed status takes its remap target (or none)."""
        moved: int = await self.conn.fetchval(
            _REMAP, name, old, new, version, at, closed_from, api_key
        )
        return moved
