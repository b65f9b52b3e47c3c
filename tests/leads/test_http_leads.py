"""Creating, reading, changing and listing leads over HTTP, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.leads.schemas import LeadPublic
from tests.example_pipelines import DEFAULT
from tests.http_support import assert_problem, create, move


async def test_create_returns_the_new_lead_with_location_and_etag(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/v1/leads",
        json={
            "email": "dana@northwind.example",
            "first_name": "Dana",
            "company": "Northwind",
            "owner": "alex",
            "country": "DE",
            "estimated_value": "1200.50",
            "currency": "EUR",
            "attributes": {"campaign": "q4"},
        },
    )
    assert r.status_code == 201
    lead = r.json()
    assert r.headers["location"] == f"/v1/leads/{lead['id']}"
    assert r.headers["etag"] == '"1"'
    assert lead["status"] == "new" and lead["version"] == 1 and lead["reopen_count"] == 0
    assert lead["estimated_value"] == "1200.50" and lead["attributes"] == {"campaign": "q4"}
    LeadPublic.model_validate(lead)
    assert set(lead) == set(LeadPublic.model_fields)
    got = await client.get(r.headers["location"])
    assert got.json() == lead and got.headers["etag"] == '"1"'


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "not-an-email"}, "email"),
        ({}, "email"),
        ({"email": "a@b.example", "status": "won"}, "status"),
        ({"email": "a@b.example", "version": 7}, "version"),
        ({"email": "a@b.example", "id": 5}, "id"),
        ({"email": "a@b.example", "estimated_value": "-1"}, "estimated_value"),
        ({"email": "a@b.example", "currency": "EURO"}, "currency"),
        ({"email": "a@b.example", "country": "Germany"}, "country"),
        ({"email": "a@b.example", "attributes": {"x": "y" * 5000}}, "attributes"),
        ({"email": "a@b.example", "favourite_colour": "blue"}, "favourite_colour"),
    ],
)
async def test_create_refuses_bad_or_forbidden_fields(
    client: httpx.AsyncClient, pool: Any, body: dict[str, Any], field: str
) -> None:
    r = await client.post("/v1/leads", json=body)
    problem = assert_problem(r, 422, "request-validation-failed")
    assert field in r.text
    assert problem["errors"]
    assert await pool.fetchval("SELECT count(*) FROM leads") == 0


async def test_second_open_lead_with_same_email_is_409_naming_the_first(
    client: httpx.AsyncClient,
) -> None:
    first = await create(client, "Sam@Example.com")
    r = await client.post("/v1/leads", json={"email": "sam@example.COM"})
    problem = assert_problem(r, 409, "duplicate-open-lead")
    assert problem["existing_lead_id"] == first["id"]


async def test_closed_lead_does_not_block_a_new_one(client: httpx.AsyncClient) -> None:
    first = await create(client, "again@example.com")
    assert (await move(client, first["id"], "dead", "email_bounced")).status_code == 200
    second = await create(client, "again@example.com")
    assert second["id"] != first["id"]


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/leads/424242"), 404, "lead-not-found")
    assert_problem(await client.get("/v1/leads/abc"), 422)
    assert_problem(await client.get("/v1/leads/0"), 422)
    assert_problem(await client.get("/v1/leads/99999999999999999999999"), 422)
    assert_problem(await client.get("/v1/leads/424242/history"), 404, "lead-not-found")
    assert_problem(await move(client, 424242, "contacted", "call_connected"), 404, "lead-not-found")


async def test_patch_changes_descriptive_fields_and_never_the_status(
    client: httpx.AsyncClient,
) -> None:
    lead = await create(client, "p@example.com", owner="alex", company="Old")
    r = await client.patch(f"/v1/leads/{lead['id']}", json={"owner": "sam", "company": None})
    assert r.status_code == 200, r.text
    assert r.json()["owner"] == "sam" and r.json()["company"] is None
    assert r.json()["version"] == 2 and r.headers["etag"] == '"2"'

    refused = await client.patch(f"/v1/leads/{lead['id']}", json={"status": "won"})
    problem = assert_problem(refused, 422)
    assert "transitions" in problem["detail"]
    assert (await client.get(f"/v1/leads/{lead['id']}")).json()["status"] == "new"
    assert_problem(await client.patch(f"/v1/leads/{lead['id']}", json={"email": None}), 422)


async def test_patch_honours_if_match(client: httpx.AsyncClient) -> None:
    lead = await create(client, "m@example.com")
    url = f"/v1/leads/{lead['id']}"
    assert (
        await client.patch(url, json={"owner": "a"}, headers={"If-Match": '"1"'})
    ).status_code == 200
    stale = await client.patch(url, json={"owner": "b"}, headers={"If-Match": '"1"'})
    problem = assert_problem(stale, 412, "stale-version")
    assert problem["current_version"] == 2
    assert (await client.get(url)).json()["owner"] == "a"
    assert_problem(await client.patch(url, json={"owner": "c"}, headers={"If-Match": "soon"}), 400)


async def test_patch_email_onto_another_open_lead_is_409(client: httpx.AsyncClient) -> None:
    a = await create(client, "a@example.com")
    b = await create(client, "b@example.com")
    r = await client.patch(f"/v1/leads/{b['id']}", json={"email": "A@example.com"})
    assert assert_problem(r, 409, "duplicate-open-lead")["existing_lead_id"] == a["id"]


async def test_list_filters_and_paginates_stably(client: httpx.AsyncClient) -> None:
    ids = [
        (await create(client, f"l{i}@example.com", owner=f"rep{i % 2}", source="web"))["id"]
        for i in range(7)
    ]
    await move(client, ids[0], "contacted", "call_connected")

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/leads", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True) and pages == 3

    rep0 = (await client.get("/v1/leads", params={"owner": "rep0"})).json()["items"]
    assert {x["id"] for x in rep0} == {ids[i] for i in range(0, 7, 2)}
    by_status = (
        await client.get("/v1/leads", params=[("status", "contacted"), ("status", "won")])
    ).json()
    assert [x["id"] for x in by_status["items"]] == [ids[0]]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await client.get("/v1/leads", params={"created_after": future})).json()["items"] == []
    assert (
        len((await client.get("/v1/leads", params={"created_before": future})).json()["items"]) == 7
    )


async def test_list_refuses_bad_paging(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/leads", params={"limit": 201}), 422)
    assert_problem(await client.get("/v1/leads", params={"limit": 0}), 422)
    assert_problem(
        await client.get("/v1/leads", params={"cursor": "bm9wZQ"}), 422, "invalid-cursor"
    )
    assert_problem(await client.get("/v1/leads", params={"status": "pending"}), 422)


async def test_revisit_due_lists_the_nurture_queue(client: httpx.AsyncClient, pool: Any) -> None:
    due = await create(client, "due@example.com")
    later = await create(client, "later@example.com")
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for lead in (due, later):
        r = await move(client, lead["id"], "recycled", "not_ready", revisit_at=soon)
        assert r.status_code == 200, r.text
    # Time passes for one of them: its revisit date is now in the past.
    await pool.execute(
        "UPDATE leads SET revisit_at = now() - interval '1 day' WHERE id = $1", due["id"]
    )
    queue = (await client.get("/v1/leads", params={"revisit_due": "true"})).json()["items"]
    assert [x["id"] for x in queue] == [due["id"]]


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v2/leads"), 404)
    assert_problem(await client.delete("/v1/leads/1"), 405)
    assert_problem(
        await client.post(
            "/v1/leads", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
    )


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json()["status"] == "ready"


async def test_problem_types_resolve(client: httpx.AsyncClient) -> None:
    r = await client.get("/problems/transition-not-allowed")
    assert r.status_code == 200 and r.json()["status"] == 409
    # The same `type` an error body carries, so a client can look one up by it.
    assert r.json()["type"] == "/problems/transition-not-allowed"
    assert_problem(await client.get("/problems/no-such-problem"), 404)


@pytest.mark.parametrize("status", sorted(DEFAULT.open_statuses))
async def test_open_statuses_block_a_duplicate(
    client: httpx.AsyncClient, pool: Any, status: str
) -> None:
    lead = await create(client, "block@example.com")
    await pool.execute("UPDATE leads SET status = $2 WHERE id = $1", lead["id"], status)
    assert_problem(await client.post("/v1/leads", json={"email": "block@example.com"}), 409)


async def test_empty_patch_changes_nothing(client: httpx.AsyncClient) -> None:
    lead = await create(client, "e@example.com")
    url = f"/v1/leads/{lead['id']}"
    r = await client.patch(url, json={})
    assert r.status_code == 200 and r.json() == lead
    assert_problem(await client.patch(url, json={}, headers={"If-Match": '"9"'}), 412)
    assert_problem(await client.patch("/v1/leads/999999", json={}), 404, "lead-not-found")


async def test_readyz_is_503_when_the_schema_is_not_at_head(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    from app.main import SCHEMA_REVISION

    assert (await client.get("/readyz")).json()["schema_revision"] == SCHEMA_REVISION
    await pool.execute("UPDATE alembic_version SET version_num = '0006'")
    try:
        body = assert_problem(await client.get("/readyz"), 503, "schema-not-current")
        assert (body["schema_revision"], body["required_revision"]) == ("0006", SCHEMA_REVISION)
    finally:
        await pool.execute("UPDATE alembic_version SET version_num = $1", SCHEMA_REVISION)
