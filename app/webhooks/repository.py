"""All SQL about webhook endpoints and their deliveries.

Several processes may deliver at once: queuing an endpoint's events and claiming due deliveries
both take their rows `FOR UPDATE SKIP LOCKED`, so two processes never take the same work, and a
claim moves `next_attempt_at` past the attempt's time limit (a lease), so an attempt cut short by
a crash is simply due again later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from app.webhooks.domain import DeliveryState

ENDPOINT_COLUMNS = (
    "id, url, event_types, pipeline, description, enabled, disabled_reason, disabled_at,"
    " failing_since, previous_secret_until, created_at, updated_at"
)
"""What the API shows of an endpoint: never a secret."""
EDITABLE = ("url", "event_types", "pipeline", "description")

_QUEUE = """
WITH ep AS (
    SELECT id, cursor_tx, cursor_id, event_types, pipeline, url, secret, previous_secret,
           previous_secret_until
      FROM webhook_endpoints WHERE id = $1 AND enabled FOR UPDATE SKIP LOCKED
), batch AS (
    -- LATERAL hands the cursor to the index scan as a bound: a join would read the log from
    -- its start and filter (the whole 30 days, at every round).
    SELECT e.id, e.tx, e.type, e.pipeline FROM ep CROSS JOIN LATERAL (
        SELECT e.id, e.tx, e.type, e.pipeline FROM events e
         WHERE (e.tx, e.id) > (ep.cursor_tx, ep.cursor_id)
           AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY e.tx, e.id LIMIT $2
    ) e
), queued AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_id, attempts, next_attempt_at)
    SELECT ep.id, b.id, 1, now() + make_interval(secs => $3) FROM ep, batch b
     WHERE (cardinality(ep.event_types) = 0 OR b.type = ANY(ep.event_types))
       AND (ep.pipeline IS NULL OR b.pipeline = ep.pipeline)
     ORDER BY b.tx, b.id
    RETURNING id, event_id, attempts, endpoint_id
), last AS (
    SELECT tx, id FROM batch ORDER BY tx DESC, id DESC LIMIT 1
), moved AS (
    UPDATE webhook_endpoints w SET cursor_tx = last.tx, cursor_id = last.id
      FROM last, ep WHERE w.id = ep.id
    RETURNING 1
), counts AS (
    SELECT (SELECT count(*) FROM batch) AS scanned, (SELECT count(*) FROM moved) AS moved
)
SELECT counts.scanned, counts.moved, q.id, q.event_id, q.attempts, q.endpoint_id, ep.url,
       ep.secret, ep.previous_secret, ep.previous_secret_until
  FROM counts LEFT JOIN (queued q JOIN ep ON ep.id = q.endpoint_id) ON true
"""
"""Queue one endpoint's share of the next settled events, claimed by the caller at once (their
first attempt leased as `_CLAIM` leases), and move its cursor past them all."""

_CLAIM = """
WITH due AS (
    SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
     WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND w.enabled
     ORDER BY d.next_attempt_at, d.id LIMIT $1
       FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
   SET next_attempt_at = now() + make_interval(secs => $2), attempts = d.attempts + 1
  FROM due, webhook_endpoints w
 WHERE d.id = due.id AND w.id = d.endpoint_id
RETURNING d.id, d.event_id, d.attempts, d.endpoint_id, w.url, w.secret, w.previous_secret,
          w.previous_secret_until
"""


_RECORD = """
WITH r AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::text[],
                         $6::timestamptz[], $7::int[])
                  AS r(id, status, duration_ms, error, state, next_at, attempt)
), tried AS (
    INSERT INTO webhook_attempts (delivery_id, status, duration_ms, error)
    SELECT id, status, duration_ms, error FROM r ORDER BY id
)
UPDATE webhook_deliveries d
   SET state = r.state, last_status = r.status, last_duration_ms = r.duration_ms,
       last_error = r.error, next_attempt_at = coalesce(r.next_at, d.next_attempt_at),
       delivered_at = CASE WHEN r.state = 'delivered' THEN now() END
  FROM r WHERE d.id = r.id AND d.attempts = r.attempt AND d.state = 'pending'
