"""`POST /v1/leads:batch`: many leads, each validated and answered on its own."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.http_support import assert_problem, create


async def test_valid_items_are_created_bad_ones_rejected_duplicates_named(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    existing = await create(client, "known@example.com")
    leads = [
        {"email": "a@example.com", "company": "A", "estimated_value": "10.50"},
        {"email": "not-an-address"},
        {"email": "KNOWN@example.com"},
        {"email": "a@EXAMPLE.com", "company": "A again"},
        {"email": "b@example.com", "status": "won"},
        {"email": "c@example.com", "attributes": {"campaign": "expo"}, "country": "DE"},
    ]
    r = await client.post("/v1/leads:batch", json={"leads": leads})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 2, 2)
    items = body["items"]
    assert [i["index"] for i in items] == list(range(6))
    assert [i["result"] for i in items] == [
        "created",
        "rejected",
        "duplicate",
        "duplicate",
        "rejected",
        "created",
    ]
    assert items[2]["existing_lead_id"] == existing["id"]
    assert items[3]["existing_lead_id"] == items[0]["id"]
    assert items[1]["problem"]["status"] == 422 and "email" in items[1]["problem"]["detail"]
    assert "status" in items[4]["problem"]["detail"]
    created = (await client.get(f"/v1/leads/{items[5]['id']}")).json()
    assert (created["attributes"], created["country"], created["status"]) == (
        {"campaign": "expo"},
        "DE",
        "new",
    )
    first = (await client.get(f"/v1/leads/{items[0]['id']}")).json()
    assert (first["company"], first["estimated_value"]) == ("A", "10.50")
    assert await pool.fetchval("SELECT count(*) FROM leads") == 3


async def test_a_batch_of_a_thousand_is_one_call_and_more_is_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    leads = [{"email": f"bulk{i}@example.com", "source": "import"} for i in range(1000)]
    r = await client.post("/v1/leads:batch", json={"leads": leads})
    assert r.status_code == 200 and r.json()["created"] == 1000
    assert await pool.fetchval("SELECT count(DISTINCT email) FROM leads") == 1000
    too_many = await client.post("/v1/leads:batch", json={"leads": leads + leads[:1]})
    assert assert_problem(too_many, 422, "invalid-payload")["field"] == "leads"
    assert await pool.fetchval("SELECT count(*) FROM leads") == 1000


async def test_malformed_and_empty_batches_are_refused_whole(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/leads:batch", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_problem(r, 400, "malformed-body")
    assert_problem(await client.post("/v1/leads:batch", json={"leads": []}), 422)
    assert_problem(await client.post("/v1/leads:batch", json=[{"email": "x@y.example"}]), 422)


async def test_concurrent_batches_sharing_emails_create_each_person_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    leads = [{"email": f"shared{i}@example.com"} for i in range(300)]
    answers = await asyncio.gather(
        *(client.post("/v1/leads:batch", json={"leads": leads}) for _ in range(4))
    )
    assert all(r.status_code == 200 for r in answers), [r.text[:200] for r in answers]
    assert sum(r.json()["created"] for r in answers) == 300
    ids: dict[int, set[int]] = {}
    for r in answers:
        for item in r.json()["items"]:
            assert item["result"] in ("created", "duplicate")
            ids.setdefault(item["index"], set()).add(item.get("id") or item["existing_lead_id"])
    assert all(len(found) == 1 for found in ids.values())
    assert await pool.fetchval("SELECT count(*) FROM leads") == 300
