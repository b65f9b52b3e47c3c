"""`events_on_lead_update` fires only for an edit of a lead's descriptive fields.

The trigger ran on every status change too (each one bumps the lead's `version`), only for its
function to see the status had moved and return: a PL/pgSQL call per transition, about 13 µs of
PostgreSQL time (`track_functions` under `make bench`). Its `WHEN` now says in the trigger what
the function checked first, so the server skips the call; the function keeps its own check, so
either alone stays correct.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_WHEN = (
    "CREATE TRIGGER events_on_lead_update AFTER UPDATE OF version ON leads FOR EACH ROW"
    " WHEN (OLD.status IS NOT DISTINCT FROM NEW.status"
    " AND OLD.version IS DISTINCT FROM NEW.version)"
    " EXECUTE FUNCTION events_on_lead_update()"
)
WITHOUT_WHEN = (
    "CREATE TRIGGER events_on_lead_update AFTER UPDATE OF version ON leads"
    " FOR EACH ROW EXECUTE FUNCTION events_on_lead_update()"
)
"""0017's trigger, as that revision wrote it: what the downgrade puts back."""


def upgrade() -> None:
    op.execute("DROP TRIGGER events_on_lead_update ON leads")
    op.execute(WITH_WHEN)


def downgrade() -> None:
    op.execute("DROP TRIGGER events_on_lead_update ON leads")
    op.execute(WITHOUT_WHEN)
