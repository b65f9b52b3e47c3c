"""History written at chosen times keeps the rollups exact.

Leads and their status changes are written with plain SQL and explicit timestamps (each move
checked by the domain first, so the history obeys the workflow): a deal worked, lost, reopened and
won over ten days on the default and the custom pipeline, random history over months, a remapping
pipeline edit, and several changes in one multi-row INSERT. Each checks the exact rows the
rollups hold: changes count for the owner recorded on them, the cohort and the standing for the
lead's owner now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from app.pipelines.cache import Workflows
from app.pipelines.default import DEFAULT_PIPELINE
from app.pipelines.workflow import Workflow
from tests.metrics.metrics_history import (
    ENTERPRISE,
    define_enterprise,
    edit_enterprise_with_remap,
    write_history,
)
from tests.metrics.rollups_support import (
    assert_rollups_exact,
    assert_totals_match_history,
    days_ago,
    insert_lead,
    nonzero,
    record_by_sql,
    total,
)


@dataclass(frozen=True)
class Path:
    """One pipeline's names for a deal that is worked, lost, reopened and won."""

    first: tuple[str, str]
    second: tuple[str, str]
    lost: tuple[str, str]
    reopen: str
    won: tuple[str, str]
    second_stage: int
    """The stage number of `second`."""


PATHS = {
    DEFAULT_PIPELINE: Path(
        ("contacted", "call_connected"),
        ("qualified", "need_confirmed"),
        ("lost", "competitor"),
        "competitor_failed",
        ("won", "contract_signed"),
        3,
    ),
    ENTERPRISE: Path(
        ("discovery", "call_held"),
        ("proposal", "proposal_sent"),
        ("lost_to_competitor", "chose_competitor"),
        "budget_approved",
        ("closed_won_upsell", "expansion_signed"),
        4,
    ),
}


async def _workflow(pool: asyncpg.Pool, workflows: Workflows, pipeline: str) -> Workflow:
    if pipeline != DEFAULT_PIPELINE:
        return await define_enterprise(pool, workflows)
    return await workflows.current(pipeline)


@pytest.mark.parametrize("pipeline", PATHS)
async def test_history_written_at_past_times_keeps_rollups_exact(
    pool: asyncpg.Pool, workflows: Workflows, pipeline: str
) -> None:
    """Created 10 days ago, worked 8 and 7, lost 5, reopened 3, won 1 day ago; its value
    raised after the loss, and again after the win."""
    workflow = await _workflow(pool, workflows, pipeline)
    path = PATHS[pipeline]
    dims = {"owner": "alex", "source": "web", "segment": "smb"}
    async with pool.acquire() as conn:
        lead_id = await insert_lead(conn, workflow, "past@example.com", days_ago(10, 9), **dims)
        await record_by_sql(conn, workflow, lead_id, *path.first, days_ago(8))
        await record_by_sql(conn, workflow, lead_id, *path.second, days_ago(7))
        await conn.execute(
            "UPDATE leads SET owner = 'sam', estimated_value = 1200, currency = 'EUR'"
            " WHERE id = $1",
            lead_id,
        )
        await record_by_sql(conn, workflow, lead_id, *path.lost, days_ago(5), competitor="Globex")
        await conn.execute("UPDATE leads SET estimated_value = 1500.50 WHERE id = $1", lead_id)
        await record_by_sql(
            conn, workflow, lead_id, path.second[0], path.reopen, days_ago(3), reopen=True
        )
        await conn.execute("UPDATE leads SET owner = 'kim' WHERE id = $1", lead_id)
        await record_by_sql(conn, workflow, lead_id, *path.won, days_ago(1))
        await conn.execute("UPDATE leads SET estimated_value = 9999 WHERE id = $1", lead_id)
    snap = await assert_rollups_exact(pool)

    daily = snap["daily"]
    # The cohort counts where the lead is now: its creation day, its current owner.
    cohort = daily[(days_ago(10).date(), pipeline, "kim", "web", "smb")]
    second = path.second_stage
    assert nonzero(cohort) == {
        "created": 1,
        "won_now": 1,
        "reached_2": 1,
        f"reached_{second}": 1,
        "went_on_1": 1,
        "went_on_2": 1,
        f"went_on_{second}": 1,
    }
    # Changes count for the owner recorded on them; the loss is no longer the latest closing.
    assert nonzero(daily[(days_ago(3).date(), pipeline, "sam", "web", "smb")]) == {
        "reopened": 1,
        "reopened_won": 1,
    }
    assert nonzero(daily[(days_ago(1).date(), pipeline, "kim", "web", "smb")]) == {"closed_won": 1}
    assert set(daily) == {
        (days_ago(10).date(), pipeline, "kim", "web", "smb"),
        (days_ago(3).date(), pipeline, "sam", "web", "smb"),
        (days_ago(1).date(), pipeline, "kim", "web", "smb"),
    }
    # Money counts at the value the change recorded: the loss at 1,200, the win at 1,500.50.
    loss = ("lost", path.lost[1], path.second[0], "Globex", "EUR")
    lost = {"n": 1, "valued": 1, "amount": Decimal("1200.00")}
    assert snap["metrics_losses"] == {
        (False, days_ago(5).date(), pipeline, "sam", "web", "smb", *loss): lost,
        (True, days_ago(5).date(), pipeline, None, None, None, *loss): lost,
    }
    won = (days_ago(1).date(), pipeline, "kim", "web", "smb", "won", "EUR")
    assert snap["metrics_revenue"][("full", *won)] == {
        "n": 1,
        "valued": 1,
        "amount": Decimal("1500.50"),
    }
    # The full grain, each single dimension and overall: the win alone, at its amount.
    kept = [(v["n"], v["valued"], str(v["amount"])) for v in snap["metrics_revenue"].values()]
    assert kept == [(1, 1, "1500.50")] * 5
    stays = {
        (k[2], k[3], k[6]): v["n"]
        for k, v in snap["metrics_durations"].items()
        if k[:2] == ("stay", "all")
    }
    assert stays == {
        (workflow.initial, days_ago(8).date(), 2): 1,  # 09:00 ten days ago to noon eight days ago
        (path.first[0], days_ago(7).date(), 1): 1,
        (path.second[0], days_ago(5).date(), 2): 1,
        (path.second[0], days_ago(1).date(), 2): 1,
    }
    cycle = ("cycle", "owner", "won", days_ago(1).date(), pipeline, "kim", 9)
    assert snap["metrics_durations"][cycle] == {"n": 1}
    # Where it stands now: won, so without the money open deals carry.
    assert snap["metrics_pipeline"] == {
        (pipeline, path.won[0], "kim", "web", "smb", None): {"n": 1}
    }
    assert snap["metrics_open_money"] == {}