"""
"""Every attempt is written down; the delivery takes its outcome only while the claim is still
the one the attempt was made under (a claim that outlived its lease was taken over, and the
newer attempt's outcome stands)."""

_RELEASE = """
UPDATE webhook_deliveries d SET attempts = d.attempts - 1, next_attempt_at = r.due
  FROM unnest($1::bigint[], $2::int[], $3::timestamptz[]) AS r(id, attempt, due)
 WHERE d.id = r.id AND d.attempts = r.attempt AND d.state = 'pending'
"""
"""Give back claimed deliveries that were not attempted: not an attempt, due at `due`."""


@dataclass(frozen=True)
class Attempted:
    """One attempt's answer and what it leaves the delivery at."""

    delivery_id: int
    attempt: int
    """Which attempt of the delivery this was (its claim's count)."""
    status: int | None
    duration_ms: int
    error: str | None
    state: DeliveryState
    next_attempt_at: datetime | None


class EndpointRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def create(self, fields: Mapping[str, Any], sealed_secret: str) -> asyncpg.Record:
        """A new endpoint whose cursor is the log's settled end: it receives what comes next."""
        row: asyncpg.Record = await self.conn.fetchrow(
            "INSERT INTO webhook_endpoints (url, event_types, pipeline, description, secret,"
            " cursor_tx) VALUES ($1, $2, $3, $4, $5, pg_snapshot_xmin(pg_current_snapshot()))"
            f" RETURNING {ENDPOINT_COLUMNS}",
            fields["url"],
            list(fields.get("event_types") or ()),
            fields.get("pipeline"),
            fields.get("description"),
            sealed_secret,
        )
        return row

    async def all(self) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.conn.fetch(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id"
        )
        return rows

    async def get(self, endpoint_id: int) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self.conn.fetchrow(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1", endpoint_id
        )
        return row

    async def edit(self, endpoint_id: int, changes: Mapping[str, Any]) -> asyncpg.Record | None:
        names = [n for n in EDITABLE if n in changes]
        sets = [f"{n} = ${i}" for i, n in enumerate(names, start=2)]
        values = [list(changes[n] or ()) if n == "event_types" else changes[n] for n in names]
        row: asyncpg.Record | None = await self.conn.fetchrow(
            f"UPDATE webhook_endpoints SET {', '.join([*sets, 'updated_at = now()'])}"
            f" WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}",
            endpoint_id,
            *values,
        )
        return row

    async def enable(self, endpoint_id: int) -> None:
        """Back on: what waited is due now, and the cursor resumes where it stopped."""
        await self.conn.execute(
            "UPDATE webhook_endpoints SET enabled = true, disabled_reason = NULL,"
            " disabled_at = NULL, failing_since = NULL, updated_at = now()"
            " WHERE id = $1 AND NOT enabled",
            endpoint_id,
        )
        await self.conn.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = now()"
            " WHERE endpoint_id = $1 AND state = 'pending'",
            endpoint_id,
        )

    async def disable(self, endpoint_id: int, reason: str) -> None:
        await self.conn.execute(
            "UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2,"
            " disabled_at = now(), updated_at = now() WHERE id = $1 AND enabled",
            endpoint_id,
            reason,
        )

    async def delete(self, endpoint_id: int) -> bool:
        status: str = await self.conn.execute(
            "DELETE FROM webhook_endpoints WHERE id = $1", endpoint_id
        )
        return status == "DELETE 1"

    async def rotate(
        self, endpoint_id: int, sealed_secret: str, overlap: timedelta
    ) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self.conn.fetchrow(
            "UPDATE webhook_endpoints SET previous_secret = secret,"
            " previous_secret_until = now() + $3, secret = $2, updated_at = now()"
            f" WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}",
            endpoint_id,
            sealed_secret,
            overlap,
        )
        return row

    async def enabled_ids(self) -> list[int]:
        rows = await self.conn.fetch("SELECT id FROM webhook_endpoints WHERE enabled ORDER BY id")
        return [r["id"] for r in rows]


class DeliveryRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def queue(
        self, endpoint_id: int, limit: int, lease: timedelta
    ) -> tuple[int, list[asyncpg.Record]]:
        """Queue the endpoint's share of up to `limit` next events, claimed for `lease`: how many
        events it passed (0: nothing new, or another process holds the endpoint right now), and
        the new deliveries, shaped as `claim` returns them."""
        rows = await self.conn.fetch(_QUEUE, endpoint_id, limit, lease.total_seconds())
        scanned: int = rows[0]["scanned"] if rows[0]["moved"] else 0
        return scanned, [row for row in rows if row["id"] is not None]

    async def claim(self, limit: int, lease: timedelta) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.conn.fetch(_CLAIM, limit, lease.total_seconds())
        return rows

    async def record(self, attempts: Sequence[Attempted]) -> None:
        """Write down a round's attempts, each with the delivery's state after it."""
        await self.conn.execute(
            _RECORD,
            [a.delivery_id for a in attempts],
            [a.status for a in attempts],
            [a.duration_ms for a in attempts],
            [a.error for a in attempts],
            [str(a.state) for a in attempts],
            [a.next_attempt_at for a in attempts],
            [a.attempt for a in attempts],
        )

    async def release(self, claims: Sequence[tuple[asyncpg.Record, datetime]]) -> None:
        """Give back claimed deliveries that were not attempted, each due again at its time."""
        if claims:
            await self.conn.execute(
                _RELEASE,
                [claim["id"] for claim, _ in claims],
                [claim["attempts"] for claim, _ in claims],
                [due for _, due in claims],
            )

    async def endpoint_answered(self, endpoint_id: int) -> None:
        await self.conn.execute(
            "UPDATE webhook_endpoints SET failing_since = NULL"
            " WHERE id = $1 AND failing_since IS NOT NULL",
            endpoint_id,
        )

    async def endpoint_failed(self, endpoint_id: int) -> datetime:
        """Mark the endpoint failing (since its first failure after a success); since when."""
        since: datetime = await self.conn.fetchval(
            "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now())"
            " WHERE id = $1 RETURNING failing_since",
            endpoint_id,
        )
        return since

    async def page(
        self, endpoint_id: int, *, state: DeliveryState | None, before: int | None, limit: int
    ) -> list[asyncpg.Record]:
        """Newest first, each with its attempts (oldest first)."""
        rows: list[asyncpg.Record] = await self.conn.fetch(
            "SELECT d.id, d.event_id, e.type AS event_type, d.state, d.attempts,"
            " d.next_attempt_at, d.created_at, d.delivered_at, d.last_status, d.last_error,"
            " d.last_duration_ms,"
            " ARRAY(SELECT ROW(a.at, a.status, a.duration_ms, a.error)"
            "         FROM webhook_attempts a WHERE a.delivery_id = d.id ORDER BY a.id) AS tries"
            " FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id"
            " WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.state = $2)"
            " AND ($3::bigint IS NULL OR d.id < $3) ORDER BY d.id DESC LIMIT $4",
            endpoint_id,
            str(state) if state else None,
            before,
            limit,
        )
        return rows

    async def prune(self, before: datetime) -> int:
        """Forget settled deliveries (and their attempts) older than `before`; pending ones stay
        whatever their age, so nothing due is lost."""
        status: str = await self.conn.execute(
            "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < $1", before
        )
        return int(status.split()[-1])

    async def recover(self, endpoint_id: int, since: datetime) -> int:
        """Queue again every event since `since` (up to the cursor) that the endpoint takes
        and that is neither delivered nor still pending for it."""
        status: str = await self.conn.execute(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id)"
            " SELECT w.id, e.id FROM webhook_endpoints w, events e"
            " WHERE w.id = $1 AND e.occurred_at >= $2"
            " AND (e.tx, e.id) <= (w.cursor_tx, w.cursor_id)"
            " AND (cardinality(w.event_types) = 0 OR e.type = ANY(w.event_types))"
            " AND (w.pipeline IS NULL OR e.pipeline = w.pipeline)"
            " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id"
            "   AND d.event_id = e.id AND d.state IN ('delivered', 'pending'))"
            " ORDER BY e.tx, e.id",
            endpoint_id,
            since,
        )
        return int(status.split()[-1])

    async def resend(self, endpoint_id: int, event_number: int) -> int | None:
        """A new delivery of one kept event; None when the log no longer keeps it."""
        delivery_id: int | None = await self.conn.fetchval(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id)"
            " SELECT $1, id FROM events WHERE id = $2 RETURNING id",
            endpoint_id,
            event_number,
        )
        return delivery_id


async def waiting(conn: asyncpg.Connection, *, publishing: bool = False) -> None:
    """Say this connection's process waits for a notification (writers then send one, to a
    delivery process while an endpoint is enabled, to a publisher always)."""
    await conn.execute(
        "INSERT INTO webhook_listeners (pid, since, publishing)"
        " VALUES (pg_backend_pid(), now(), $1)"
        " ON CONFLICT (pid) DO UPDATE SET since = now(), publishing = $1",
        publishing,
    )


async def woken(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM webhook_listeners WHERE pid = pg_backend_pid()")
