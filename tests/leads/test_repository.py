"""LeadRepository and the use cases on real PostgreSQL: versions, history, keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from app.leads import service
from app.leads.domain import ChangeDetails, LeadFilter
from app.leads.repository import LeadRepository, to_domain
from app.pipelines.cache import Workflows
from app.platform.errors import DuplicateOpenLead, StaleVersion, TransitionNotAllowed
from tests.example_pipelines import DEFAULT


async def test_record_change_moves_the_lead_and_appends_history_at_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        repo = LeadRepository(conn)
        row = await repo.insert(
            {"email": "r@example.com", "owner": "alex", "attributes": {}}, DEFAULT
        )
        assert row is not None
        lead = to_domain(row)
        now = datetime.now(UTC)
        change = lead.transition(
            DEFAULT, "contacted", "call_connected", now=now, details=ChangeDetails(actor="alex")
        )
        moved = await repo.record_change(row["id"], lead, change)
        assert moved is not None and moved["status"] == "contacted" and moved["version"] == 2
        # The same decision against the version it was made on no longer applies.
        assert await repo.record_change(row["id"], lead, change) is None
        history = await repo.history(row["id"])
    assert len(history) == 1
    assert (
        history[0]["actor"] == "alex" and history[0]["owner"] == "alex" and history[0]["at"] == now
    )


async def test_use_case_refuses_stale_if_match(pool: asyncpg.Pool, workflows: Workflows) -> None:
    row = await service.create_lead(
        pool, workflows, fields={"email": "s@example.com", "attributes": {}}
    )
    with pytest.raises(StaleVersion):
        await service.transition_lead(
            pool,
            workflows,
            lead_id=row["id"],
            to="contacted",
            reason="call_connected",
            details=ChangeDetails(),
            if_match=7,
        )


async def test_use_case_refuses_duplicate_open_email(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    row = await service.create_lead(
        pool, workflows, fields={"email": "d@example.com", "attributes": {}}
    )
    with pytest.raises(DuplicateOpenLead) as refused:
        await service.create_lead(
            pool, workflows, fields={"email": "D@example.com", "attributes": {}}
        )
    assert refused.value.facts["existing_lead_id"] == row["id"]


async def test_refused_transition_writes_nothing(pool: asyncpg.Pool, workflows: Workflows) -> None:
    row = await service.create_lead(
        pool, workflows, fields={"email": "t@example.com", "attributes": {}}
    )
    with pytest.raises(TransitionNotAllowed):
        await service.transition_lead(
            pool,
            workflows,
            lead_id=row["id"],
            to="won",
            reason="contract_signed",
            details=ChangeDetails(),
        )
    assert await pool.fetchval("SELECT count(*) FROM lead_status_changes") == 0
    assert await pool.fetchval("SELECT version FROM leads WHERE id = $1", row["id"]) == 1


async def test_keyset_pages_do_not_shift_when_leads_arrive(
    pool: asyncpg.Pool, workflows: Workflows
) -> None:
    ids = [
        (
            await service.create_lead(
                pool, workflows, fields={"email": f"k{i}@example.com", "attributes": {}}
            )
        )["id"]
        for i in range(5)
    ]
    first, cursor = await service.list_leads(pool, where=LeadFilter(), before_id=None, limit=2)
    assert [r["id"] for r in first] == [ids[4], ids[3]] and cursor == ids[3]
    await service.create_lead(
        pool, workflows, fields={"email": "late@example.com", "attributes": {}}
    )
    second, cursor = await service.list_leads(pool, where=LeadFilter(), before_id=cursor, limit=2)
    assert [r["id"] for r in second] == [ids[2], ids[1]]
    last, cursor = await service.list_leads(pool, where=LeadFilter(), before_id=cursor, limit=2)
    assert [r["id"] for r in last] == [ids[0]] and cursor is None
