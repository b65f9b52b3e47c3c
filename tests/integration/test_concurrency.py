"""Many simultaneous status changes to one lead: exactly one applies, history replays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from app.domain.errors import ConcurrentChange, LeadError, StaleVersion, TransitionNotAllowed
from app.domain.lead import ChangeDetails
from app.domain.status import TRANSITIONS, LeadStatus
from app.services import leads as service


async def _qualified_lead(pool: asyncpg.Pool) -> int:
    row = await service.create_lead(pool, fields={"email": "race@example.com", "attributes": {}})
    await service.transition_lead(
        pool,
        lead_id=row["id"],
        to=LeadStatus.QUALIFIED,
        reason="need_confirmed",
        details=ChangeDetails(),
    )
    lead_id: int = row["id"]
    return lead_id


def _attempts() -> list[tuple[LeadStatus, str, ChangeDetails]]:
    revisit = ChangeDetails(revisit_at=datetime.now(UTC) + timedelta(days=90))
    closing = [
        (LeadStatus.WON, "contract_signed", ChangeDetails()),
        (LeadStatus.LOST, "price", ChangeDetails()),
        (LeadStatus.NO_DECISION, "postponed", ChangeDetails()),
        (LeadStatus.RECYCLED, "nurture", revisit),
        (LeadStatus.DISQUALIFIED, "not_a_fit", ChangeDetails()),
    ]
    return closing * 8


async def _replay(pool: asyncpg.Pool, lead_id: int) -> LeadStatus:
    status = LeadStatus.NEW
    for row in await pool.fetch(
        "SELECT * FROM lead_status_changes WHERE lead_id = $1 ORDER BY id", lead_id
    ):
        assert row["from_status"] == status
        target = LeadStatus(row["to_status"])
        assert row["reopened"] or target in TRANSITIONS[status]
        status = target
    return status


async def test_simultaneous_closings_of_one_lead_apply_exactly_once(pool: asyncpg.Pool) -> None:
    lead_id = await _qualified_lead(pool)
    results = await asyncio.gather(
        *(
            service.transition_lead(pool, lead_id=lead_id, to=to, reason=reason, details=details)
            for to, reason, details in _attempts()
        ),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    refusals = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, TransitionNotAllowed | ConcurrentChange) for r in refusals), refusals
    final = await pool.fetchrow("SELECT status, version FROM leads WHERE id = $1", lead_id)
    assert final["status"] == wins[0]["status"] and final["version"] == 3
    assert await _replay(pool, lead_id) == LeadStatus(final["status"])


async def test_simultaneous_if_match_changes_let_one_through(pool: asyncpg.Pool) -> None:
    lead_id = await _qualified_lead(pool)
    moves = [(LeadStatus.NEGOTIATING, "proposal_sent"), (LeadStatus.WON, "online_checkout")] * 10
    results = await asyncio.gather(
        *(
            service.transition_lead(
                pool, lead_id=lead_id, to=to, reason=reason, details=ChangeDetails(), if_match=2
            )
            for to, reason in moves
        ),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, StaleVersion) for r in results if isinstance(r, LeadError)), results
    assert await _replay(pool, lead_id) == LeadStatus(wins[0]["status"])
