"""The tables, declared once with SQLModel: the source alembic's migrations are checked against.

The service never calls `create_all`; the schema comes from `alembic upgrade head`, and a test
fails when these declarations and the migrations drift apart. Triggers that look each
row up in its pipeline version's statuses and reasons (`pipeline_tables`, migration 0012) keep a
bug or a manual SQL session from storing a status or a reason that version does not have.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import DOMAIN, JSONB
from sqlalchemy.types import UserDefinedType
from sqlmodel import Field, SQLModel

from app.domain.workflow import CLOSING_OUTCOMES
from app.repositories.metrics import FUNNEL_STAGES

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def _domain(name: str, base: Any, constraint: str, check: str) -> DOMAIN:
    """A domain the migrations create (with its check, by that name): a single-column rule as a
    type, which PostgreSQL keeps compiled per connection, where a table check is re-read from
    its stored text on every write."""
    return DOMAIN(name, base, constraint_name=constraint, check=check, create_type=False)


LEAD_VERSION = _domain("lead_version", Integer, "lead_version_positive", "VALUE >= 1")
LEAD_REOPEN_COUNT = _domain(
    "lead_reopen_count", Integer, "lead_reopen_count_not_negative", "VALUE >= 0"
)
LEAD_VALUE = _domain("lead_value", Numeric(14, 2), "lead_value_not_negative", "VALUE >= 0")
REASON_CODE = _domain("reason_code", Text, "reason_code_not_empty", "length(VALUE) > 0")


def _tz(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, **kw))


class LeadRow(SQLModel, table=True):
    __tablename__ = "leads"
    __table_args__ = (
        # One open lead per email: closed leads do not block a new one.
        Index(
            "uq_leads_open_email",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("outcome = 'open'"),
        ),
        Index("ix_leads_status_id", "status", "id"),
        Index("ix_leads_owner_id", "owner", "id"),
        # The nurture queue: closed leads by revisit date, with what the metrics filter on.
        Index(
            "ix_leads_due",
            "revisit_at",
            postgresql_include=["owner", "source", "segment"],
            postgresql_where=text("revisit_at IS NOT NULL AND outcome <> 'open'"),
        ),
        # Intake finds a person's latest lead, open or closed, by address or by the sender's id.
        Index("ix_leads_email", text("lower(email)"), "id"),
        Index(
            "ix_leads_source_external_id",
            "source",
            "external_id",
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index(
            "ix_leads_revisit_at",
            "revisit_at",
            postgresql_where=text("revisit_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, Identity(always=False), primary_key=True),
    )
    email: str = Field(sa_column=Column(Text, nullable=False))
    first_name: str | None = Field(default=None, sa_column=Column(Text))
    last_name: str | None = Field(default=None, sa_column=Column(Text))
    company: str | None = Field(default=None, sa_column=Column(Text))
    title: str | None = Field(default=None, sa_column=Column(Text))
    phone: str | None = Field(default=None, sa_column=Column(Text))
    source: str | None = Field(default=None, sa_column=Column(Text))
    owner: str | None = Field(default=None, sa_column=Column(Text))
    segment: str | None = Field(default=None, sa_column=Column(Text))
    country: str | None = Field(default=None, sa_column=Column(Text))
    estimated_value: Decimal | None = Field(default=None, sa_column=Column(LEAD_VALUE))
    currency: str | None = Field(default=None, sa_column=Column(Text))
    external_id: str | None = Field(default=None, sa_column=Column(Text))
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    status: str = Field(sa_column=Column(Text, nullable=False, server_default=text("'new'")))
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    closed_from: str | None = Field(default=None, sa_column=Column(Text))
    version: int = Field(sa_column=Column(LEAD_VERSION, nullable=False, server_default=text("1")))
    reopen_count: int = Field(
        sa_column=Column(LEAD_REOPEN_COUNT, nullable=False, server_default=text("0"))
    )
    revisit_at: datetime | None = _tz()
    closed_at: datetime | None = _tz()
    created_at: datetime | None = _tz(nullable=False, server_default=func.now())
    updated_at: datetime | None = _tz(nullable=False, server_default=func.now())
    previous_lead_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("leads.id", ondelete="SET NULL")),
    )
    """The same person's earlier lead, closed for good (won, disqualified, dead) when intake
    brought them back as a new deal."""
    pipeline: str = Field(
        default="default", sa_column=Column(Text, nullable=False, server_default="default")
    )
    pipeline_version: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default=text("1"))
    )
    """The version of its pipeline the lead's latest status change was decided under."""
    outcome: str = Field(
        default="open", sa_column=Column(Text, nullable=False, server_default="open")
    )
    """The outcome of `status` (open, won, lost, ...): what metrics and uniqueness key on."""


class StatusChangeRow(SQLModel, table=True):
    __tablename__ = "lead_status_changes"
    __table_args__ = (Index("ix_lead_status_changes_lead_id_id", "lead_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, Identity(always=False), primary_key=True),
    )
    lead_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("leads.id", ondelete="RESTRICT"), nullable=False)
    )
    from_status: str = Field(sa_column=Column(Text, nullable=False))
    to_status: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(REASON_CODE, nullable=False))
    reopened: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    note: str | None = Field(default=None, sa_column=Column(Text))
    competitor: str | None = Field(default=None, sa_column=Column(Text))
    revisit_at: datetime | None = _tz()
    future_opportunity: bool | None = Field(default=None, sa_column=Column(Boolean))
    actor: str | None = Field(default=None, sa_column=Column(Text))
    owner: str | None = Field(default=None, sa_column=Column(Text))
    """The lead's owner when the change was made: metrics credit the rep who closed the deal."""
    source: str | None = Field(default=None, sa_column=Column(Text))
    """The lead's source when the change was made (change-based metrics use it)."""
    segment: str | None = Field(default=None, sa_column=Column(Text))
    """The lead's segment when the change was made."""
    api_key: str | None = Field(default=None, sa_column=Column(Text))
    """The name of the API key the change was made with (`actor` is the person behind it)."""
    at: datetime | None = _tz(nullable=False, server_default=func.now())
    pipeline: str = Field(
        default="default", sa_column=Column(Text, nullable=False, server_default="default")
    )
    pipeline_version: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default=text("1"))
    )
    """The version the change was decided under."""
    from_version: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default=text("1"))
    )
    """The version the lead stood on before the change (where `from_status` was defined)."""
    from_outcome: str = Field(
        default="open", sa_column=Column(Text, nullable=False, server_default="open")
    )
    to_outcome: str = Field(
        default="open", sa_column=Column(Text, nullable=False, server_default="open")
    )
    """The outcomes of both statuses as they were: what the change counts for, whatever later
    versions call them."""


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


# Declared on `metadata` too; imported last because it builds on the tables above.
from app.repositories import access_tables as access_tables  # noqa: E402
from app.repositories import intake_tables as intake_tables  # noqa: E402
from app.repositories import pipeline_tables as pipeline_tables  # noqa: E402
