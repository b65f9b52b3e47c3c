"""A query stuck past the statement timeout is cancelled and answered 503, not left hanging."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from app.main import create_app
from app.platform.db import create_pool
from app.platform.settings import Settings


@pytest.fixture
async def impatient(
    database_url: str, pool: asyncpg.Pool, admin_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a pool whose statement timeout is 200 ms."""
    settings = Settings(pool_min_size=1, pool_max_size=2, statement_timeout_ms=200)
    app = create_app(settings=settings, database_url=database_url)
    app.state.pool = await create_pool(database_url, settings)
    app.state.read_pool = app.state.pool
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://leadstatus.test",
            headers={"Authorization": f"Bearer {admin_key}"},
        ) as c:
            yield c
    finally:
        await app.state.pool.close()


async def test_a_query_blocked_past_the_timeout_is_503(
    impatient: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    lead_id = await pool.fetchval(
        "INSERT INTO leads (email) VALUES ('slow@example.com') RETURNING id"
    )
    async with pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("LOCK TABLE leads IN ACCESS EXCLUSIVE MODE")
        r = await impatient.get(f"/v1/leads/{lead_id}")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "5"
    assert r.json()["type"] == "/problems/query-timeout"
    assert (await impatient.get(f"/v1/leads/{lead_id}")).status_code == 200
