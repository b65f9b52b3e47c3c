"""Pipelines and their versions: each version's definition, statuses and (target, reason) pairs.

Versions are immutable (triggers refuse UPDATE, DELETE and TRUNCATE of their rows); triggers on
leads and history rows look each written row up in them, so the database refuses a status or a
reason that is not in the version a change was decided under (migration 0012).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKeyConstraint,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from app.pipelines.workflow import ForecastCategory, Outcome
from app.platform.sql import sql_list
from app.platform.tables import metadata

pipelines = Table(
    "pipelines",
    metadata,
    Column("name", Text, primary_key=True),
    Column("current_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("name ~ '^[a-z][a-z0-9_]{0,62}$'", name="name_key"),
    ForeignKeyConstraint(
        ["name", "current_version"],
        ["pipeline_versions.pipeline", "pipeline_versions.version"],
        deferrable=True,
        initially="DEFERRED",
        use_alter=True,
    ),
)

pipeline_versions = Table(
    "pipeline_versions",
    metadata,
    Column("pipeline", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The name of the API key (or `cli`) that made the version.
    Column("created_by", Text),
    Column("changes", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("remap", JSONB, nullable=False, server_default=text("'{}'")),
    PrimaryKeyConstraint("pipeline", "version"),
    ForeignKeyConstraint(["pipeline"], ["pipelines.name"]),
    CheckConstraint("version >= 1", name="version_positive"),
)

pipeline_statuses = Table(
    "pipeline_statuses",
    metadata,
    Column("pipeline", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("archived", Boolean, nullable=False, server_default=text("false")),
    # The funnel stage of an open status: its rank among the version's open statuses.
    Column("stage", SmallInteger),
    # The status's properties for forecasts and hygiene, as the definition gives them (0023).
    Column("probability", Double),
    Column("stale_after_days", Integer),
    Column("forecast_category", Text),
    Column("auto_close_after_days", Integer),
    PrimaryKeyConstraint("pipeline", "version", "key"),
    UniqueConstraint("pipeline", "version", "key", "outcome"),
    ForeignKeyConstraint(
        ["pipeline", "version"], ["pipeline_versions.pipeline", "pipeline_versions.version"]
    ),
    CheckConstraint(f"outcome IN ({sql_list(Outcome)})", name="outcome_known"),
    CheckConstraint(
        f"forecast_category IN ({sql_list(ForecastCategory)})", name="forecast_category_known"
    ),
)

pipeline_reasons = Table(
    "pipeline_reasons",
    metadata,
    Column("pipeline", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("to_status", Text, nullable=False),
    Column("to_outcome", Text, nullable=False),
    Column("reopened", Boolean, nullable=False),
    Column("code", Text, nullable=False),
    PrimaryKeyConstraint("pipeline", "version", "to_status", "to_outcome", "reopened", "code"),
    ForeignKeyConstraint(
        ["pipeline", "version", "to_status", "to_outcome"],
        [
            "pipeline_statuses.pipeline",
            "pipeline_statuses.version",
            "pipeline_statuses.key",
            "pipeline_statuses.outcome",
        ],
    ),
)
