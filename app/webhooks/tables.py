"""Webhook endpoints, their deliveries and each attempt (migration 0018)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.events.tables import TransactionId
from app.platform.tables import metadata


def _time(name: str, **kw: object) -> Column[object]:
    return Column(name, DateTime(timezone=True), **kw)  # type: ignore[arg-type]


webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("url", Text, nullable=False),
    Column("event_types", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("pipeline", Text),
    Column("description", Text),
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    _time("previous_secret_until"),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("disabled_reason", Text),
    _time("disabled_at"),
    _time("failing_since"),
    Column("cursor_tx", TransactionId(), nullable=False),
    Column("cursor_id", BigInteger, nullable=False, server_default=text("0")),
    _time("created_at", nullable=False, server_default=func.now()),
    _time("updated_at", nullable=False, server_default=func.now()),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "endpoint_id",
        BigInteger,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", BigInteger, nullable=False),
    Column("state", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    _time("next_attempt_at", nullable=False, server_default=func.now()),
    _time("created_at", nullable=False, server_default=func.now()),
    _time("delivered_at"),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("last_duration_ms", Integer),
    CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state_known"),
    Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="state = 'pending'"),
    Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    Index("ix_webhook_deliveries_endpoint_id_event_id", "endpoint_id", "event_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "delivery_id",
        BigInteger,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    _time("at", nullable=False, server_default=func.now()),
    Column("status", Integer),
    Column("duration_ms", Integer, nullable=False),
    Column("error", Text),
    Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),
)

webhook_listeners = Table(
    "webhook_listeners",
    metadata,
    Column("pid", Integer, primary_key=True),
    _time("since", nullable=False),
    Column("publishing", Boolean, nullable=False, server_default=text("false")),
    prefixes=["UNLOGGED"],
)
"""Delivery processes and publishers waiting for a notification (their backend's pid): writers
notify only while one waits for work it has (a publisher always has: migration 0019)."""