@pytest.mark.parametrize("pipeline", [DEFAULT_PIPELINE, ENTERPRISE])
async def test_random_history_over_months_keeps_rollups_exact(
    pool: asyncpg.Pool, workflows: Workflows, pipeline: str
) -> None:
    """200 leads over 200 days: reassignments, corrected sources, creation times set afterwards;
    on the custom pipeline, then an edit remapping the leads of two statuses it removes."""
    await _workflow(pool, workflows, pipeline)
    await write_history(
        pool, workflows, leads=200, seed=11, now=datetime.now(UTC), pipeline=pipeline
    )
    if pipeline == ENTERPRISE:
        await write_history(
            pool, workflows, leads=30, seed=12, now=datetime.now(UTC), pipeline=pipeline, days=20
        )
        moved = await edit_enterprise_with_remap(pool, workflows)
        assert all(moved.values()), moved
    snap = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, snap)
    assert len({k[0] for k in snap["daily"]}) > 60
    assert total(snap, "daily", "reopened_won") > 0


async def test_a_remap_moves_the_standing_and_ends_a_stay_but_closes_nothing(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """A lead lost to a competitor and one in a proof of concept, when an edit removes both
    statuses: the lost one stays closed as it was (its day, its loss), the open one's stay ends;
    both stand in their new statuses."""
    workflow = await define_enterprise(pool, workflows)
    dims = {"owner": "alex", "source": "web", "segment": "smb"}
    async with pool.acquire() as conn:
        lost = await insert_lead(conn, workflow, "lost@example.com", days_ago(9, 9), **dims)
        await record_by_sql(conn, workflow, lost, "discovery", "call_held", days_ago(8))
        await record_by_sql(conn, workflow, lost, "proof_of_concept", "poc_agreed", days_ago(7))
        await record_by_sql(
            conn,
            workflow,
            lost,
            "lost_to_competitor",
            "chose_competitor",
            days_ago(6),
            competitor="Globex",
        )
        poc = await insert_lead(conn, workflow, "poc@example.com", days_ago(4, 9), **dims)
        await record_by_sql(conn, workflow, poc, "discovery", "call_held", days_ago(3))
        await record_by_sql(conn, workflow, poc, "proof_of_concept", "poc_agreed", days_ago(2))
    before = await assert_rollups_exact(pool)
    assert await edit_enterprise_with_remap(pool, workflows) == {
        "proof_of_concept": 1,
        "lost_to_competitor": 1,
    }
    after = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, after)
    today = datetime.now(UTC).date()
    days = (datetime.now(UTC) - days_ago(2)) // timedelta(days=1)
    assert {k: nonzero(v) for k, v in after["metrics_pipeline"].items()} == {
        (ENTERPRISE, "closed_lost", "alex", "web", "smb", None): {"n": 1},
        (ENTERPRISE, "discovery", "alex", "web", "smb", None): {"n": 1},
    }
    # Closings, losses and cycle times are as they were; the creation counts too (a remap to
    # discovery holds a stage already held).
    assert after["daily"] == before["daily"]
    assert after["metrics_losses"] == before["metrics_losses"]
    # The stay in the proof of concept ended today (two days); nothing else was added.
    added = {
        k: v["n"] - before["metrics_durations"].get(k, {"n": 0})["n"]
        for k, v in after["metrics_durations"].items()
        if v != before["metrics_durations"].get(k)
    }
    assert added == {
        ("stay", dimension, "proof_of_concept", today, ENTERPRISE, value, days): 1
        for dimension, value in (
            ("all", None),
            ("owner", "alex"),
            ("source", "web"),
            ("segment", "smb"),
        )
    }


