"""The automatic closing of stale leads against the real database: what a round closes, how it
is recorded, bounded rounds, and several processes at once."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta

import asyncpg
import httpx

from app.leads.service import close_stale_leads, utc_now
from app.main import create_app
from app.pipelines.cache import Workflows
from app.pipelines.default import DEFAULT_DOCUMENT
from app.platform.db import create_pool
from app.platform.settings import Settings
from tests.http_support import create, move


async def _closing_contacted_after(client: httpx.AsyncClient, days: int) -> None:
    doc = copy.deepcopy(DEFAULT_DOCUMENT)
    for status in doc["statuses"]:
        if status["key"] == "contacted":
            status["auto_close_after_days"] = days
    assert (await client.put("/v1/pipelines/default", json=doc)).status_code == 200


async def _contacted_since(
    client: httpx.AsyncClient, pool: asyncpg.Pool, email: str, days: float
) -> int:
    lead = await create(client, email)
    assert (await move(client, lead["id"], "contacted", "call_connected")).status_code == 200
    await pool.execute(
        "UPDATE leads SET status_since = now() - make_interval(secs => $2 * 86400) WHERE id = $1",
        lead["id"],
        days,
    )
    lead_id: int = lead["id"]
    return lead_id


async def test_a_round_closes_the_overdue_leads_through_the_workflow(
    client: httpx.AsyncClient, pool: asyncpg.Pool, workflows: Workflows
) -> None:
    await _closing_contacted_after(client, 30)
    overdue = await _contacted_since(client, pool, "overdue@example.com", 31)
    recent = await _contacted_since(client, pool, "recent@example.com", 29)
    untouched = await create(client, "new@example.com")
    await pool.execute(
        "UPDATE leads SET status_since = now() - interval '400 days' WHERE id = $1",
        untouched["id"],
    )
    recorded: list[object] = []
    assert await close_stale_leads(pool, workflows, now=utc_now(), on_recorded=recorded.append) == 1
    assert len(recorded) == 1
    lead = (await client.get(f"/v1/leads/{overdue}")).json()
    assert (lead["status"], lead["status_reason"], lead["closed_from"]) == (
        "no_decision",
        "stale",
        "contacted",
    )
    last = (await client.get(f"/v1/leads/{overdue}/history")).json()[-1]
    assert (last["reason"], last["actor"], last["api_key"]) == ("stale", "system", None)
    assert "30 days in Contacted" in last["note"]
    for other in (recent, untouched["id"]):
        assert (await client.get(f"/v1/leads/{other}")).json()["outcome"] == "open"
    events = (await client.get("/v1/events", params={"lead_id": overdue})).json()["events"]
    assert events[-1]["type"] == "lead.status_changed"
    # Recorded and reopenable like any closing; a second round finds nothing more.
    r = await client.post(f"/v1/leads/{overdue}/reopen", json={"reason": "budget_approved"})
    assert r.status_code == 200 and r.json()["status"] == "contacted"
    assert await close_stale_leads(pool, workflows, now=utc_now()) == 0


async def test_rounds_are_bounded_and_work_a_backlog_off_longest_overdue_first(
    client: httpx.AsyncClient, pool: asyncpg.Pool, workflows: Workflows
) -> None:
    await _closing_contacted_after(client, 10)
    ids = [await _contacted_since(client, pool, f"b{i}@example.com", 20 + i) for i in range(5)]
    now = utc_now()
    assert await close_stale_leads(pool, workflows, now=now, limit=2) == 2
    closed = await pool.fetch("SELECT id FROM leads WHERE status = 'no_decision' ORDER BY id")
    assert [r["id"] for r in closed] == ids[3:]
    assert await close_stale_leads(pool, workflows, now=now, limit=2) == 2
    assert await close_stale_leads(pool, workflows, now=now, limit=2) == 1
    assert await close_stale_leads(pool, workflows, now=now, limit=2) == 0


async def test_processes_closing_at_once_close_each_lead_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, database_url: str, settings: Settings
) -> None:
    await _closing_contacted_after(client, 5)
    for i in range(40):
        await _contacted_since(client, pool, f"p{i}@example.com", 6)
    pools = [await create_pool(database_url, settings, size=2) for _ in range(3)]
    try:
        now = utc_now() + timedelta(seconds=1)
        totals = await asyncio.gather(
            *(close_stale_leads(p, Workflows(p), now=now, limit=7) for p in pools for _ in range(3))
        )
        while (more := await close_stale_leads(pool, Workflows(pool), now=now)) > 0:
            totals.append(more)
    finally:
        for p in pools:
            await p.close()
    assert sum(totals) == 40
    per_lead = await pool.fetch(
        "SELECT lead_id, count(*) AS n FROM lead_status_changes WHERE reason = 'stale'"
        " GROUP BY lead_id"
    )
    assert len(per_lead) == 40 and {r["n"] for r in per_lead} == {1}


async def _served_with_interval(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    database_url: str,
    settings: Settings,
    interval_s: float,
) -> tuple[str, str]:
    """Run an app's lifespan with `interval_s` until its lead, 4 days in a status that closes
    after 3, is closed (or 1 s has gone by); the lead's status and the app's metrics then."""
    await _closing_contacted_after(client, 3)
    lead_id = await _contacted_since(client, pool, f"served{interval_s}@example.com", 4)
    serving = create_app(
        settings=settings.model_copy(update={"auto_close_interval_s": interval_s}),
        database_url=database_url,
    )
    async with serving.router.lifespan_context(serving):
        for _ in range(20):
            status: str = await pool.fetchval("SELECT status FROM leads WHERE id = $1", lead_id)
            if status != "contacted":
                break
            await asyncio.sleep(0.05)
    return status, serving.state.instruments.exposition(None)[0].decode()


async def test_a_serving_process_closes_overdue_leads_in_the_background(
    client: httpx.AsyncClient, pool: asyncpg.Pool, database_url: str, settings: Settings
) -> None:
    status, counted = await _served_with_interval(client, pool, database_url, settings, 0.1)
    assert status == "no_decision"
    assert (
        'leadstatus_lead_transitions_total{from_status="contacted",reason="stale",'
        'to_status="no_decision"} 1.0' in counted
    )


async def test_a_process_set_to_zero_never_closes(
    client: httpx.AsyncClient, pool: asyncpg.Pool, database_url: str, settings: Settings
) -> None:
    status, counted = await _served_with_interval(client, pool, database_url, settings, 0)
    assert status == "contacted"
    assert 'reason="stale"' not in counted
