"""Fold the metrics deltas without JIT compilation.

The planner cannot see how few rows a fold moves (it estimates set-returning functions at
hundreds of thousands), so every fold crossed `jit_above_cost` and spent most of a second of CPU
compiling a statement that runs in milliseconds, four times a second, on the server the writers
share. The service's connections turn JIT off too; this covers any other caller.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER FUNCTION metrics_fold() SET jit = off")


def downgrade() -> None:
    op.execute("ALTER FUNCTION metrics_fold() RESET jit")
