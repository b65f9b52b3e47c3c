"""API keys: who may call the API, with which scopes (only each key's hash is stored)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from app.access.domain import KeyScope
from app.platform.sql import sql_list
from app.platform.tables import metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("key_hash", LargeBinary, nullable=False, unique=True),
    Column("hint", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_used_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    CheckConstraint(f"scopes <@ ARRAY[{sql_list(KeyScope)}]::text[]", name="scopes_known"),
    CheckConstraint("cardinality(scopes) > 0", name="scopes_given"),
    CheckConstraint("octet_length(key_hash) = 32", name="hash_is_sha256"),
)

idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("api_key", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("headers", JSONB, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_idempotency_records_created_at", "created_at"),
)
"""The answer each Idempotency-Key got, per API key, for a retry to get again (see
`app.idempotency.http`)."""
