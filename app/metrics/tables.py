"""The metrics rollups and their queues of pending deltas (migrations 0004, 0013)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    Table,
    Text,
    text,
)
from sqlalchemy.types import UserDefinedType

from app.metrics.repository import FUNNEL_STAGES
from app.pipelines.workflow import CLOSING_OUTCOMES
from app.platform.tables import metadata


def _counts(*names: str) -> list[Column[int]]:
    return [Column(name, Integer, nullable=False, server_default=text("0")) for name in names]


_COHORT = (
    "created",
    "won_now",
    *(f"reached_{i}" for i in range(2, FUNNEL_STAGES + 1)),
    *(f"went_on_{i}" for i in range(1, FUNNEL_STAGES + 1)),
)
"""A cohort's counts by funnel stage: stage i is the i-th open status (by position) of the
pipeline version each change was decided under; stage 1, where every lead enters, is `created`."""
_ACTIVITY = (*(f"closed_{o.value}" for o in CLOSING_OUTCOMES), "reopened", "reopened_won")
DAILY_COUNTS: tuple[str, ...] = _COHORT + _ACTIVITY
"""Counts of a `metrics_daily` row, kept by migration 0013's triggers and fold."""

# The rollups are written by triggers only (migration 0013); each unique index is also the
# covering index the metrics read, and treats a missing owner, source or segment as a value.
# `metrics_daily`'s key and counts exceed an index's 32 columns: a second index covers the
# funnel's.
metrics_daily = Table(
    "metrics_daily",
    metadata,
    Column("day", Date, nullable=False),
    Column("pipeline", Text, nullable=False),
    Column("owner", Text),
    Column("source", Text),
    Column("segment", Text),
    *_counts(*DAILY_COUNTS),
    Index(
        "uq_metrics_daily_key",
        "day",
        "pipeline",
        "owner",
        "source",
        "segment",
        unique=True,
        postgresql_include=["created", "won_now", *_ACTIVITY],
        postgresql_nulls_not_distinct=True,
    ),
    Index(
        "ix_metrics_daily_stages",
        "day",
        "pipeline",
        "owner",
        "source",
        "segment",
        postgresql_include=list(_COHORT),
    ),
)

metrics_durations = Table(
    "metrics_durations",
    metadata,
    Column("measure", Text, nullable=False),
    Column("dimension", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("pipeline", Text, nullable=False),
    Column("value", Text),
    Column("days", Integer, nullable=False),
    *_counts("n"),
    CheckConstraint("measure IN ('cycle', 'stay')", name="measure_known"),
    CheckConstraint("dimension IN ('all', 'owner', 'source', 'segment')", name="dimension_known"),
    Index(
        "uq_metrics_durations_key",
        "measure",
        "dimension",
        "status",
        "day",
        "pipeline",
        "value",
        "days",
        unique=True,
        postgresql_include=["n"],
        postgresql_nulls_not_distinct=True,
    ),
)
"""Whole-day histograms: stays in each open status (`status` is its key) and cycle times to the
won outcome (`status` is `won`, the outcome)."""

_LOSS_KEY = (
    "overall",
    "day",
    "pipeline",
    "owner",
    "source",
    "segment",
    "status",
    "reason",
    "from_status",
    "competitor",
)
metrics_losses = Table(
    "metrics_losses",
    metadata,
    Column("overall", Boolean, nullable=False),
    Column("day", Date, nullable=False),
    Column("pipeline", Text, nullable=False),
    Column("owner", Text),
    Column("source", Text),
    Column("segment", Text),
    Column("status", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("from_status", Text, nullable=False),
    Column("competitor", Text),
    *_counts("n"),
    Index(
        "uq_metrics_losses_key",
        *_LOSS_KEY,
        unique=True,
        postgresql_include=["n"],
        postgresql_nulls_not_distinct=True,
    ),
)
"""Every loss and no-decision: `status` is the outcome, `from_status` the status key left."""

metrics_pipeline = Table(
    "metrics_pipeline",
    metadata,
    Column("pipeline", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("owner", Text),
    Column("source", Text),
    Column("segment", Text),
    Column("revisit_month", Date),
    *_counts("n"),
    Index(
        "uq_metrics_pipeline_key",
        "pipeline",
        "status",
        "owner",
        "source",
        "segment",
        "revisit_month",
        unique=True,
        postgresql_include=["n"],
        postgresql_nulls_not_distinct=True,
    ),
)


class _RowsOf(UserDefinedType[Any]):
    """An array of a rollup's row type: the deltas one trigger call adds to that rollup."""

    cache_ok = True

    def __init__(self, rollup: str) -> None:
        self.rollup = rollup

    def get_col_spec(self, **kw: Any) -> str:
        return f"{self.rollup}[]"


ROLLUPS: tuple[Table, ...] = (metrics_pipeline, metrics_daily, metrics_durations, metrics_losses)
metrics_pending = Table(
    "metrics_pending",
    metadata,
    *(
        Column(rollup.name.removeprefix("metrics_"), _RowsOf(rollup.name), nullable=False)
        for rollup in ROLLUPS
    ),
)
"""Deltas appended by the edit and delete trigger, not yet folded into the rollups (0013)."""

metrics_pending_changes = Table(
    "metrics_pending_changes", metadata, Column("change_id", BigInteger, nullable=False)
)
"""Status changes whose deltas are not yet folded in (derived from the history when read)."""

metrics_pending_leads = Table(
    "metrics_pending_leads",
    metadata,
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("pipeline", Text, nullable=False),
    Column("owner", Text),
    Column("source", Text),
    Column("segment", Text),
    Column("status", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("revisit_at", DateTime(timezone=True)),
)
"""New leads not yet folded in, as they were created."""
