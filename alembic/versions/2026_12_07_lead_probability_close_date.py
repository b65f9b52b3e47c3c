"""A lead's own win probability and expected close date: the forecast's inputs a rep sets.

* `probability` (a double between 0 and 1): the rep's judgement of this deal, which overrides
  its status's probability from the pipeline in the weighted pipeline. Its rule is a table check,
  not a domain as the single-column rules have been since 0010: PostgreSQL refuses to add a
  column of a checked domain to `leads` while `events.lead` keeps rows of its type (0021), since
  the rows kept there would escape the check.
* `expected_close_date` (`date`): the day the rep expects the deal to close, which places it in a
  month or quarter of the forecast.

Both optional and empty for the leads already there; adding them rewrites nothing. The events
log keeps leads as rows (0021), so they appear in every event from now on by themselves.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 01:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE leads ADD COLUMN probability double precision,"
        " ADD COLUMN expected_close_date date"
    )
    op.execute(
        "ALTER TABLE leads ADD CONSTRAINT ck_leads_probability_between_0_and_1"
        " CHECK (probability >= 0 AND probability <= 1)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE leads DROP COLUMN expected_close_date, DROP COLUMN probability")
