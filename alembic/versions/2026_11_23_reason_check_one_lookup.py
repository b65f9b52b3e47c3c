"""The reason check looks its (target, reason) pair up in one list instead of a CASE of lists.

PL/pgSQL keeps a function's plan for the connection, but rebuilds the evaluation steps of its
expressions in every transaction, and every transition is a transaction of its own. 0008's body,
a CASE over the targets with a list of codes each, was rebuilt step by step on each history
insert: about 25 us per transition (perf, under a transition load, beneath `ExecCheck`). The
same rule as one comparison against one array constant builds a handful of steps.

The codes stay those 0008 froze (from 0007).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 09:40:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision(file_name: str, module_name: str) -> ModuleType:
    """An earlier revision's module, whose frozen codes and function this one builds on."""
    spec = importlib.util.spec_from_file_location(module_name, Path(__file__).with_name(file_name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WRITE_PATH_0008 = _revision("2026_11_23_write_path_compiled_once.py", "write_path_0008")
REASONS = WRITE_PATH_0008.REASONS_0007
REOPEN = "reopen"
"""Stands in for the target of a reopening (no status has this name)."""


def _pairs() -> str:
    pairs = [
        f"{target}:{code}" for target, codes in REASONS.REASONS_BY_TARGET.items() for code in codes
    ]
    pairs += [f"{REOPEN}:{code}" for code in REASONS.REOPEN_REASONS]
    return "{" + ",".join(pairs) + "}"


def upgrade() -> None:
    op.execute(f"""
    CREATE OR REPLACE FUNCTION lead_status_change_reason_valid(
      reopened boolean, to_status text, reason text
    ) RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $valid$
    BEGIN
      RETURN (CASE WHEN reopened THEN '{REOPEN}' ELSE to_status END) || ':' || reason
             = ANY ('{_pairs()}'::text[]);
    END
    $valid$
    """)


def downgrade() -> None:
    op.execute(
        WRITE_PATH_0008._reason_function().replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    )
