"""Switching maintenance off, and `metrics_rebuild()` alongside the service.

With `leadstatus.rollups = 'off'` (as a bulk load sets it) a session's writes are not maintained
until a rebuild, after which maintenance carries on from exact rollups; the setting belongs to
that session (or, with SET LOCAL, to that transaction). A rebuild that runs while the service
writes must not deadlock with it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg

from app.leads import service
from app.leads.domain import ChangeDetails
from app.leads.repository import LeadRepository, to_domain
from app.pipelines.cache import Workflows
from app.pipelines.default import DEFAULT_PIPELINE
from tests.metrics.rollups_support import (
    SAME,
    assert_rollups_exact,
    diff,
    in_months,
    lead_at,
    rebuild_and_compare,
    snapshot,
    total,
)


async def test_rollups_off_skips_maintenance_until_rebuilt(
    pool: asyncpg.Pool, workflows: Workflows, own_connection: asyncpg.Connection
) -> None:
    kept = await lead_at(pool, workflows, "kept@example.com", [("contacted", "call_connected")])
    before = await assert_rollups_exact(pool)

    conn = own_connection
    await conn.execute("SET leadstatus.rollups = 'off'")
    repo = LeadRepository(conn)
    workflow = await workflows.current(DEFAULT_PIPELINE)
    fresh = await repo.insert({"email": "quiet@example.com", "attributes": {}, **SAME}, workflow)
    assert fresh is not None
    for lead_id, to, reason in [
        (fresh["id"], "qualified", "need_confirmed"),
        (fresh["id"], "lost", "price"),
        (kept, "qualified", "budget_confirmed"),
    ]:
        row = await repo.get(lead_id)
        assert row is not None
        lead = to_domain(row)
        change = lead.transition(workflow, to, reason, now=datetime.now(UTC))
        assert await repo.record_change(lead_id, lead, change) is not None
    await repo.update_fields(kept, {"owner": "kim"}, expected_version=None)
    assert await snapshot(conn) == before, "with rollups off, nothing may be maintained"

    # The setting belongs to that session: a create elsewhere is still counted.
    await service.create_lead(
        pool, workflows, fields={"email": "loud@example.com", "attributes": {}, **SAME}
    )
    counted = await snapshot(pool)
    assert total(counted, "daily", "created") == total(before, "daily", "created") + 1

    maintained, rebuilt = await rebuild_and_compare(pool)
    assert maintained == counted
    lines = diff(maintained, rebuilt)
    assert lines, "the rebuild should see what maintenance skipped"
    assert total(rebuilt, "daily", "created") == 3
    assert total(rebuilt, "daily", "closed_lost") == 1
    assert total(rebuilt, "metrics_losses", "n", overall=False) == 1
    assert total(rebuilt, "daily", "reached_3", owner="kim") == 1

    # After the rebuild, maintenance (on again) carries on from exact rollups.
    await conn.execute("RESET leadstatus.rollups")
    async with conn.transaction():
        await conn.execute("SET LOCAL leadstatus.rollups = 'off'")
        await repo.update_fields(fresh["id"], {"source": "event"}, expected_version=None)
    await repo.update_fields(kept, {"source": "referral"}, expected_version=None)
    lines = diff(*await rebuild_and_compare(pool))
    # Only the edit made with SET LOCAL was missed: its lead's cohort rows (under the full key
    # and under its source, the dimension edited) and its standing rows.
    assert [line.split(" [")[0] for line in lines] == [
        *["metrics_cohorts"] * 4,
        *["metrics_pipeline"] * 2,
        *["daily"] * 2,
    ], lines
    assert sorted(line.split("grain=")[1].split(",")[0] for line in lines[:4]) == [
        "'full'",
        "'full'",
        "'source'",
        "'source'",
    ], lines
    assert all("source='event'" in line or "source='web'" in line for line in lines), lines
    await service.reopen_lead(
        pool,
        workflows,
        lead_id=fresh["id"],
        reason="timing_right",
        to=None,
        details=ChangeDetails(),
    )
    await assert_rollups_exact(pool)


async def _lock_waiters(conn: asyncpg.Connection, at_least: int) -> None:
    """Wait until `at_least` sessions of this database wait for a lock."""
    for _ in range(500):
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting >= at_least:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {at_least} sessions ever waited for a lock")


async def test_rebuild_while_the_service_writes_does_not_deadlock(
    pool: asyncpg.Pool, workflows: Workflows, own_connection: asyncpg.Connection
) -> None:
    lead_id = await lead_at(
        pool, workflows, "nurture@example.com", [("qualified", "need_confirmed")]
    )
    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="no_decision",
        reason="postponed",
        details=ChangeDetails(revisit_at=in_months(1)),
    )
    writer = own_connection
    failures: list[BaseException] = []
    async with writer.transaction():
        # A writer has adjusted metrics_pipeline (a revisit date moved to another month) ...
        await writer.execute(
            "UPDATE leads SET revisit_at = $2 WHERE id = $1", lead_id, in_months(4)
        )
        rebuild = asyncio.ensure_future(pool.execute("SELECT metrics_rebuild()"))
        await _lock_waiters(writer, 1)
        # ... and, while a rebuild waits for it, goes on to a change that counts in metrics_cohorts.
        try:
            await writer.execute(
                "INSERT INTO leads (email, owner) VALUES ('second@example.com', 'alex')"
            )
        except asyncpg.DeadlockDetectedError as e:
            failures.append(e)
    try:
        await rebuild
    except asyncpg.DeadlockDetectedError as e:
        failures.append(e)
    assert not failures, failures
    await assert_rollups_exact(pool)
