"""Limits: requests per key, body size, and how long a request may run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from app.main import create_app
from app.platform.db import create_pool
from app.platform.settings import Settings
from tests.http_support import assert_problem, create


@pytest.fixture
async def strict(
    database_url: str, settings: Settings, admin_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with tight limits: 3 requests at once then 1/s, 4 KiB bodies, 0.3 s per request."""
    tight = settings.model_copy(
        update={
            "rate_limit_per_s": 1.0,
            "rate_burst": 3,
            "max_body_bytes": 4096,
            "request_timeout_s": 0.3,
            "pool_min_size": 1,
            "pool_max_size": 3,
        }
    )
    app = create_app(settings=tight, database_url=database_url)
    app.state.pool = await create_pool(database_url, tight)
    app.state.read_pool = app.state.pool
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://leadstatus.test",
            headers={"Authorization": f"Bearer {admin_key}"},
        ) as c:
            yield c
    finally:
        await app.state.pool.close()


async def test_a_key_over_its_rate_is_429_with_retry_after(strict: httpx.AsyncClient) -> None:
    answers = [await strict.get("/v1/workflow") for _ in range(4)]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    body = assert_problem(answers[3], 429, "rate-limited")
    assert int(answers[3].headers["retry-after"]) >= 1 and "retry" in body["detail"]


async def test_bodies_over_the_limit_are_413_and_write_nothing(
    strict: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    big = {"email": "big@example.com", "attributes": {"note": "x" * 5000}}
    r = await strict.post("/v1/leads", json=big)
    assert assert_problem(r, 413, "body-too-large")["limit_bytes"] == 4096

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"email": "chunked@example.com", "company": "'
        yield b"y" * 5000
        yield b'"}'

    r = await strict.post(
        "/v1/leads", content=chunks(), headers={"content-type": "application/json"}
    )
    assert assert_problem(r, 413, "body-too-large")["limit_bytes"] == 4096
    assert await pool.fetchval("SELECT count(*) FROM leads") == 0


async def _stalling(first: bytes) -> AsyncIterator[bytes]:
    """A chunked body whose sender stops after its first chunk."""
    yield first
    await asyncio.sleep(60)
    yield b"}"


async def _post_stalled(client: httpx.AsyncClient) -> httpx.Response:
    async with asyncio.timeout(5):
        return await client.post(
            "/v1/leads",
            content=_stalling(b'{"email": "stalled@example.com"'),
            headers={"content-type": "application/json"},
        )


async def test_a_keyless_chunked_body_is_refused_before_it_is_read(
    anonymous: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    assert_problem(await _post_stalled(anonymous), 401, "unauthenticated")
    assert await pool.fetchval("SELECT count(*) FROM leads") == 0


async def test_reading_a_stalled_body_is_within_the_time_limit(
    strict: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    body = assert_problem(await _post_stalled(strict), 503, "request-timeout")
    assert "nothing was changed" in body["detail"]
    assert await pool.fetchval("SELECT count(*) FROM leads") == 0


@pytest.mark.parametrize(
    ("key", "answered"),
    [(None, "outcome-unknown"), ("slow-1", "request-timeout")],
    ids=["one-statement", "in-a-transaction"],
)
async def test_a_request_past_its_time_is_cancelled_503_and_leaves_no_write(
    strict: httpx.AsyncClient,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    key: str | None,
    answered: str,
) -> None:
    """Cancelled while its one-statement change waits, a request cannot know whether the server
    went on to save it; cancelled inside a transaction, it knows nothing was saved."""
    lead = await create(client, "slow@example.com")
    async with pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("LOCK TABLE lead_status_changes IN ACCESS EXCLUSIVE MODE")
        r = await strict.post(
            f"/v1/leads/{lead['id']}/transitions",
            json={"to": "contacted", "reason": "call_connected"},
            headers={"Idempotency-Key": key} if key else None,
        )
    body = assert_problem(r, 503, answered)
    assert ("nothing was changed" in body["detail"]) is (key is not None)
    assert r.headers["retry-after"] == "5"
    assert await pool.fetchval("SELECT count(*) FROM lead_status_changes") == 0
    assert (await client.get(f"/v1/leads/{lead['id']}")).json()["status"] == "new"
