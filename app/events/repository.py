"""All SQL about the events log. Writing is the triggers' (migration 0017); this reads and prunes.

A page is read in the log's order, `(tx, id)`, and only as far as every transaction older than
the oldest one still running: a change that committed late can never land behind a position a
reader already passed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from app.events.domain import EventFilter

_COLUMNS = (
    "e.id, e.type, e.occurred_at, e.lead_id, e.sequence, e.pipeline,"
    " events_lead(e.lead)::text AS lead,"
    " e.details::text AS details, c.id AS change_id, c.from_status, c.to_status,"
    " c.from_outcome, c.to_outcome, c.reason, c.reopened, c.note, c.competitor, c.revisit_at,"
    " c.future_opportunity, c.actor, c.api_key, c.owner, c.source, c.segment,"
    " c.estimated_value::text AS change_estimated_value, c.currency AS change_currency,"
    " c.probability AS change_probability, c.expected_close_date AS change_close_date, c.at,"
    " c.pipeline_version AS change_pipeline_version"
)
_FROM = "FROM events e LEFT JOIN lead_status_changes c ON c.id = e.change_id"
"""An event with the history row of its change, if it has one."""
_SETTLED = "e.tx < pg_snapshot_xmin(pg_current_snapshot())"
"""Rows whose transaction, and every one before it, has ended: nothing can appear before them."""


_ANNOUNCE_REVISITS = """
WITH mark AS (
    SELECT at FROM events_marks WHERE name = 'revisit_due' FOR UPDATE SKIP LOCKED
), due AS (
    SELECT l.id, l.version, l.pipeline, l.revisit_at, l AS lead
      FROM mark, leads l
     WHERE l.revisit_at > mark.at AND l.revisit_at <= $1
       AND l.revisit_at IS NOT NULL AND l.outcome <> 'open'
), announced AS (
    INSERT INTO events (type, lead_id, sequence, pipeline, lead, details)
    SELECT 'lead.revisit_due', id, version, pipeline, lead,
           jsonb_build_object('revisit_at', revisit_at)
      FROM due ORDER BY revisit_at, id
    RETURNING 1
), moved AS (
    UPDATE events_marks SET at = $1 WHERE name = 'revisit_due' AND EXISTS (SELECT 1 FROM mark)
)
SELECT count(*) FROM announced
"""
"""Announce the closed leads whose revisit time has come since the mark, and move the mark;
a process that finds the mark taken leaves the round to the one holding it."""


_START_STALE_MARK = """
INSERT INTO events_marks (name, at) VALUES ('lead_stale', $1) ON CONFLICT (name) DO NOTHING
"""
"""The first round starts from now: deals stale before the service announced any are found
with `GET /v1/leads?stale=true`, not flooded as events."""

_ANNOUNCE_STALE = """
WITH mark AS (
    SELECT at FROM events_marks WHERE name = 'lead_stale' FOR UPDATE SKIP LOCKED
), due AS (
    -- Per status, one range of ix_leads_open_since: the leads whose staleness came between the
    -- mark and now, and no other open lead.
    SELECT (x.lead).id, (x.lead).version, (x.lead).pipeline, (x.lead).status,
           (x.lead).status_since, s.stale_after_days,
           (x.lead).status_since + make_interval(days => s.stale_after_days) AS stale_at, x.lead
      FROM mark
      CROSS JOIN pipelines p
      JOIN pipeline_statuses s ON s.pipeline = p.name AND s.version = p.current_version
      JOIN LATERAL (
            SELECT l AS lead FROM leads l
             WHERE l.pipeline = s.pipeline AND l.status = s.key AND l.outcome = 'open'
               AND l.status_since > mark.at - make_interval(days => s.stale_after_days)
               AND l.status_since <= $1::timestamptz - make_interval(days => s.stale_after_days)
           ) x ON true
     WHERE s.outcome = 'open' AND s.stale_after_days IS NOT NULL
), announced AS (
    INSERT INTO events (type, lead_id, sequence, pipeline, lead, details)
    SELECT 'lead.stale', id, version, pipeline, lead,
           jsonb_build_object('status', status, 'status_since', status_since,
                              'stale_after_days', stale_after_days, 'stale_at', stale_at)
      FROM due ORDER BY stale_at, id
    RETURNING 1
), moved AS (
    UPDATE events_marks SET at = $1 WHERE name = 'lead_stale' AND EXISTS (SELECT 1 FROM mark)
)
SELECT count(*) FROM announced
"""
"""Announce the open leads whose staleness came since the mark (the moment their stay passed
their status's `stale_after_days` in the current version), and move the mark."""


class EventRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def is_kept(self, number: int) -> bool:
        found: bool = await self.conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)", number
        )
        return found

    async def page(
        self, *, after: int | None, where: EventFilter, limit: int
    ) -> list[asyncpg.Record]:
        """Up to `limit` settled events after event `after` (from the start when None)."""
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        clauses = [_SETTLED]
        if after is not None:
            clauses.append(
                f"(e.tx, e.id) > (SELECT a.tx, a.id FROM events a WHERE a.id = {arg(after)})"
            )
        if where.types:
            clauses.append(f"e.type = ANY({arg([str(t) for t in where.types])}::text[])")
        if where.lead_id is not None:
            clauses.append(f"e.lead_id = {arg(where.lead_id)}")
        if where.pipeline is not None:
            clauses.append(f"e.pipeline = {arg(where.pipeline)}")
        rows: list[asyncpg.Record] = await self.conn.fetch(
            f"SELECT {_COLUMNS} {_FROM} WHERE {' AND '.join(clauses)}"
            f" ORDER BY e.tx, e.id LIMIT {arg(limit)}",
            *args,
        )
        return rows

    async def settled_after(self, tx: str, number: int, limit: int) -> list[asyncpg.Record]:
        """Up to `limit` settled events after the log position `(tx, number)`, each with its own
        position (`tx` as text): for a reader that keeps its place itself, which holds even when
        the event it stopped at has been pruned."""
        rows: list[asyncpg.Record] = await self.conn.fetch(
            f"SELECT {_COLUMNS}, e.tx::text AS tx {_FROM} WHERE {_SETTLED}"
            " AND (e.tx, e.id) > ($1::text::xid8, $2) ORDER BY e.tx, e.id LIMIT $3",
            tx,
            number,
            limit,
        )
        return rows

    async def by_number(self, numbers: list[int]) -> list[asyncpg.Record]:
        """The rows of these events that are still kept, shaped for `envelope`."""
        rows: list[asyncpg.Record] = await self.conn.fetch(
            f"SELECT {_COLUMNS} {_FROM} WHERE e.id = ANY($1::bigint[])",
            numbers,
        )
        return rows

    async def announce_revisits(self, now: datetime) -> int:
        announced: int = await self.conn.fetchval(_ANNOUNCE_REVISITS, now)
        return announced

    async def announce_stale(self, now: datetime) -> int:
        await self.conn.execute(_START_STALE_MARK, now)
        announced: int = await self.conn.fetchval(_ANNOUNCE_STALE, now)
        return announced

    async def prune(self, before: datetime) -> int:
        status: str = await self.conn.execute("DELETE FROM events WHERE occurred_at < $1", before)
        return int(status.split()[-1])
