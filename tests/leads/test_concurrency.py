"""Many simultaneous status changes to one lead: exactly one applies, history replays; and a
pipeline edit against status changes in flight: none is applied under a version no longer
current."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.leads import service
from app.leads.domain import ChangeDetails
from app.pipelines.cache import Workflows
from app.pipelines.repository import PipelineDefinitionRepository
from app.pipelines.service import apply_pipeline
from app.platform.errors import (
    ConcurrentChange,
    ServiceError,
    StaleVersion,
    TransitionNotAllowed,
    UnknownStatus,
)
from tests.example_pipelines import DEFAULT, ENTERPRISE_DOCUMENT


async def _lead_at(
    pool: asyncpg.Pool,
    workflows: Workflows,
    *,
    email: str = "race@example.com",
    pipeline: str = "default",
    to: str = "qualified",
    reason: str = "need_confirmed",
) -> int:
    """A new lead of `pipeline`, moved once to `to`."""
    row = await service.create_lead(
        pool, workflows, fields={"email": email, "attributes": {}}, pipeline=pipeline
    )
    await service.transition_lead(
        pool, workflows, lead_id=row["id"], to=to, reason=reason, details=ChangeDetails()
    )
    lead_id: int = row["id"]
    return lead_id


def _attempts() -> list[tuple[str, str, ChangeDetails]]:
    revisit = ChangeDetails(revisit_at=datetime.now(UTC) + timedelta(days=90))
    closing = [
        ("won", "contract_signed", ChangeDetails()),
        ("lost", "price", ChangeDetails()),
        ("no_decision", "postponed", ChangeDetails()),
        ("recycled", "nurture", revisit),
        ("disqualified", "not_a_fit", ChangeDetails()),
    ]
    return closing * 8


async def _replay(pool: asyncpg.Pool, lead_id: int) -> str:
    status = DEFAULT.initial
    for row in await pool.fetch(
        "SELECT * FROM lead_status_changes WHERE lead_id = $1 ORDER BY id", lead_id
    ):
        assert row["from_status"] == status
        target = row["to_status"]
        assert row["reopened"] or target in DEFAULT.allowed_targets(status)
        status = target
    return status


async def test_simultaneous_closings_of_one_lead_apply_exactly_once(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    lead_id = await _lead_at(pool, workflows)
    results = await asyncio.gather(
        *(
            service.transition_lead(
                pool, workflows, lead_id=lead_id, to=to, reason=reason, details=details
            )
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
    assert await _replay(pool, lead_id) == final["status"]


async def test_simultaneous_if_match_changes_let_one_through(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    lead_id = await _lead_at(pool, workflows)
    moves = [("negotiating", "proposal_sent"), ("won", "online_checkout")] * 10
    results = await asyncio.gather(
        *(
            service.transition_lead(
                pool,
                workflows,
                lead_id=lead_id,
                to=to,
                reason=reason,
                details=ChangeDetails(),
                if_match=2,
            )
            for to, reason in moves
        ),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, StaleVersion) for r in results if isinstance(r, ServiceError)), results
    assert await _replay(pool, lead_id) == wins[0]["status"]


def _without_proof_of_concept() -> dict[str, Any]:
    document = copy.deepcopy(ENTERPRISE_DOCUMENT)
    document["statuses"] = [s for s in document["statuses"] if s["key"] != "proof_of_concept"]
    document["transitions"].pop("proof_of_concept")
    for targets in document["transitions"].values():
        if "proof_of_concept" in targets:
            targets.remove("proof_of_concept")
    document["transitions"]["discovery"].append("lost_to_competitor")
    document["reopen_targets"].remove("proof_of_concept")
    document["reasons"].pop("proof_of_concept")
    return {**document, "remap": {"proof_of_concept": "proposal"}}


async def _enterprise_lead(pool: asyncpg.Pool, workflows: Workflows, email: str) -> int:
    return await _lead_at(
        pool, workflows, email=email, pipeline="enterprise", to="discovery", reason="call_held"
    )


async def test_a_move_decided_under_a_version_an_edit_replaces_is_decided_again(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    """The edit holds its lock while a move into the status it removes is decided under v1:
    the move waits, sees v2 current, and is decided again under it (where that status is gone),
    so no lead lands in a status its pipeline no longer has."""
    await apply_pipeline(
        pool, workflows, name="enterprise", body=ENTERPRISE_DOCUMENT, if_match=None, created_by="t"
    )
    lead_id = await _enterprise_lead(pool, workflows, "poc@example.com")
    async with pool.acquire() as holder:
        hold = holder.transaction()
        await hold.start()
        await PipelineDefinitionRepository(holder).lock_for_edit()
        edit = asyncio.create_task(
            apply_pipeline(
                pool,
                Workflows(pool),
                name="enterprise",
                body=_without_proof_of_concept(),
                if_match=1,
                created_by="t",
            )
        )
        await asyncio.sleep(0.2)  # the edit now waits for the lock
        move = asyncio.create_task(
            service.transition_lead(
                pool,
                workflows,
                lead_id=lead_id,
                to="proof_of_concept",
                reason="poc_agreed",
                details=ChangeDetails(),
            )
        )
        await asyncio.sleep(0.3)  # the move has read v1, decided, and waits behind the edit
        assert not edit.done() and not move.done()
        await hold.rollback()
    applied = await edit
    assert applied.record["version"] == 2
    with pytest.raises(UnknownStatus):
        await move
    row = await pool.fetchrow("SELECT status, pipeline_version FROM leads WHERE id = $1", lead_id)
    assert (row["status"], row["pipeline_version"]) == ("discovery", 1)


async def test_moves_racing_an_edit_leave_no_lead_in_a_removed_status(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    await apply_pipeline(
        pool, workflows, name="enterprise", body=ENTERPRISE_DOCUMENT, if_match=None, created_by="t"
    )
    ids = [await _enterprise_lead(pool, workflows, f"l{i}@example.com") for i in range(30)]
    moves = [
        service.transition_lead(
            pool,
            workflows,
            lead_id=lead_id,
            to="proof_of_concept",
            reason="poc_agreed",
            details=ChangeDetails(),
        )
        for lead_id in ids
    ]
    edit = apply_pipeline(
        pool,
        Workflows(pool),
        name="enterprise",
        body=_without_proof_of_concept(),
        if_match=1,
        created_by="t",
    )
    results = await asyncio.gather(*moves[:15], edit, *moves[15:], return_exceptions=True)
    refusals = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, UnknownStatus) for r in refusals), refusals
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM leads"
            " WHERE pipeline = 'enterprise' AND status = 'proof_of_concept'"
        )
        == 0
    )
    moved = len(results) - 1 - len(refusals)
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM lead_status_changes WHERE reason = 'pipeline_remap'"
        )
        == moved
    )
    assert await pool.fetchval("SELECT count(*) FROM leads WHERE status = 'proposal'") == moved
