"""Concurrent writers keep the rollups exact, and never wait for rollup rows.

Creates, transitions, reopenings and edits race on the same rollup rows (one owner, source and
segment); status changes only append deltas, so a session holding every rollup row (as a fold
does while it adds to them) does not slow them down.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from app.leads import service
from app.leads.domain import ChangeDetails
from app.pipelines.cache import Workflows
from app.platform.errors import ConcurrentChange, TransitionNotAllowed
from tests.metrics.rollups_support import (
    SAME,
    assert_rollups_exact,
    assert_totals_match_history,
    days_ago,
    move,
    new_lead,
    total,
)


async def test_concurrent_changes_on_the_same_rollup_rows(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """Creates, transitions, reopenings and edits at once, all on one owner, source and segment."""
    revisit = datetime.now(UTC) + timedelta(days=45)
    closings = [
        ("won", "contract_signed", ChangeDetails()),
        ("lost", "price", ChangeDetails()),
        ("no_decision", "postponed", ChangeDetails(revisit_at=revisit)),
        ("recycled", "nurture", ChangeDetails(revisit_at=revisit)),
        ("negotiating", "proposal_sent", ChangeDetails()),
    ]
    for round_ in range(3):
        tag = f"r{round_}"
        qualified = [await new_lead(pool, workflows, f"{tag}q{i}@example.com") for i in range(8)]
        lost = [await new_lead(pool, workflows, f"{tag}l{i}@example.com") for i in range(6)]
        contested = await new_lead(pool, workflows, f"{tag}c@example.com")
        # Creation days spread out (set before any history, as a load would): a change then
        # also touches its lead's cohort row of another day.
        await pool.execute(
            "UPDATE leads SET created_at = now() - (id % 4) * interval '1 day'"
            " WHERE id = ANY($1::bigint[])",
            [*qualified, *lost],
        )
        for lead_id in qualified:
            await move(pool, workflows, lead_id, [("qualified", "need_confirmed")])
        for lead_id in lost:
            await move(
                pool,
                workflows,
                lead_id,
                [("qualified", "budget_confirmed"), ("lost", "competitor")],
            )
        await move(pool, workflows, contested, [("contacted", "call_connected")])

        expected = [
            *(
                service.create_lead(
                    pool,
                    workflows,
                    fields={"email": f"{tag}n{i}@example.com", "attributes": {}, **SAME},
                )
                for i in range(8)
            ),
            *(
                service.transition_lead(
                    pool, workflows, lead_id=lead_id, to=to, reason=reason, details=details
                )
                for lead_id, (to, reason, details) in zip(qualified, closings * 2, strict=False)
            ),
            *(
                service.reopen_lead(
                    pool,
                    workflows,
                    lead_id=lead_id,
                    reason="competitor_failed",
                    to=None,
                    details=ChangeDetails(),
                )
                for lead_id in lost[:4]
            ),
            *(  # edits racing a transition (qualified[0]) and a reopening (lost[3]) of one lead
                service.update_lead(
                    pool, lead_id=lead_id, changes={"segment": "enterprise"}, if_match=None
                )
                for lead_id in (*lost[3:], qualified[0])
            ),
        ]
        contested_moves = [
            service.transition_lead(
                pool, workflows, lead_id=contested, to=to, reason=reason, details=ChangeDetails()
            )
            for to, reason in [("qualified", "need_confirmed"), ("dead", "unreachable")] * 3
        ]
        results = await asyncio.gather(*expected, *contested_moves, return_exceptions=True)
        assert len(results) >= 30
        done, raced = results[: len(expected)], results[len(expected) :]
        failures = [r for r in done if isinstance(r, BaseException)]
        assert not failures, failures
        assert sum(not isinstance(r, BaseException) for r in raced) == 1, raced
        assert all(
            isinstance(r, TransitionNotAllowed | ConcurrentChange)
            for r in raced
            if isinstance(r, BaseException)
        ), raced
        snap = await assert_rollups_exact(pool)
        await assert_totals_match_history(pool, snap)
    assert total(snap, "daily", "created") == 3 * 23
    assert total(snap, "daily", "reopened") == 3 * 4


async def test_writers_never_wait_for_rollup_rows(
    pool: asyncpg.Pool, workflows: Workflows, own_connection: asyncpg.Connection
) -> None:
    """Status changes append deltas; a session holding every rollup row does not slow them.

    Both leads were created three days ago; winning one and reopening the other each touch the
    cohort rows of that day and the closing rows of today. Another session locks those rows (as
    a fold does while it adds to them): the changes must finish while it still holds them.
    """
    created = days_ago(3)
    for round_ in range(3):
        winner = await new_lead(pool, workflows, f"k{round_}w@example.com")
        reopened = await new_lead(pool, workflows, f"k{round_}r@example.com")
        await pool.execute(
            "UPDATE leads SET created_at = $2 WHERE id = ANY($1::bigint[])",
            [winner, reopened],
            created,
        )
        await move(pool, workflows, winner, [("qualified", "need_confirmed")])
        await move(
            pool, workflows, reopened, [("qualified", "need_confirmed"), ("lost", "competitor")]
        )
        await pool.execute("SELECT metrics_fold()")
        async with own_connection.transaction():
            held = {
                r["day"]
                for table in ("metrics_cohorts", "metrics_closings")
                for r in await own_connection.fetch(
                    f"SELECT day FROM {table} WHERE (owner, source, segment) = ($1, $2, $3)"
                    " ORDER BY day FOR UPDATE",
                    *SAME.values(),
                )
            }
            assert sorted(held) == [created.date(), datetime.now(UTC).date()]
            changes = asyncio.gather(
                service.transition_lead(
                    pool,
                    workflows,
                    lead_id=winner,
                    to="won",
                    reason="contract_signed",
                    details=ChangeDetails(),
                ),
                service.reopen_lead(
                    pool,
                    workflows,
                    lead_id=reopened,
                    reason="competitor_failed",
                    to="negotiating",
                    details=ChangeDetails(),
                ),
            )
            await asyncio.wait_for(changes, timeout=10)
    snap = await assert_rollups_exact(pool)
    assert total(snap, "daily", "reopened_won") == 0
    assert total(snap, "daily", "reached_4") == 3
