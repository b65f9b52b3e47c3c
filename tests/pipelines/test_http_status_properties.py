"""The forecast and hygiene properties of a pipeline's statuses, as served and as SQL sees them,
and `status_since`, the moment a lead entered its status."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from app.pipelines.default import DEFAULT_DOCUMENT
from tests.http_support import create, move


def _hygienic() -> dict[str, Any]:
    doc = copy.deepcopy(DEFAULT_DOCUMENT)
    for status in doc["statuses"]:
        if status["key"] == "qualified":
            status |= {"probability": 0.3, "stale_after_days": 21, "forecast_category": "best_case"}
        if status["key"] == "negotiating":
            status |= {"stale_after_days": 30, "forecast_category": "commit"}
            status["auto_close_after_days"] = 120
    return doc


async def test_the_workflow_serves_each_statuss_forecast_and_hygiene_properties(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.put("/v1/pipelines/default", json=_hygienic())).status_code == 200
    statuses = {s["name"]: s for s in (await client.get("/v1/workflow")).json()["statuses"]}
    negotiating = statuses["negotiating"]
    assert negotiating["forecast_category"] == "commit"
    assert (negotiating["auto_close_after_days"], negotiating["auto_close_to"]) == (
        120,
        "no_decision",
    )
    assert (statuses["qualified"]["probability"], statuses["qualified"]["stale_after_days"]) == (
        0.3,
        21,
    )
    assert statuses["new"]["forecast_category"] == "pipeline"
    assert statuses["won"]["forecast_category"] is None
    assert statuses["contacted"]["auto_close_to"] is None


async def test_the_properties_are_columns_and_stale_is_accepted_only_where_leads_auto_close(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    assert (await client.put("/v1/pipelines/default", json=_hygienic())).status_code == 200
    rows = await pool.fetch(
        "SELECT version, key, probability, stale_after_days, forecast_category,"
        " auto_close_after_days FROM pipeline_statuses"
        " WHERE pipeline = 'default' AND key IN ('qualified', 'negotiating') ORDER BY version, key"
    )
    assert [tuple(r) for r in rows] == [
        (1, "negotiating", None, None, None, None),
        (1, "qualified", None, None, None, None),
        (2, "negotiating", None, 30, "commit", 120),
        (2, "qualified", 0.3, 21, "best_case", None),
    ]
    stale = await pool.fetch(
        "SELECT version, to_status FROM pipeline_reasons WHERE pipeline = 'default'"
        " AND code = 'stale' ORDER BY version"
    )
    assert [tuple(r) for r in stale] == [(2, "no_decision")]
    # A client still cannot use the reserved reason: the domain knows no such code.
    lead = await create(client, "reserved@example.com")
    r = await move(client, lead["id"], "contacted", "stale")
    assert r.status_code == 422 and "stale" not in r.json()["allowed_reasons"]


async def test_status_since_is_the_creation_then_the_latest_change(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    lead = await create(client, "since@example.com")
    assert lead["status_since"] == lead["created_at"]
    moved = await move(client, lead["id"], "contacted", "call_connected")
    history = (await client.get(f"/v1/leads/{lead['id']}/history")).json()
    assert moved.json()["status_since"] == history[-1]["at"]
    edited = await client.patch(f"/v1/leads/{lead['id']}", json={"company": "Initech"})
    assert edited.json()["status_since"] == moved.json()["status_since"]
    kept = await pool.fetchval("SELECT status_since FROM leads WHERE id = $1", lead["id"])
    assert datetime.fromisoformat(moved.json()["status_since"]) == kept


async def test_a_remap_by_a_pipeline_edit_keeps_status_since(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    lead = await create(client, "remapped@example.com", estimated_value="10.00", currency="EUR")
    moved = (await move(client, lead["id"], "contacted", "call_connected")).json()
    doc = copy.deepcopy(DEFAULT_DOCUMENT)
    doc["statuses"] = [s for s in doc["statuses"] if s["key"] != "contacted"]
    doc["transitions"] = {
        k: [t for t in v if t != "contacted"]
        for k, v in doc["transitions"].items()
        if k != "contacted"
    }
    doc["reopen_targets"] = [t for t in doc["reopen_targets"] if t != "contacted"] or ["new"]
    doc["reasons"].pop("contacted")
    r = await client.put("/v1/pipelines/default", json={**doc, "remap": {"contacted": "new"}})
    assert r.status_code == 200, r.text
    after = (await client.get(f"/v1/leads/{lead['id']}")).json()
    assert (after["status"], after["status_reason"]) == ("new", "pipeline_remap")
    assert after["status_since"] == moved["status_since"]
    assert await pool.fetchval("SELECT count(*) FROM lead_status_changes") == 2
    remap = (await client.get(f"/v1/leads/{lead['id']}/history")).json()[-1]
    assert (remap["reason"], remap["estimated_value"], remap["currency"]) == (
        "pipeline_remap",
        "10.00",
        "EUR",
    )


async def _sat_for(pool: asyncpg.Pool, lead_id: int, days: float) -> None:
    await pool.execute(
        "UPDATE leads SET status_since = now() - make_interval(secs => $2 * 86400) WHERE id = $1",
        lead_id,
        days,
    )


async def test_stale_leads_are_open_ones_past_their_statuss_stale_after_days(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    doc = copy.deepcopy(DEFAULT_DOCUMENT)
    for status in doc["statuses"]:
        if status["key"] in ("contacted", "lost"):
            status["stale_after_days"] = 7
    assert (await client.put("/v1/pipelines/default", json=doc)).status_code == 200
    leads = [await create(client, f"s{i}@example.com", owner="mia") for i in range(5)]
    ids = [lead["id"] for lead in leads]
    for lead_id in ids[:3]:
        assert (await move(client, lead_id, "contacted", "call_connected")).status_code == 200
    assert (await move(client, ids[2], "no_decision", "unresponsive")).status_code == 200
    await _sat_for(pool, ids[0], 8)  # contacted for 8 days: stale
    await _sat_for(pool, ids[1], 6.9)  # contacted, not yet
    await _sat_for(pool, ids[2], 30)  # closed: never stale
    await _sat_for(pool, ids[3], 30)  # new has no stale_after_days

    async def stale(**query: str) -> list[int]:
        r = await client.get("/v1/leads", params={"stale": "true", **query})
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert await stale() == [ids[0]]
    assert await stale(owner="mia", status="contacted") == [ids[0]]
    assert await stale(owner="someone.else") == []
    assert len((await client.get("/v1/leads")).json()["items"]) == 5
    # The status's staleness now counts: a longer one makes the lead fresh again.
    for status in doc["statuses"]:
        if status["key"] == "contacted":
            status["stale_after_days"] = 9
    assert (await client.put("/v1/pipelines/default", json=doc)).status_code == 200
    assert await stale() == []
