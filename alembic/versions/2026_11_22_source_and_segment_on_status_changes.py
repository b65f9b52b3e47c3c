"""Source and segment on each status change, as the owner already is.

Change-based metrics attribute a change to the lead's dimensions as of the change, so a later
edit of the lead never rewrites what its past moves counted for. Existing rows take the lead's
current values.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lead_status_changes", sa.Column("source", sa.Text(), nullable=True))
    op.add_column("lead_status_changes", sa.Column("segment", sa.Text(), nullable=True))
    op.execute(
        "UPDATE lead_status_changes c SET source = l.source, segment = l.segment "
        "FROM leads l WHERE l.id = c.lead_id"
    )


def downgrade() -> None:
    op.drop_column("lead_status_changes", "segment")
    op.drop_column("lead_status_changes", "source")
