"""All SQL about publishing the events log: each stream's cursor, and who may publish it now.

A round runs in one transaction holding `pg_try_advisory_xact_lock` on its stream, so two
processes never publish one stream at once (which could reorder it), and a crash lets go of it.
Not a row lock (`FOR UPDATE`): that gives the transaction an id while it waits for the stream's
acknowledgements, and every reader of the log stops short of the oldest transaction still running
(`pg_snapshot_xmin`), so the webhooks and `GET /v1/events` would wait on NATS too. Until the
cursor moves, the round's transaction reads only and holds back nobody.
"""

from __future__ import annotations

import asyncpg

START = ("0", 0)
"""The position before every event: a cursor set here publishes the whole log kept."""


class CursorRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def take(self, stream: str) -> bool:
        """Whether this transaction now publishes `stream` (False: another one does)."""
        taken: bool = await self.conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('leadstatus publishing ' || $1, 0))",
            stream,
        )
        return taken

    async def position(self, stream: str) -> tuple[str, int] | None:
        """Where the stream's cursor stands `(tx, id)`; None when the stream has none yet."""
        row = await self.conn.fetchrow(
            "SELECT cursor_tx::text AS tx, cursor_id FROM publishing_cursors WHERE stream = $1",
            stream,
        )
        return None if row is None else (row["tx"], row["cursor_id"])

    async def start(self, stream: str) -> None:
        """A cursor at the log's settled end, unless the stream has one: it publishes what
        comes next (what was running as it started included)."""
        await self.conn.execute(
            "INSERT INTO publishing_cursors (stream, cursor_tx)"
            " VALUES ($1, pg_snapshot_xmin(pg_current_snapshot())) ON CONFLICT (stream) DO NOTHING",
            stream,
        )

    async def advance(self, stream: str, tx: str, number: int) -> None:
        await self.conn.execute(
            "UPDATE publishing_cursors SET cursor_tx = $2::text::xid8, cursor_id = $3,"
            " published_at = now() WHERE stream = $1",
            stream,
            tx,
            number,
        )

    async def rewind(self, stream: str) -> None:
        """Back to the log's start: the stream gets every event the log keeps again."""
        await self.conn.execute(
            "INSERT INTO publishing_cursors (stream, cursor_tx, cursor_id)"
            " VALUES ($1, $2::text::xid8, $3) ON CONFLICT (stream)"
            " DO UPDATE SET cursor_tx = EXCLUDED.cursor_tx, cursor_id = EXCLUDED.cursor_id",
            stream,
            *START,
        )
