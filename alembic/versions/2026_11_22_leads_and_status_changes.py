"""Leads and their status changes.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 19:03:37.508785
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("segment", sa.Text(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("estimated_value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'new'"), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("closed_from", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("reopen_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("revisit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "closed_from IS NULL OR closed_from IN ('new', 'contacted', 'qualified', 'negotiating')",
            name=op.f("ck_leads_closed_from_open"),
        ),
        sa.CheckConstraint(
            "status IN ('new', 'contacted', 'qualified', 'negotiating', 'won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead')",
            name=op.f("ck_leads_status_known"),
        ),
        sa.CheckConstraint(
            "estimated_value IS NULL OR estimated_value >= 0",
            name=op.f("ck_leads_value_not_negative"),
        ),
        sa.CheckConstraint(
            "version >= 1 AND reopen_count >= 0", name=op.f("ck_leads_counters_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    op.create_index("ix_leads_owner_id", "leads", ["owner", "id"], unique=False)
    op.create_index(
        "ix_leads_revisit_at",
        "leads",
        ["revisit_at"],
        unique=False,
        postgresql_where=sa.text("revisit_at IS NOT NULL"),
    )
    op.create_index("ix_leads_status_id", "leads", ["status", "id"], unique=False)
    op.create_index(
        "uq_leads_open_email",
        "leads",
        [sa.literal_column("lower(email)")],
        unique=True,
        postgresql_where=sa.text("status IN ('new', 'contacted', 'qualified', 'negotiating')"),
    )
    op.create_table(
        "lead_status_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=False),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reopened", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("competitor", sa.Text(), nullable=True),
        sa.Column("revisit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("future_opportunity", sa.Boolean(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "from_status IN ('new', 'contacted', 'qualified', 'negotiating', 'won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead')",
            name=op.f("ck_lead_status_changes_from_status_known"),
        ),
        sa.CheckConstraint(
            "to_status IN ('new', 'contacted', 'qualified', 'negotiating', 'won', 'lost', 'no_decision', 'recycled', 'disqualified', 'dead')",
            name=op.f("ck_lead_status_changes_to_status_known"),
        ),
        sa.CheckConstraint(
            "length(reason) > 0", name=op.f("ck_lead_status_changes_reason_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_status_changes_lead_id_leads"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_status_changes")),
    )
    op.create_index(
        "ix_lead_status_changes_lead_id_id", "lead_status_changes", ["lead_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_lead_status_changes_lead_id_id", table_name="lead_status_changes")
    op.drop_table("lead_status_changes")
    op.drop_index(
        "uq_leads_open_email",
        table_name="leads",
        postgresql_where=sa.text("status IN ('new', 'contacted', 'qualified', 'negotiating')"),
    )
    op.drop_index("ix_leads_status_id", table_name="leads")
    op.drop_index(
        "ix_leads_revisit_at",
        table_name="leads",
        postgresql_where=sa.text("revisit_at IS NOT NULL"),
    )
    op.drop_index("ix_leads_owner_id", table_name="leads")
    op.drop_table("leads")
