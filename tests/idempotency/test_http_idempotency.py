"""Idempotency-Key on the POSTs that change things: a retry gets the first answer, once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from app.access.domain import KeyScope
from app.access.service import create_key
from tests.http_support import assert_problem, create


async def _counts(pool: asyncpg.Pool) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM leads) AS leads,"
        " (SELECT count(*) FROM lead_status_changes) AS changes"
    )
    return row["leads"], row["changes"]


@pytest.fixture(autouse=True)
async def _forget_records(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE idempotency_records")


async def test_a_retried_create_gets_the_same_answer_and_creates_nothing_more(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    headers = {"Idempotency-Key": "create-1"}
    body = {"email": "once@example.com", "company": "Once"}
    first = await client.post("/v1/leads", json=body, headers=headers)
    assert first.status_code == 201
    again = await client.post("/v1/leads", json=body, headers=headers)
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert await _counts(pool) == (1, 0)


@pytest.mark.parametrize("path", ["transitions", "reopen"])
async def test_a_retried_status_change_applies_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, path: str
) -> None:
    lead = await create(client, "move@example.com")
    if path == "reopen":
        await client.post(
            f"/v1/leads/{lead['id']}/transitions",
            json={"to": "qualified", "reason": "need_confirmed"},
        )
        await client.post(
            f"/v1/leads/{lead['id']}/transitions", json={"to": "lost", "reason": "price"}
        )
        body: dict[str, Any] = {"reason": "needs_changed"}
    else:
        body = {"to": "contacted", "reason": "call_connected"}
    before = await _counts(pool)
    url = f"/v1/leads/{lead['id']}/{path}"
    first = await client.post(url, json=body, headers={"Idempotency-Key": '"k-1"'})
    assert first.status_code == 200, first.text
    again = await client.post(url, json=body, headers={"Idempotency-Key": '"k-1"'})
    assert (again.status_code, again.content) == (200, first.content)
    assert await _counts(pool) == (before[0], before[1] + 1)


async def test_a_retried_batch_creates_nothing_more(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    body = {"leads": [{"email": f"b{i}@example.com"} for i in range(5)] + [{"email": "bad"}]}
    first = await client.post("/v1/leads:batch", json=body, headers={"Idempotency-Key": "b"})
    again = await client.post("/v1/leads:batch", json=body, headers={"Idempotency-Key": "b"})
    assert (again.status_code, again.content) == (200, first.content)
    assert await _counts(pool) == (5, 0)


async def test_the_same_key_for_another_request_is_422(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    headers = {"Idempotency-Key": "reused"}
    await client.post("/v1/leads", json={"email": "a@example.com"}, headers=headers)
    r = await client.post("/v1/leads", json={"email": "b@example.com"}, headers=headers)
    assert_problem(r, 422, "idempotency-key-reused")
    assert await _counts(pool) == (1, 0)


@pytest.mark.parametrize("key", ["", '""', "x" * 256])
async def test_a_malformed_key_is_400(
    client: httpx.AsyncClient, pool: asyncpg.Pool, key: str
) -> None:
    r = await client.post(
        "/v1/leads", json={"email": "m@example.com"}, headers={"Idempotency-Key": key}
    )
    assert_problem(r, 400, "invalid-idempotency-key")
    assert await _counts(pool) == (0, 0)


async def test_keys_are_scoped_to_the_api_key(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    _, other = await create_key(
        pool, name="other-app", scopes={KeyScope.LEADS_WRITE}, expires_at=None
    )
    body = {"email": "scoped@example.com"}
    mine = await client.post("/v1/leads", json=body, headers={"Idempotency-Key": "same"})
    theirs = await anonymous.post(
        "/v1/leads",
        json=body,
        headers={"Idempotency-Key": "same", "Authorization": f"Bearer {other}"},
    )
    assert mine.status_code == 201
    # Not a replay of someone else's answer: their own request, refused on its own merits.
    assert_problem(theirs, 409, "duplicate-open-lead")


async def test_a_failed_request_stores_nothing_and_can_be_retried(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    lead = await create(client, "fail@example.com")
    url = f"/v1/leads/{lead['id']}/transitions"
    refused = await client.post(
        url, json={"to": "won", "reason": "contract_signed"}, headers={"Idempotency-Key": "f"}
    )
    assert refused.status_code == 409
    assert await pool.fetchval("SELECT count(*) FROM idempotency_records") == 0


async def test_twenty_concurrent_requests_with_one_key_have_one_effect(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    lead = await create(client, "race@example.com")
    url = f"/v1/leads/{lead['id']}/transitions"
    body = {"to": "contacted", "reason": "call_connected"}
    answers = await asyncio.gather(
        *(client.post(url, json=body, headers={"Idempotency-Key": "race"}) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {200, 409}
    ok = [r for r in answers if r.status_code == 200]
    assert ok and len({r.content for r in ok}) == 1
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, 409, "idempotency-key-in-use")
            assert r.headers["retry-after"] == "1"
    assert await _counts(pool) == (1, 1)


async def test_a_refused_create_inside_a_retry_safe_call_still_answers_its_problem(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    # A taken email fails the statement: inside the idempotency transaction it must not
    # poison the rest of the request (the lookup that names the existing lead).
    await create(client, "taken@example.com")
    r = await client.post(
        "/v1/leads", json={"email": "TAKEN@example.com"}, headers={"Idempotency-Key": "dup"}
    )
    assert assert_problem(r, 409, "duplicate-open-lead")["existing_lead_id"] >= 1


async def test_answers_are_kept_at_least_a_day_then_pruned(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    for key in ("old", "recent"):
        body = {"email": f"{key}@example.com"}
        await client.post("/v1/leads", json=body, headers={"Idempotency-Key": key})
    await pool.execute(
        "UPDATE idempotency_records SET created_at = now() - interval '3 days' WHERE key = 'old'"
    )
    from datetime import UTC, datetime

    from app.retention import prune_idempotency

    assert await prune_idempotency(pool, now=datetime.now(UTC)) == 1
    assert await pool.fetchval("SELECT array_agg(key) FROM idempotency_records") == ["recent"]
