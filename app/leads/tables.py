"""The lead and status-change tables, declared once: the source alembic's migrations are
checked against (the service never calls `create_all`; the schema comes from `alembic upgrade
head`). Checks calling functions compiled from each pipeline version's rows (migration 0014)
keep a bug or a manual SQL session from storing a status or a reason that version does not
have; `app.pipelines.tables` declares those rows.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.platform.tables import domain_type, timestamp

LEAD_VERSION = domain_type("lead_version", Integer, "lead_version_positive", "VALUE >= 1")
LEAD_REOPEN_COUNT = domain_type(
    "lead_reopen_count", Integer, "lead_reopen_count_not_negative", "VALUE >= 0"
)
LEAD_VALUE = domain_type("lead_value", Numeric(14, 2), "lead_value_not_negative", "VALUE >= 0")
REASON_CODE = domain_type("reason_code", Text, "reason_code_not_empty", "length(VALUE) > 0")


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
        # A table check, not a domain: see migration 0022.
        CheckConstraint(
            "probability >= 0 AND probability <= 1", name="probability_between_0_and_1"
        ),
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
        # Staleness per status and owner reads the open leads alone (0023).
        Index(
            "ix_leads_open_since",
            "pipeline",
            "status",
            "status_since",
            postgresql_include=["owner", "source", "segment"],
            postgresql_where=text("outcome = 'open'"),
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
    probability: float | None = Field(default=None, sa_column=Column(Double))
    expected_close_date: date | None = Field(default=None, sa_column=Column(Date))
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
    revisit_at: datetime | None = timestamp()
    closed_at: datetime | None = timestamp()
    status_since: datetime | None = timestamp(nullable=False, server_default=func.now())
    """When the lead entered its status (a pipeline edit's remap does not move it): staleness
    is measured from here."""
    created_at: datetime | None = timestamp(nullable=False, server_default=func.now())
    updated_at: datetime | None = timestamp(nullable=False, server_default=func.now())
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
    revisit_at: datetime | None = timestamp()
    future_opportunity: bool | None = Field(default=None, sa_column=Column(Boolean))
    actor: str | None = Field(default=None, sa_column=Column(Text))
    owner: str | None = Field(default=None, sa_column=Column(Text))
    """The lead's owner when the change was made: metrics credit the rep who closed the deal."""
    source: str | None = Field(default=None, sa_column=Column(Text))
    """The lead's source when the change was made (change-based metrics use it)."""
    segment: str | None = Field(default=None, sa_column=Column(Text))
    """The lead's segment when the change was made."""
    estimated_value: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    """The deal's value when the change was made: revenue counts a deal at the value it closed
    with (migration 0024)."""
    currency: str | None = Field(default=None, sa_column=Column(Text))
    probability: float | None = Field(default=None, sa_column=Column(Double))
    """The rep's own probability when the change was made (migration 0025)."""
    expected_close_date: date | None = Field(default=None, sa_column=Column(Date))
    api_key: str | None = Field(default=None, sa_column=Column(Text))
    """The name of the API key the change was made with (`actor` is the person behind it)."""
    at: datetime | None = timestamp(nullable=False, server_default=func.now())
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
