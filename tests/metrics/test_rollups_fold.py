"""The fold: pending deltas moved into the rollups once, and the space they leave reclaimed.

Every service process folds on its own timer, so folds that meet must move each pending row
exactly once. Each fold deletes the pending rows it moved; vacuuming the churning tables (by hand,
or from the fold loop when asked) reclaims their pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import asyncpg
import pytest

from app.metrics.folding import fold_forever
from app.metrics.rollups import CHURNING_TABLES, vacuum_churning_tables
from app.pipelines.cache import Workflows
from tests.metrics.rollups_support import KEYS, assert_rollups_exact, lead_at, total


async def test_folds_running_at_once_move_each_pending_row_once(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """Every service process folds on its own timer: folds that meet must not double count."""
    for i in range(12):
        await lead_at(pool, workflows, f"fold{i}@example.com", [("qualified", "need_confirmed")])
    for i in range(6):
        await lead_at(
            pool,
            workflows,
            f"lost{i}@example.com",
            [("qualified", "budget_confirmed"), ("lost", "price")],
        )
    pending = await pool.fetchval(
        "SELECT (SELECT count(*) FROM metrics_pending_changes)"
        " + (SELECT count(*) FROM metrics_pending_leads) + (SELECT count(*) FROM metrics_pending)"
    )
    assert pending >= 18 + 24

    async def fold() -> int:
        async with pool.acquire() as conn:
            moved: int = await conn.fetchval("SELECT metrics_fold()")
            return moved

    moved = await asyncio.gather(*(fold() for _ in range(6)))
    assert sum(moved) == pending
    snap = await assert_rollups_exact(pool)
    assert total(snap, "daily", "closed_lost") == 6


async def _rows(pool: asyncpg.Pool, relation: str) -> list[tuple[object, ...]]:
    return sorted(
        (tuple(r) for r in await pool.fetch(f"SELECT * FROM {relation}")),
        key=repr,
    )


async def test_each_now_view_reads_its_rollup_alone_once_the_queues_are_empty(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """A `_now` view skips the pending branch when no queue holds a row (it would only plan
    functions that return nothing), and takes it again as soon as one does."""
    await lead_at(pool, workflows, "view@example.com", [("qualified", "need_confirmed")])
    await pool.fetchval("SELECT metrics_fold()")
    for table in KEYS:
        assert await _rows(pool, f"{table}_now") == await _rows(pool, table), table
    await lead_at(pool, workflows, "later@example.com", [("qualified", "need_confirmed")])
    for table in ("metrics_cohorts", "metrics_pipeline", "metrics_open_money"):
        assert await _rows(pool, f"{table}_now") != await _rows(pool, table), table


async def _pending_leads_pages(pool: asyncpg.Pool) -> int:
    pages: int = await pool.fetchval(
        "SELECT pg_relation_size('metrics_pending_leads') / current_setting('block_size')::int"
    )
    return pages


async def _new_leads_folded(pool: asyncpg.Pool, count: int) -> None:
    """`count` new leads, each leaving a pending row that a fold then deletes (a dead row)."""
    await pool.execute(
        "INSERT INTO leads (email)"
        " SELECT 'vac' || i || '@example.com' FROM generate_series(1, $1) i",
        count,
    )
    await pool.fetchval("SELECT metrics_fold()")
    assert await pool.fetchval("SELECT count(*) FROM metrics_pending_leads") == 0


async def test_every_table_the_fold_writes_is_vacuumed_with_the_churning_ones(
    pool: asyncpg.Pool,
) -> None:
    """A rollup added to the fold and not to the list would gather a dead row per fold that
    touches it, unvacuumed until autovacuum comes by (never, where it is off)."""
    source = await pool.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'metrics_fold'")
    written = set(re.findall(r"(?:INSERT INTO|DELETE FROM)\s+(metrics_\w+)", source))
    assert {"metrics_pending_changes", "metrics_open_money", "metrics_revenue"} <= written
    assert written == set(CHURNING_TABLES)


async def test_vacuuming_the_churning_tables_reclaims_what_the_folds_left(
    pool: asyncpg.Pool,
    workflows: Workflows,
) -> None:
    await _new_leads_folded(pool, 2_000)
    assert await _pending_leads_pages(pool) > 0  # the deleted rows still take their pages
    async with pool.acquire() as conn:
        await vacuum_churning_tables(conn)
    assert await _pending_leads_pages(pool) == 0
    await assert_rollups_exact(pool)


@pytest.mark.parametrize("vacuum_every", [0.05, 0])
async def test_the_fold_loop_vacuums_the_churning_tables_when_asked(
    pool: asyncpg.Pool, workflows: Workflows, vacuum_every: float
) -> None:
    # The server's autovacuum would reclaim the pages too, at a time of its choosing: held off
    # for the test, so only the loop can (the embedded server runs it, this machine's may not).
    await pool.execute("ALTER TABLE metrics_pending_leads SET (autovacuum_enabled = false)")
    try:
        await _new_leads_folded(pool, 2_000)
        loop = asyncio.create_task(fold_forever(pool, 0.01, vacuum_every))
        try:
            for _ in range(100):
                await asyncio.sleep(0.05)
                if await _pending_leads_pages(pool) == 0:
                    break
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        assert (await _pending_leads_pages(pool) == 0) == bool(vacuum_every)
    finally:
        await pool.execute("ALTER TABLE metrics_pending_leads RESET (autovacuum_enabled)")
