"""The metrics rollups and their queues of pending deltas (migrations 0013, 0016)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    text,
)
from sqlalchemy.types import UserDefinedType

from app.metrics.domain import GRAINS
from app.platform.tables import metadata


def _counts(*names: str) -> list[Column[int]]:
    return [Column(name, Integer, nullable=False, server_default=text("0")) for name in names]


def _amounts(*names: str) -> list[Column[Any]]:
    return [Column(name, Numeric, nullable=False, server_default=text("0")) for name in names]


def _daily(
    name: str,
    *columns: Column[Any],
    counts: tuple[str, ...] = ("n",),
    amounts: tuple[str, ...] = (),
) -> Table:
    """A per-day rollup: its key is the grain, the day, the pipeline, the three dimensions (NULL
    where the grain leaves them out) and `columns`; its unique index is also the covering index
    the metrics read, and treats a missing owner, source or segment as a value."""
    known = ", ".join(f"'{g}'" for g in GRAINS)
    return Table(
        name,
        metadata,
        Column("grain", Text, nullable=False),
        Column("day", Date, nullable=False),
        Column("pipeline", Text, nullable=False),
        Column("owner", Text),
        Column("source", Text),
        Column("segment", Text),
        *columns,
        *_counts(*counts),
        *_amounts(*amounts),
        CheckConstraint(f"grain IN ({known})", name="grain_known"),
        Index(
            f"uq_{name}_key",
            "grain",
            "day",
            "pipeline",
            "owner",
            "source",
            "segment",
            *(c.name for c in columns),
            unique=True,
            postgresql_include=[*counts, *amounts],
            postgresql_nulls_not_distinct=True,
        ),
    )


# The rollups are written by triggers and the fold only (migrations 0013, 0016).
metrics_cohorts = _daily("metrics_cohorts", Column("stages", Integer, nullable=False))
"""Leads created that day, by the set of funnel stages they have held: bit i - 1 of `stages`
is open stage i of the pipeline version a change was decided under, `WON_STAGE_BIT` the won
stage. The funnel's counts are read from it (`app.metrics.repository.stage_counts`)."""
metrics_closings = _daily("metrics_closings", Column("outcome", Text, nullable=False))
"""Latest closings that day, by outcome."""
metrics_revenue = _daily(
    "metrics_revenue",
    Column("outcome", Text, nullable=False),
    Column("currency", Text),
    counts=("n", "valued"),
    amounts=("amount",),
)
"""Latest closings won, lost or without decision that day, by the deal's currency: how many
(`n`), how many had a value (`valued`) and the sum of those values (`amount`), as the closings
recorded them (migration 0024). Apart from `metrics_closings`, so the reads that count
closings never sum a row per currency."""
metrics_reopenings = _daily("metrics_reopenings", counts=("n", "won"))
"""Reopenings that day (`n`), and how many of them are the latest of a lead now won."""

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
    "currency",
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
    Column("currency", Text),
    *_counts("n", "valued"),
    *_amounts("amount"),
    Index(
        "uq_metrics_losses_key",
        *_LOSS_KEY,
        unique=True,
        postgresql_include=["n", "valued", "amount"],
        postgresql_nulls_not_distinct=True,
    ),
)
"""Every loss and no-decision: `status` is the outcome, `from_status` the status key left; its
money as in `metrics_closings`."""

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

metrics_open_money = Table(
    "metrics_open_money",
    metadata,
    Column("pipeline", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("owner", Text),
    Column("source", Text),
    Column("segment", Text),
    Column("currency", Text),
    Column("close_month", Date),
    *_counts("n", "valued"),
    *_amounts("amount", "own_amount", "own_weighted"),
    Index(
        "uq_metrics_open_money_key",
        "pipeline",
        "status",
        "owner",
        "source",
        "segment",
        "currency",
        "close_month",
        unique=True,
        postgresql_include=["n", "valued", "amount", "own_amount", "own_weighted"],
        postgresql_nulls_not_distinct=True,
    ),
)
"""Where the open deals stand now with their money (migration 0025): per currency and month of
expected close, the values (`amount`, and how many had one: `valued`) and, of the deals with
their own probability, the values (`own_amount`) and value x probability (`own_weighted`)."""


class _RowsOf(UserDefinedType[Any]):
    """An array of a rollup's row type: the deltas one trigger call adds to that rollup."""

    cache_ok = True

    def __init__(self, rollup: str) -> None:
        self.rollup = rollup

    def get_col_spec(self, **kw: Any) -> str:
        return f"{self.rollup}[]"


QUEUED: tuple[Table, ...] = (metrics_cohorts, metrics_pipeline, metrics_open_money)
metrics_pending = Table(
    "metrics_pending",
    metadata,
    *(
        Column(rollup.name.removeprefix("metrics_"), _RowsOf(rollup.name), nullable=False)
        for rollup in QUEUED
    ),
)
"""Deltas an edit or delete of a lead appended (its cohort, its standing), not yet folded in."""

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
    Column("estimated_value", Numeric),
    Column("currency", Text),
    Column("probability", Double),
    Column("expected_close_date", Date),
)
"""New leads not yet folded in, as they were created."""
