"""The events log (a transactional outbox): triggers of migration 0017 append to it in the
transaction of every change, so the declaration here exists for alembic and the schema test."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Integer, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import UserDefinedType

from app.platform.tables import metadata


class LeadRow(UserDefinedType[Any]):
    """The `leads` table's row type: an event keeps the lead as the row it was (0021)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "leads"


class TransactionId(UserDefinedType[int]):
    """PostgreSQL's `xid8`: the id of the transaction that wrote the row."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


events = Table(
    "events",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("tx", TransactionId(), nullable=False, server_default=func.pg_current_xact_id()),
    Column("type", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lead_id", BigInteger),
    Column("sequence", Integer),
    Column("pipeline", Text),
    Column("change_id", BigInteger),
    Column("lead", LeadRow()),
    Column("details", JSONB),
    Index("ix_events_position", "tx", "id"),
    Index(
        "ix_events_lead_position",
        "lead_id",
        "tx",
        "id",
        postgresql_where="lead_id IS NOT NULL",
    ),
    Index("ix_events_occurred_at", "occurred_at", postgresql_using="brin"),
)

events_marks = Table(
    "events_marks",
    metadata,
    Column("name", Text, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)
"""How far a job that announces has come (`revisit_due`: the latest `revisit_at` announced)."""
