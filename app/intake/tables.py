"""The intake tables: configured marketing-tool sources, their deliveries, and lead touches.

Declared on the same metadata as the lead tables (and imported by `tables`), so the test that
compares the migrations with the declarations covers them too.
"""

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
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.intake.domain import IntakeOutcome, SourceKind
from app.intake.payloads import MAX_PAYLOAD_BYTES
from app.platform.sql import sql_list
from app.platform.tables import metadata

intake_sources = Table(
    "intake_sources",
    metadata,
    Column("name", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    # HMAC schemes need the secret itself: sealed (encrypted) for standard and hubspot;
    # shared-secret schemes only compare, so marketo and mailchimp keep a SHA-256 hash.
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    Column("previous_secret_until", DateTime(timezone=True)),
    Column("lead_source", Text, nullable=False),
    Column("default_owner", Text),
    Column("default_segment", Text),
    Column("reopen_returning", Boolean, nullable=False, server_default=text("false")),
    Column("field_map", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("rotated_at", DateTime(timezone=True)),
    Column(
        "pipeline",
        Text,
        ForeignKey("pipelines.name"),
        nullable=False,
        server_default="default",
    ),
    CheckConstraint(f"kind IN ({sql_list(SourceKind)})", name="kind_known"),
    CheckConstraint("name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", name="name_slug"),
)

intake_deliveries = Table(
    "intake_deliveries",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column(
        "source",
        Text,
        ForeignKey("intake_sources.name", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("content_type", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="SET NULL")),
    Column("external_id", Text),
    Column("status_code", SmallInteger, nullable=False),
    # The exact bytes answered, so a redelivery gets the very same body back.
    Column("answer", LargeBinary, nullable=False),
    CheckConstraint(f"outcome IN ({sql_list(IntakeOutcome)})", name="outcome_known"),
    CheckConstraint(f"octet_length(body) <= {MAX_PAYLOAD_BYTES}", name="body_bounded"),
    UniqueConstraint("source", "event_id"),
    Index("ix_intake_deliveries_source_received_at", "source", "received_at"),
    Index(
        "ix_intake_deliveries_awaiting",
        "source",
        "external_id",
        postgresql_where=text("outcome = 'awaiting_email'"),
    ),
)
"""Every accepted delivery (one row per event of a batched delivery): the exactly-once record,
the answer a redelivery gets back, and the raw payload a replay reads."""

lead_touches = Table(
    "lead_touches",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
    Column("source", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivery_id", BigInteger, ForeignKey("intake_deliveries.id", ondelete="SET NULL")),
    Index("ix_lead_touches_lead_id_id", "lead_id", "id"),
)
"""Each time a marketing tool brought a person who already had a lead."""
