"""Status checks as compiled functions: no status list parsed back per write.

PostgreSQL reads a table's check constraints back from their stored node text for every INSERT
and UPDATE statement, and a list of statuses is stored as one constant per status, each spelled
out byte by byte. The three "known status" checks (ten statuses each) and the closed-from check
(four) were still about a tenth of the server's CPU per status change (perf, under a transition
load: `stringToNode` beneath `ExecConstraints`). Each now calls an immutable PL/pgSQL function,
compiled once per connection; the constraints keep their names, so violations read as before.

The status lists stay frozen (those of 0001): a new status comes with its own migration that
replaces the functions.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 07:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = ("new", "contacted", "qualified", "negotiating")
ALL = (*OPEN, "won", "lost", "no_decision", "recycled", "disqualified", "dead")

# (table, constraint, check as a function call, check as 0001 wrote it)
CHECKS = (
    ("leads", "ck_leads_status_known", "lead_status_known(status)", "status IN ({all})"),
    (
        "leads",
        "ck_leads_closed_from_open",
        "closed_from IS NULL OR lead_status_open(closed_from)",
        "closed_from IS NULL OR closed_from IN ({open})",
    ),
    (
        "lead_status_changes",
        "ck_lead_status_changes_from_status_known",
        "lead_status_known(from_status)",
        "from_status IN ({all})",
    ),
    (
        "lead_status_changes",
        "ck_lead_status_changes_to_status_known",
        "lead_status_known(to_status)",
        "to_status IN ({all})",
    ),
)


def _quoted(statuses: Sequence[str]) -> str:
    return ", ".join(f"'{status}'" for status in statuses)


def _function(name: str, statuses: Sequence[str]) -> str:
    return f"""
    CREATE FUNCTION {name}(status text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $known$
    BEGIN
      RETURN status IN ({_quoted(statuses)});
    END
    $known$
    """


def _swap(table: str, name: str, check: str) -> None:
    # NOT VALID then VALIDATE: the write lock is held only for the catalog change.
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID")
    op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def upgrade() -> None:
    op.execute(_function("lead_status_known", ALL))
    op.execute(_function("lead_status_open", OPEN))
    for table, name, check, _ in CHECKS:
        _swap(table, name, check)


def downgrade() -> None:
    for table, name, _, listed in CHECKS:
        _swap(table, name, listed.format(all=_quoted(ALL), open=_quoted(OPEN)))
    op.execute("DROP FUNCTION lead_status_open(text)")
    op.execute("DROP FUNCTION lead_status_known(text)")
