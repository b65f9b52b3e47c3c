"""The tables, declared once with SQLModel: the source alembic's migrations are checked against.

The service never calls `create_all`; the schema comes from `alembic upgrade head`, and a test
fails when these declarations and the migrations drift apart. Constraints mirror the workflow
tables in `app.domain.status`, so a bug or a manual SQL session cannot store an unknown status.
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
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.repositories.sql import ALL_STATUSES_SQL, OPEN_STATUSES_SQL

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def _tz(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, **kw))


class LeadRow(SQLModel, table=True):
    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(f"status IN ({ALL_STATUSES_SQL})", name="status_known"),
        CheckConstraint(
            f"closed_from IS NULL OR closed_from IN ({OPEN_STATUSES_SQL})", name="closed_from_open"
        ),
        CheckConstraint(
            "estimated_value IS NULL OR estimated_value >= 0", name="value_not_negative"
        ),
        CheckConstraint("version >= 1 AND reopen_count >= 0", name="counters_valid"),
        # One open lead per email: closed leads do not block a new one.
        Index(
            "uq_leads_open_email",
            text("lower(email)"),
            unique=True,
            postgresql_where=text(f"status IN ({OPEN_STATUSES_SQL})"),
        ),
        Index("ix_leads_status_id", "status", "id"),
        Index("ix_leads_owner_id", "owner", "id"),
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
    estimated_value: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    currency: str | None = Field(default=None, sa_column=Column(Text))
    external_id: str | None = Field(default=None, sa_column=Column(Text))
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    status: str = Field(sa_column=Column(Text, nullable=False, server_default=text("'new'")))
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    closed_from: str | None = Field(default=None, sa_column=Column(Text))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    reopen_count: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("0")))
    revisit_at: datetime | None = _tz()
    closed_at: datetime | None = _tz()
    created_at: datetime | None = _tz(nullable=False, server_default=func.now())
    updated_at: datetime | None = _tz(nullable=False, server_default=func.now())


class StatusChangeRow(SQLModel, table=True):
    __tablename__ = "lead_status_changes"
    __table_args__ = (
        CheckConstraint(f"to_status IN ({ALL_STATUSES_SQL})", name="to_status_known"),
        CheckConstraint(f"from_status IN ({ALL_STATUSES_SQL})", name="from_status_known"),
        CheckConstraint("length(reason) > 0", name="reason_not_empty"),
        Index("ix_lead_status_changes_lead_id_id", "lead_id", "id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, Identity(always=False), primary_key=True),
    )
    lead_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("leads.id", ondelete="RESTRICT"), nullable=False)
    )
    from_status: str = Field(sa_column=Column(Text, nullable=False))
    to_status: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
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
    at: datetime | None = _tz(nullable=False, server_default=func.now())
