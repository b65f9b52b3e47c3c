"""Edits and deletes of leads move the counts they should, and only those.

Edge cases of the lead row itself: deleting a lead without history takes it out of its cohort
(one with history cannot go), reassigning a lead moves its cohort and standing but not the
changes already recorded, a revisit date moved to another month moves its pipeline row, and the
creation time is fixed once durations have been measured from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

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

STANDING_NEW = ("default", "new", "alex", "web", "smb", None)
"""A new lead's standing: no revisit month, no currency, no close month."""


def counted(rows: Mapping[Any, Mapping[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Rollup rows with only their nonzero counts and sums."""
    return {key: nonzero(values) for key, values in rows.items()}


async def test_deleting_a_lead_without_history_leaves_its_cohort(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    a = await lead_at(pool, workflows, "a@example.com", [])
    b = await lead_at(pool, workflows, "b@example.com", [("contacted", "call_connected")])
    today = datetime.now(UTC).date()
    key = (today, "default", "alex", "web", "smb")
    before = await assert_rollups_exact(pool)
    assert before["daily"][key]["created"] == 2
    assert counted(before["metrics_pipeline"])[STANDING_NEW] == {"n": 1}

    # A lead with history cannot go (the history keeps it); the failed delete changes nothing.
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):  # 23503, or 23001 on PG 18
        await pool.execute("DELETE FROM leads WHERE id = $1", b)
    assert await snapshot(pool) == before

    await pool.execute("DELETE FROM leads WHERE id = $1", a)
    after = await assert_rollups_exact(pool)
    assert after["daily"][key]["created"] == 1
    assert after["daily"][key]["reached_2"] == 1
    assert STANDING_NEW not in after["metrics_pipeline"]
    contacted = ("default", "contacted", "alex", "web", "smb", None)
    assert counted(after["metrics_pipeline"])[contacted] == {"n": 1}


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
    assert counted(moved["metrics_pipeline"]) == {
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
    assert counted(closed["metrics_pipeline"]) == {
        ("default", "won", None, "web", None, None): {"n": 1}
    }


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
    assert counted(snap["metrics_pipeline"]) == {
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
    assert counted(snap["metrics_pipeline"]) == {
        ("default", "recycled", "alex", "web", "smb", _month(second)): {"n": 1}
    }

    # Postponed by hand: a later day of the same month keeps the row, another month moves it.
    await pool.execute(
        "UPDATE leads SET revisit_at = revisit_at + interval '3 days' WHERE id = $1", lead_id
    )
    assert (await assert_rollups_exact(pool))["metrics_pipeline"] == snap["metrics_pipeline"]
    await pool.execute("UPDATE leads SET revisit_at = $2 WHERE id = $1", lead_id, third)
    snap = await assert_rollups_exact(pool)
    assert counted(snap["metrics_pipeline"]) == {
        ("default", "recycled", "alex", "web", "smb", _month(third)): {"n": 1}
    }
    await pool.execute("UPDATE leads SET revisit_at = NULL WHERE id = $1", lead_id)
    snap = await assert_rollups_exact(pool)
    assert counted(snap["metrics_pipeline"]) == {
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


async def test_the_standing_carries_each_deals_money_through_edits_and_moves(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    lead_id = await lead_at(pool, workflows, "money@example.com", [("contacted", "call_connected")])
    money = {
        "estimated_value": Decimal("1000.00"),
        "currency": "EUR",
        "probability": 0.25,
        "expected_close_date": date(2027, 3, 15),
    }
    await service.update_lead(pool, lead_id=lead_id, changes=money, if_match=None)
    snap = await assert_rollups_exact(pool)
    assert counted(snap["metrics_open_money"]) == {
        ("default", "contacted", "alex", "web", "smb", "EUR", date(2027, 3, 1)): {
            "n": 1,
            "valued": 1,
            "amount": 1000,
            "own_amount": 1000,
            "own_weighted": 250,
        }
    }
    # Moved on, then its own probability and date withdrawn: the standing follows.
    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="qualified",
        reason="budget_confirmed",
        details=ChangeDetails(),
    )
    changes = {"probability": None, "expected_close_date": None}
    await service.update_lead(pool, lead_id=lead_id, changes=changes, if_match=None)
    snap = await assert_rollups_exact(pool)
    valued = {"n": 1, "valued": 1, "amount": 1000}
    assert counted(snap["metrics_open_money"]) == {
        ("default", "qualified", "alex", "web", "smb", "EUR", None): valued
    }
    # Closed: it stands where it closed, without money (that is the open deals' forecast).
    await service.update_lead(
        pool, lead_id=lead_id, changes={"expected_close_date": date(2027, 1, 5)}, if_match=None
    )
    await service.transition_lead(
        pool,
        workflows,
        lead_id=lead_id,
        to="won",
        reason="contract_signed",
        details=ChangeDetails(),
    )
    snap = await assert_rollups_exact(pool)
    assert snap["metrics_open_money"] == {}
    assert counted(snap["metrics_pipeline"]) == {
        ("default", "won", "alex", "web", "smb", None): {"n": 1}
    }
