"""Compile the write path's database work once per connection, not once per statement.

Two costs that grow with no data but with every write, found by profiling the server under a
transition load (pg_stat_statements and perf):

- The metrics fold is one large statement, and before PostgreSQL 18 a `LANGUAGE sql` function is
  planned afresh on each call: 20-30 ms of planner CPU four times a second. PL/pgSQL keeps the
  statement's plan for the life of the connection. Same statement, same results.
- PostgreSQL reads a table's check constraints back from their stored node text for every INSERT
  statement. 0007's reason check spelled out every (target, reason) pair, so each history insert
  parsed some 30 KB of node text (a fifth of the server's CPU per transition). The same rule now
  lives in an immutable PL/pgSQL function, compiled once per connection, which the check calls.

The codes stay frozen (taken from 0007, as 0007 froze them): a later change comes with its own
migration that replaces the function.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 04:00:00
"""

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_lead_status_changes_reason_of_target"


def _revision(file_name: str, module_name: str) -> ModuleType:
    """An earlier revision's module, whose statements and frozen codes this one builds on."""
    spec = importlib.util.spec_from_file_location(module_name, Path(__file__).with_name(file_name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FOLD_0004 = _revision("2026_11_23_metrics_fold_in_groups.py", "metrics_fold_in_groups_0004")
REASONS_0007 = _revision("2026_11_23_history_append_only.py", "history_append_only_0007")


def _quoted(codes: Sequence[str]) -> str:
    return ", ".join(f"'{code}'" for code in codes)


def _reason_function() -> str:
    targets = "\n".join(
        f"    WHEN '{target}' THEN reason IN ({_quoted(codes)})"
        for target, codes in REASONS_0007.REASONS_BY_TARGET.items()
    )
    return f"""
    CREATE FUNCTION lead_status_change_reason_valid(reopened boolean, to_status text, reason text)
    RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $valid$
    BEGIN
      IF reopened THEN
        RETURN reason IN ({_quoted(REASONS_0007.REOPEN_REASONS)});
      END IF;
      RETURN CASE to_status
    {targets}
        ELSE false
      END;
    END
    $valid$
    """


def _plpgsql_fold() -> str:
    """0004's fold statement as is, its final count taken INTO a variable and returned."""
    match = re.search(r"AS \$\$(.*)\$\$", FOLD_0004._fold(), re.S)
    assert match is not None
    head, count = match.group(1).strip().rsplit("SELECT (SELECT count(*)", 1)
    return f"""
    CREATE OR REPLACE FUNCTION metrics_fold() RETURNS bigint LANGUAGE plpgsql
    SET jit = off AS $fold$
    DECLARE
      moved bigint;
    BEGIN
      {head} SELECT (SELECT count(*){count} INTO moved;
      RETURN moved;
    END
    $fold$
    """


def upgrade() -> None:
    op.execute("DROP FUNCTION metrics_fold()")
    op.execute(_plpgsql_fold())
    op.execute(_reason_function())
    # NOT VALID then VALIDATE: the swap holds the table's write lock only for the catalog change.
    op.execute(f"ALTER TABLE lead_status_changes DROP CONSTRAINT {CHECK}")
    op.execute(
        f"ALTER TABLE lead_status_changes ADD CONSTRAINT {CHECK}"
        " CHECK (lead_status_change_reason_valid(reopened, to_status, reason)) NOT VALID"
    )
    op.execute(f"ALTER TABLE lead_status_changes VALIDATE CONSTRAINT {CHECK}")


def downgrade() -> None:
    op.execute(f"ALTER TABLE lead_status_changes DROP CONSTRAINT {CHECK}")
    op.execute(
        f"ALTER TABLE lead_status_changes ADD CONSTRAINT {CHECK}"
        f" CHECK ({REASONS_0007._reason_check()})"
    )
    op.execute("DROP FUNCTION lead_status_change_reason_valid(boolean, text, text)")
    op.execute("DROP FUNCTION metrics_fold()")
    op.execute(FOLD_0004._fold())