async def test_several_changes_in_one_insert_statement(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """A history appended by multi-row INSERTs (as a load without 'off' would).

    The first changes were sam's, before the lead went to alex (the edit below, as a PATCH
    would make it): each change counts for the owner recorded on it, the cohort and the
    pipeline for the lead's owner now.
    """
    workflow = await workflows.current(DEFAULT_PIPELINE)
    async with pool.acquire() as conn:
        lead_id = await insert_lead(conn, workflow, "bulk@example.com", days_ago(20), owner="sam")
        columns = (
            "(lead_id, from_status, to_status, reason, reopened, owner, at, from_outcome,"
            " to_outcome)"
        )
        await conn.execute(
            f"INSERT INTO lead_status_changes {columns} VALUES"
            " ($1, 'new', 'qualified', 'need_confirmed', false, 'sam', $2, 'open', 'open'),"
            " ($1, 'qualified', 'no_decision', 'postponed', false, 'sam', $3, 'open',"
            " 'no_decision')",
            lead_id,
            days_ago(18),
            days_ago(15),
        )
        await conn.execute(
            "UPDATE leads SET status = 'no_decision', outcome = 'no_decision', version = 3"
            " WHERE id = $1",
            lead_id,
        )
        await conn.execute("UPDATE leads SET owner = 'alex' WHERE id = $1", lead_id)
        await conn.execute(
            f"INSERT INTO lead_status_changes {columns} VALUES"
            " ($1, 'no_decision', 'negotiating', 'budget_approved', true, 'alex', $2,"
            " 'no_decision', 'open'),"
            " ($1, 'negotiating', 'qualified', 'scope_changed', false, 'alex', $3, 'open', 'open'),"
            " ($1, 'qualified', 'won', 'contract_signed', false, 'alex', $4, 'open', 'won')",
            lead_id,
            days_ago(9),
            days_ago(6),
            days_ago(2),
        )
        # The lead's own row catches up with its history, as the service's statement does.
        await conn.execute(
            "UPDATE leads SET status = 'won', outcome = 'won', status_reason = 'contract_signed',"
            " version = 6, reopen_count = 1, closed_at = $2 WHERE id = $1",
            lead_id,
            days_ago(2),
        )
    snap = await assert_rollups_exact(pool)
    await assert_totals_match_history(pool, snap)
    daily = {k: nonzero(v) for k, v in snap["daily"].items()}
    assert daily == {
        (days_ago(20).date(), "default", "alex", None, None): {
            "created": 1,
            "won_now": 1,
            "reached_3": 1,
            "reached_4": 1,
            "went_on_1": 1,
            "went_on_3": 1,
            "went_on_4": 1,
        },
        # sam's no-decision on day -15 is no longer the latest closing: no row is left there.
        (days_ago(9).date(), "default", "alex", None, None): {"reopened": 1, "reopened_won": 1},
        (days_ago(2).date(), "default", "alex", None, None): {"closed_won": 1},
    }
    loss = ("no_decision", "postponed", "qualified", None, None)  # no competitor, no value
    unvalued = {"n": 1, "valued": 0, "amount": 0}
    assert snap["metrics_losses"] == {
        (False, days_ago(15).date(), "default", "sam", None, None, *loss): unvalued,
        (True, days_ago(15).date(), "default", None, None, None, *loss): unvalued,
    }
