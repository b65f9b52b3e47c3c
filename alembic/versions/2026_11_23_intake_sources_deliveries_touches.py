"""Lead intake from marketing tools: configured sources, their deliveries, touches on leads.

`intake_deliveries` is the exactly-once record (unique per source and event id) and keeps each
accepted payload for replays; `lead_touches` notes each time a tool brought back a person who
already had a lead; `leads.previous_lead_id` links a new deal to the same person's lead that was
closed for good. Two indexes let intake find a person's latest lead by address or sender id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_sources",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lead_source", sa.Text(), nullable=False),
        sa.Column("default_owner", sa.Text(), nullable=True),
        sa.Column("default_segment", sa.Text(), nullable=True),
        sa.Column(
            "reopen_returning", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "field_map",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('standard', 'hubspot', 'marketo', 'mailchimp')",
            name=op.f("ck_intake_sources_kind_known"),
        ),
        sa.CheckConstraint(
            "name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", name=op.f("ck_intake_sources_name_slug")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_intake_sources")),
    )
    op.create_table(
        "intake_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("answer", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('created', 'touched', 'returning', 'reopened', 'linked', 'awaiting_email', 'ignored')",
            name=op.f("ck_intake_deliveries_outcome_known"),
        ),
        sa.CheckConstraint(
            "octet_length(body) <= 262144", name=op.f("ck_intake_deliveries_body_bounded")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_intake_deliveries_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source"],
            ["intake_sources.name"],
            name=op.f("fk_intake_deliveries_source_intake_sources"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_deliveries")),
        sa.UniqueConstraint(
            "source", "event_id", name=op.f("uq_intake_deliveries_source_event_id")
        ),
    )
    op.create_index(
        "ix_intake_deliveries_awaiting",
        "intake_deliveries",
        ["source", "external_id"],
        unique=False,
        postgresql_where=sa.text("outcome = 'awaiting_email'"),
    )
    op.create_index(
        "ix_intake_deliveries_source_received_at",
        "intake_deliveries",
        ["source", "received_at"],
        unique=False,
    )
    op.create_table(
        "lead_touches",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["intake_deliveries.id"],
            name=op.f("fk_lead_touches_delivery_id_intake_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_touches_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_touches")),
    )
    op.create_index("ix_lead_touches_lead_id_id", "lead_touches", ["lead_id", "id"], unique=False)
    op.add_column("leads", sa.Column("previous_lead_id", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_leads_email", "leads", [sa.literal_column("lower(email)"), "id"], unique=False
    )
    op.create_index(
        "ix_leads_source_external_id",
        "leads",
        ["source", "external_id"],
        unique=False,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_foreign_key(
        op.f("fk_leads_previous_lead_id_leads"),
        "leads",
        "leads",
        ["previous_lead_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_leads_previous_lead_id_leads"), "leads", type_="foreignkey")
    op.drop_index(
        "ix_leads_source_external_id",
        table_name="leads",
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.drop_index("ix_leads_email", table_name="leads")
    op.drop_column("leads", "previous_lead_id")
    op.drop_index("ix_lead_touches_lead_id_id", table_name="lead_touches")
    op.drop_table("lead_touches")
    op.drop_index("ix_intake_deliveries_source_received_at", table_name="intake_deliveries")
    op.drop_index(
        "ix_intake_deliveries_awaiting",
        table_name="intake_deliveries",
        postgresql_where=sa.text("outcome = 'awaiting_email'"),
    )
    op.drop_table("intake_deliveries")
    op.drop_table("intake_sources")
