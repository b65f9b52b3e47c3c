"""How far the events log has been published to each JetStream stream (migration 0019)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Table, Text, text

from app.events.tables import TransactionId
from app.platform.tables import metadata

publishing_cursors = Table(
    "publishing_cursors",
    metadata,
    Column("stream", Text, primary_key=True),
    Column("cursor_tx", TransactionId(), nullable=False),
    Column("cursor_id", BigInteger, nullable=False, server_default=text("0")),
    Column("published_at", DateTime(timezone=True)),
)
"""The log's position `(cursor_tx, cursor_id)` up to which the stream acknowledged every event;
`published_at` when it last moved."""
