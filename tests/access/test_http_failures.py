"""Failed authentications are budgeted per client address: past its burst, an address's new
unknown keys and unsigned deliveries are answered 429 without being looked up, while keys the
process knows, and other addresses, go on as before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.platform.db import create_pool
from app.platform.settings import Settings
from tests.http_support import assert_problem, configure

BURST = 3

Client = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def guarded(database_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    """The app allowing each address 3 failures, then one per 100 s."""
    tight = settings.model_copy(
        update={"auth_failure_burst": BURST, "auth_failures_per_s": 0.01, "pool_max_size": 3}
    )
    app = create_app(settings=tight, database_url=database_url)
    app.state.pool = app.state.read_pool = await create_pool(database_url, tight)
    try:
        yield app
    finally:
        await app.state.pool.close()


@pytest.fixture
def from_address(guarded: FastAPI) -> Client:
    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=guarded, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://leadstatus.test")

    return client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_an_address_past_its_failures_gets_429_but_known_keys_still_work(
    from_address: Client, admin_key: str
) -> None:
    async with from_address("10.0.0.1") as one, from_address("10.0.0.2") as other:
        assert (await one.get("/v1/leads", headers=_bearer(admin_key))).status_code == 200
        for _ in range(BURST):
            made_up = _bearer(f"lsk_{uuid.uuid4().hex}")
            assert_problem(await one.get("/v1/leads", headers=made_up), 401, "unauthenticated")
        r = await one.get("/v1/leads", headers=_bearer(f"lsk_{uuid.uuid4().hex}"))
        assert_problem(r, 429, "too-many-failures")
        assert int(r.headers["retry-after"]) >= 1
        # Refused before any lookup, so a keyless call is still told what it lacks first.
        assert_problem(await one.get("/v1/leads"), 401, "unauthenticated")
        assert (await one.get("/v1/leads", headers=_bearer(admin_key))).status_code == 200
        made_up = _bearer(f"lsk_{uuid.uuid4().hex}")
        assert_problem(await other.get("/v1/leads", headers=made_up), 401, "unauthenticated")


async def test_refused_intake_deliveries_spend_the_same_budget(
    guarded: FastAPI, from_address: Client, pool: asyncpg.Pool
) -> None:
    await configure(guarded, pool, "forms", "standard")
    unsigned = {"data": {"email": "someone@example.com"}}
    async with from_address("10.0.0.3") as sender:
        assert_problem(await sender.post("/v1/intake/nobody", json=unsigned), 404, None)
        for _ in range(BURST - 1):
            r = await sender.post("/v1/intake/forms", json=unsigned)
            assert_problem(r, 401, "signature-refused")
        r = await sender.post("/v1/intake/forms", json=unsigned)
        assert_problem(r, 429, "too-many-failures")
        assert_problem(await sender.get("/v1/intake/forms"), 429, "too-many-failures")
    assert await pool.fetchval("SELECT count(*) FROM intake_deliveries") == 0
