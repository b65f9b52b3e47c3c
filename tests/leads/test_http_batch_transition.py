"""`POST /v1/leads:batch-transition`: many status changes, each decided and answered on its own."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from tests.http_support import assert_problem, create, move

URL = "/v1/leads:batch-transition"


async def _history_lengths(pool: asyncpg.Pool, *ids: int) -> list[int]:
    rows = await pool.fetch(
        "SELECT l.id, count(c.id) AS n FROM leads l LEFT JOIN lead_status_changes c"
        " ON c.lead_id = l.id WHERE l.id = ANY($1) GROUP BY l.id",
        list(ids),
    )
    counts = {r["id"]: r["n"] for r in rows}
    return [counts[i] for i in ids]


async def test_each_change_is_decided_on_its_own_and_answered_in_order(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    fresh = await create(client, "fresh@example.com")
    talking = await create(client, "talking@example.com")
    assert (await move(client, talking["id"], "contacted", "call_connected")).status_code == 200
    signed = await create(client, "signed@example.com")
    for to, reason in (("qualified", "budget_confirmed"), ("negotiating", "proposal_sent")):
        assert (await move(client, signed["id"], to, reason)).status_code == 200
    assert (await move(client, signed["id"], "won", "contract_signed")).status_code == 200
    changes: list[dict[str, Any]] = [
        {"lead_id": fresh["id"], "to": "contacted", "reason": "call_connected", "actor": "mia"},
        {"lead_id": signed["id"], "to": "lost", "reason": "price"},
        {"lead_id": 987654321, "to": "contacted", "reason": "call_connected"},
        {"lead_id": talking["id"], "to": "no_decision", "reason": "not_a_reason"},
        {"lead_id": talking["id"], "to": "qualified"},
        {"lead_id": talking["id"], "to": "no_decision", "reason": "unresponsive", "version": 1},
        {"lead_id": talking["id"], "to": "no_decision", "reason": "unresponsive", "version": 2},
    ]
    r = await client.post(URL, json={"changes": changes})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["changed"], body["rejected"]) == (2, 5)
    items = body["items"]
    assert [i["index"] for i in items] == list(range(7))
    assert [i["result"] for i in items] == [
        "changed",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "changed",
    ]
    assert [i["lead_id"] for i in items] == [c["lead_id"] for c in changes]
    assert (items[0]["status"], items[0]["version"]) == ("contacted", 2)
    assert (items[6]["status"], items[6]["version"]) == ("no_decision", 3)
    not_allowed = items[1]["problem"]
    assert not_allowed["type"] == "/problems/transition-not-allowed"
    assert not_allowed["status"] == 409 and not_allowed["allowed_targets"] == []
    assert items[2]["problem"]["type"] == "/problems/lead-not-found"
    assert items[3]["problem"]["status"] == 422
    assert "unresponsive" in items[3]["problem"]["allowed_reasons"]
    assert items[4]["problem"]["type"] == "/problems/request-validation-failed"
    assert "reason" in items[4]["problem"]["detail"]
    stale = items[5]["problem"]
    assert stale["type"] == "/problems/stale-version" and stale["current_version"] == 2

    lead = (await client.get(f"/v1/leads/{fresh['id']}")).json()
    assert (lead["status"], lead["version"]) == ("contacted", 2)
    history = (await client.get(f"/v1/leads/{fresh['id']}/history")).json()
    assert (history[-1]["reason"], history[-1]["actor"]) == ("call_connected", "mia")
    assert history[-1]["api_key"] is not None
    won = (await client.get(f"/v1/leads/{signed['id']}")).json()
    assert (won["status"], won["version"]) == ("won", 4)
    assert await _history_lengths(pool, fresh["id"], signed["id"], talking["id"]) == [1, 3, 2]


async def test_moves_on_one_lead_follow_each_other(client: httpx.AsyncClient) -> None:
    lead = await create(client, "steps@example.com")
    steps = [
        ("contacted", "call_connected"),
        ("qualified", "budget_confirmed"),
        ("negotiating", "proposal_sent"),
    ]
    changes = [{"lead_id": lead["id"], "to": to, "reason": why} for to, why in steps]
    r = await client.post(URL, json={"changes": changes})
    assert r.json()["changed"] == 3, r.text
    assert [i["version"] for i in r.json()["items"]] == [2, 3, 4]
    history = (await client.get(f"/v1/leads/{lead['id']}/history")).json()
    assert [h["to"] for h in history] == ["contacted", "qualified", "negotiating"]


async def test_a_thousand_changes_are_one_call_and_more_is_refused_whole(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    leads = [{"email": f"clean{i}@example.com"} for i in range(1000)]
    created = (await client.post("/v1/leads:batch", json={"leads": leads})).json()["items"]
    changes = [{"lead_id": i["id"], "to": "dead", "reason": "email_bounced"} for i in created]
    too_many = await client.post(URL, json={"changes": [*changes, changes[0]]})
    assert assert_problem(too_many, 422, "invalid-payload")["field"] == "changes"
    assert await pool.fetchval("SELECT count(*) FROM lead_status_changes") == 0
    r = await client.post(URL, json={"changes": changes})
    assert r.status_code == 200 and r.json()["changed"] == 1000, r.text[:500]
    assert await pool.fetchval("SELECT count(*) FROM leads WHERE status = 'dead'") == 1000


async def test_malformed_and_empty_bodies_are_refused_whole(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, content=b"[", headers={"content-type": "application/json"})
    assert_problem(r, 400, "malformed-body")
    assert_problem(await client.post(URL, json={"changes": []}), 422, "invalid-payload")
    assert_problem(await client.post(URL, json={"leads": [{}]}), 422, "invalid-payload")


async def test_a_retry_with_the_same_idempotency_key_changes_nothing_more(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    lead = await create(client, "retry@example.com")
    body = {"changes": [{"lead_id": lead["id"], "to": "contacted", "reason": "call_connected"}]}
    headers = {"Idempotency-Key": "cleanup-2026-12-07"}
    first = await client.post(URL, json=body, headers=headers)
    again = await client.post(URL, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content and first.json()["changed"] == 1
    assert await _history_lengths(pool, lead["id"]) == [1]
    other = {"changes": [{"lead_id": lead["id"], "to": "dead", "reason": "email_bounced"}]}
    assert_problem(await client.post(URL, json=other, headers=headers), 422)


async def test_a_failure_of_the_whole_call_leaves_no_item_applied(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    first = await create(client, "first@example.com")
    second = await create(client, "second@example.com")
    # A rule the service does not know of, so the database refuses the second write outright.
    await pool.execute(
        f"ALTER TABLE leads ADD CONSTRAINT ck_test_refuse CHECK (id <> {second['id']}"
        " OR status = 'new') NOT VALID"
    )
    try:
        changes = [
            {"lead_id": lead["id"], "to": "contacted", "reason": "call_connected"}
            for lead in (first, second)
        ]
        r = await client.post(URL, json={"changes": changes})
    finally:
        await pool.execute("ALTER TABLE leads DROP CONSTRAINT ck_test_refuse")
    assert_problem(r, 500)
    assert await _history_lengths(pool, first["id"], second["id"]) == [0, 0]
    assert await pool.fetchval("SELECT count(*) FROM leads WHERE status <> 'new'") == 0
