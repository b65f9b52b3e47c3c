"""Edits and deletes of leads move the counts they should, and only those.

Edge cases of the lead row itself: deleting a lead without history takes it out of its cohort
(one with history cannot go), reassigning a lead moves its cohort and standing but not the
changes already recorded, a revisit date moved to another month moves its pipeline row, and the
creation time is fixed once durations have been measured from it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import pytest

from app.leads import service
from app.leads.domain import ChangeDetails
from app.pipelines.cache import Workflows
from app.pipelines.default import DEFAULT_PIPELINE
from tests.metrics.rollups_support import (
    assert_rollups_exact,
    days_ago,
    in_months,
    insert_lead,
    lead_at,
    nonzero,
    record_by_sql,
    snapshot,
    total,
)


async def test_deleting_a_lead_without_history_leaves_its_cohort(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    a = await lead_at(pool, workflows, "a@example.com", [])
    b = await lead_at(pool, workflows, "b@example.com", [("contacted", "call_connected")])
    today = datetime.now(UTC).date()
    key = (today, "default", "alex", "web", "smb")
    before = await assert_rollups_exact(pool)
    assert before["daily"][key]["created"] == 2
    assert before["metrics_pipeline"][("default", "new", "alex", "web", "smb", None)] == {"n": 1}

    # A lead with history cannot go (the history keeps it); the failed delete changes nothing.
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):  # 23503, or 23001 on PG 18
        await pool.execute("DELETE FROM leads WHERE id = $1", b)
    assert await snapshot(pool) == before

    await pool.execute("DELETE FROM leads WHERE id = $1", a)
    after = await assert_rollups_exact(pool)
    assert after["daily"][key]["created"] == 1
    assert after["daily"][key]["reached_2"] == 1
    assert ("default", "new", "alex", "web", "smb", None) not in after["metrics_pipeline"]
    assert after["metrics_pipeline"][("default", "contacted", "alex", "web", "smb", None)] == {
        "n": 1
    }


async def test_reassigning_a_lead_moves_its_cohort_not_its_changes(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    lead_id = await lead_at(
        pool,
        workflows,
        "deal@example.com",
        [
            ("contacted", "meeting_booked"),
            ("qualified", "need_confirmed"),
            ("negotiating", "proposal_sent"),
        ],
    )
    today = datetime.now(UTC).date()
    alex, kim = (today, "default", "alex", "web", "smb"), (today, "default", "kim", "web", "smb")
    cohort = {
        "created": 1,
        "reached_2": 1,
        "reached_3": 1,
        "reached_4": 1,
        "went_on_1": 1,
        "went_on_2": 1,
        "went_on_3": 1,
    }
    before = await assert_rollups_exact(pool)
    assert nonzero(before["daily"][alex]) == cohort

    await service.update_lead(pool, lead_id=lead_id, changes={"owner": "kim"}, if_match=None)
    moved = await assert_rollups_exact(pool)
    assert alex not in moved["daily"]
    assert nonzero(moved["daily"][kim]) == cohort
    assert moved["metrics_pipeline"] == {
        ("default", "negotiating", "kim", "web", "smb", None): {"n": 1}
    }
    # The stays already recorded keep the owner they were recorded with.
    assert total(moved, "metrics_durations", "n", measure="stay", dimension="owner") == 3
    assert total(moved, "metrics_durations", "n", dimension="owner", value="kim") == 0

    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="won",
        reason="contract_signed",
        details=ChangeDetails(),
    )
    await service.update_lead(
        pool, lead_id=lead_id, changes={"owner": None, "segment": None}, if_match=None
    )
    closed = await assert_rollups_exact(pool)
    assert nonzero(closed["daily"][kim]) == {"closed_won": 1}
    assert nonzero(closed["daily"][(today, "default", None, "web", None)]) == {
        **cohort,
        "won_now": 1,
        "went_on_4": 1,
    }
    assert closed["metrics_pipeline"] == {("default", "won", None, "web", None, None): {"n": 1}}


def _month(at: datetime) -> date:
    return at.astimezone(UTC).date().replace(day=1)


async def test_revisit_date_in_another_month_moves_the_pipeline_row(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    lead_id = await lead_at(
        pool, workflows, "later@example.com", [("qualified", "timeline_confirmed")]
    )
    first, second, third = in_months(1), in_months(3), in_months(7)
    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="lost",
        reason="timing",
        details=ChangeDetails(revisit_at=first),
    )
    snap = await assert_rollups_exact(pool)
    assert snap["metrics_pipeline"] == {
        ("default", "lost", "alex", "web", "smb", _month(first)): {"n": 1}
    }

    await service.reopen_lead(
        pool, workflows, lead_id=lead_id, reason="timing_right", to=None, details=ChangeDetails()
    )
    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="recycled",
        reason="budget_next_cycle",
        details=ChangeDetails(revisit_at=second),
    )
    snap = await assert_rollups_exact(pool)
    assert snap["metrics_pipeline"] == {
        ("default", "recycled", "alex", "web", "smb", _month(second)): {"n": 1}
    }

    # Postponed by hand: a later day of the same month keeps the row, another month moves it.
    await pool.execute(
        "UPDATE leads SET revisit_at = revisit_at + interval '3 days' WHERE id = $1", lead_id
    )
    assert (await assert_rollups_exact(pool))["metrics_pipeline"] == snap["metrics_pipeline"]
    await pool.execute("UPDATE leads SET revisit_at = $2 WHERE id = $1", lead_id, third)
    snap = await assert_rollups_exact(pool)
    assert snap["metrics_pipeline"] == {
        ("default", "recycled", "alex", "web", "smb", _month(third)): {"n": 1}
    }
    await pool.execute("UPDATE leads SET revisit_at = NULL WHERE id = $1", lead_id)
    snap = await assert_rollups_exact(pool)
    assert snap["metrics_pipeline"] == {
        ("default", "recycled", "alex", "web", "smb", None): {"n": 1}
    }


async def test_creation_time_is_fixed_once_a_lead_has_history(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """Durations were measured from it: moving it under the history is refused, nothing moves."""
    async with pool.acquire() as conn:
        workflow = await workflows.current(DEFAULT_PIPELINE)
        lead_id = await insert_lead(conn, workflow, "early@example.com", days_ago(10), owner="alex")
        await record_by_sql(conn, workflow, lead_id, "qualified", "need_confirmed", days_ago(8))
        await record_by_sql(conn, workflow, lead_id, "won", "online_checkout", days_ago(6))
        with pytest.raises(asyncpg.CheckViolationError, match="creation time"):
            await conn.execute(
                "UPDATE leads SET created_at = $2 WHERE id = $1", lead_id, days_ago(30)
            )
        created = await conn.fetchval("SELECT created_at FROM leads WHERE id = $1", lead_id)
    assert created == days_ago(10)
    await assert_rollups_exact(pool)
