"""Bulk loading of leads with their history: COPY in, ids reserved under a table lock.

A bulk load writes rows the workflow has already decided (see `app.demo`), so it bypasses the
per-change statements in `leads` and streams whole batches with COPY. The caller holds one
transaction around `lock_for_bulk_load()` ... `advance_sequences()`: the load is all or nothing,
and ids chosen from `next_ids()` cannot be taken by anyone else meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import asyncpg

from app.leads.repository import DESCRIPTIVE_FIELDS

_KEPT_DEFAULT = ("external_id", "attributes")
LEAD_COLUMNS: tuple[str, ...] = (
    "id",
    *(name for name in DESCRIPTIVE_FIELDS if name not in _KEPT_DEFAULT),
    "status",
    "status_reason",
    "closed_from",
    "version",
    "reopen_count",
    "revisit_at",
    "closed_at",
    "created_at",
    "updated_at",
    "status_since",
    "outcome",
)
"""Columns of a bulk-loaded lead row, in order; those of `_KEPT_DEFAULT` stay empty, and
`pipeline` and `pipeline_version` theirs (`default`, version 1)."""

CHANGE_COLUMNS: tuple[str, ...] = (
    "id",
    "lead_id",
    "from_status",
    "to_status",
    "reason",
    "reopened",
    "note",
    "competitor",
    "revisit_at",
    "future_opportunity",
    "actor",
    "owner",
    "source",
    "segment",
    "at",
    "from_outcome",
    "to_outcome",
    "estimated_value",
    "currency",
    "probability",
    "expected_close_date",
)
"""Columns of a bulk-loaded `lead_status_changes` row, in order (on `default`, version 1)."""

Row = tuple[Any, ...]

_TABLES = ("leads", "lead_status_changes")


class NextIds(NamedTuple):
    lead: int
    change: int


async def lock_for_bulk_load(conn: asyncpg.Connection) -> None:
    """Hold off every other writer, and any other bulk load, until this transaction ends.

    SHARE ROW EXCLUSIVE lets readers (the API's GETs, metrics) carry on, but waits for writers in
    flight and blocks new ones: an insert through the API would take an id from the identity
    sequence that this load is about to use.
    """
    await conn.execute(f"LOCK TABLE {', '.join(_TABLES)} IN SHARE ROW EXCLUSIVE MODE")


async def count_leads(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM leads")
    return count


async def next_ids(conn: asyncpg.Connection) -> NextIds:
    """The first free ids after whatever the tables hold (call under the lock)."""
    row = await conn.fetchrow(
        "SELECT (SELECT coalesce(max(id), 0) + 1 FROM leads) AS lead,"
        " (SELECT coalesce(max(id), 0) + 1 FROM lead_status_changes) AS change"
    )
    return NextIds(row["lead"], row["change"])


async def copy_leads(conn: asyncpg.Connection, rows: Iterable[Row]) -> None:
    """COPY lead rows given in `LEAD_COLUMNS` order."""
    await conn.copy_records_to_table("leads", records=rows, columns=LEAD_COLUMNS)


async def copy_changes(conn: asyncpg.Connection, rows: Iterable[Row]) -> None:
    """COPY history rows given in `CHANGE_COLUMNS` order (their leads must be loaded first)."""
    await conn.copy_records_to_table("lead_status_changes", records=rows, columns=CHANGE_COLUMNS)


async def advance_sequences(conn: asyncpg.Connection) -> None:
    """Move each identity sequence past the highest id, so the API's next insert gets a free one.

    Never backwards: a sequence that already handed out higher ids (rolled-back inserts) stays.
    """
    for table in _TABLES:
        await conn.execute(
            f"SELECT setval(seq, greatest(max(t.id), coalesce(pg_sequence_last_value(seq), 1)))"
            f" FROM {table} t, CAST(pg_get_serial_sequence('{table}', 'id') AS regclass) AS seq"
            " GROUP BY seq HAVING max(t.id) IS NOT NULL"
        )


async def pause_rollups(conn: asyncpg.Connection) -> None:
    """Let this transaction's inserts skip the per-row metrics triggers; see `rebuild_rollups`.

    Row by row, the triggers would cost a bulk load most of its speed; one set-based pass over
    the history afterwards gives the same rollups.
    """
    await conn.execute("SET LOCAL leadstatus.rollups = 'off'")


async def leave_unannounced(conn: asyncpg.Connection) -> None:
    """Let this transaction's inserts write no events: seeded history is a starting point that
    happened elsewhere, not news for subscribers (a million leads would be a million events)."""
    await conn.execute("SET LOCAL leadstatus.events = 'off'")


async def rebuild_rollups(conn: asyncpg.Connection) -> None:
    """Recompute every metrics rollup from the history, and resume the triggers."""
    await conn.execute("SELECT metrics_rebuild()")
    await conn.execute("SET LOCAL leadstatus.rollups = 'on'")
