"""Publishing the events log to a JetStream stream, a batch at a time, in the log's order.

A round takes the stream (one process at a time), publishes the next settled events after its
cursor, waits for the stream to acknowledge them all, and only then moves the cursor past them.
A crash or a failure before that leaves the cursor where it was: the next round, in any process,
publishes the batch again and JetStream drops what it already has (same `Nats-Msg-Id`). So every
event reaches the stream at least once, and, within the duplicate window, exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import asyncpg

from app.events.envelope import envelope
from app.events.repository import EventRepository
from app.platform.wire import to_json
from app.publishing.domain import Message, message
from app.publishing.repository import CursorRepository

BATCH = 500


class Stream(Protocol):
    """Where a round publishes: `jetstream.JetStream`, the one module that speaks NATS."""

    name: str
    prefix: str

    async def publish(self, messages: Sequence[Message]) -> int: ...


def as_message(prefix: str, row: asyncpg.Record) -> Message:
    """An event of the log as the stream gets it: the same JSON as `GET /v1/events` and the
    webhooks."""
    return message(prefix, row["id"], row["pipeline"], row["type"], to_json(envelope(row)))


async def publish_round(pool: asyncpg.Pool, stream: Stream) -> int:
    """Publish the stream's next batch; how many events (0: none new, or another process is
    publishing the stream right now). A stream without a cursor gets one at the log's end."""
    async with pool.acquire() as conn, conn.transaction():
        cursors = CursorRepository(conn)
        if not await cursors.take(stream.name):
            return 0
        position = await cursors.position(stream.name)
        if position is None:
            await cursors.start(stream.name)
            return 0
        rows = await EventRepository(conn).settled_after(*position, BATCH)
        if not rows:
            return 0
        await stream.publish([as_message(stream.prefix, row) for row in rows])
        await cursors.advance(stream.name, rows[-1]["tx"], rows[-1]["id"])
    return len(rows)


async def start_publishing(pool: asyncpg.Pool, stream_name: str, *, from_start: bool) -> None:
    """Give the stream its cursor now: at the log's end, or with `from_start` at its start
    (moved back there if it stood further on)."""
    async with pool.acquire() as conn:
        cursors = CursorRepository(conn)
        await (cursors.rewind(stream_name) if from_start else cursors.start(stream_name))
