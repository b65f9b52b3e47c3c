"""Requests cut short, by their client or by a shutdown, leave no half-written lead or history.

A lead's row and its history rows are written in one transaction: afterwards each lead's version
counts its history (one plus a row per change) and its status is its last change's target.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from asyncpg.transaction import Transaction

from tests.served import ServedProcess, serving

HALF_WRITTEN = """
SELECT l.id FROM leads l
  LEFT JOIN LATERAL (
    SELECT count(*) AS changes, (array_agg(c.to_status ORDER BY c.id DESC))[1] AS last
      FROM lead_status_changes c WHERE c.lead_id = l.id) h ON true
 WHERE l.version <> 1 + h.changes OR l.status <> coalesce(h.last, 'new')
"""


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A session of the test's own, beside the service's."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def served(database_url: str) -> Iterator[ServedProcess]:
    with serving(database_url) as process:
        yield process


@pytest.fixture
async def http(served: ServedProcess, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with served.client(admin_key, timeout=20) as c:
        yield c


async def _leads(client: httpx.AsyncClient, n: int, tag: str) -> list[int]:
    ids = []
    for i in range(n):
        r = await client.post("/v1/leads", json={"email": f"{tag}{i}@example.com"})
        assert r.status_code == 201
        ids.append(r.json()["id"])
    return ids


async def _hold_rows(conn: asyncpg.Connection, leads: list[int]) -> Transaction:
    """Lock the leads' rows, so the service's changes of them wait inside their transactions."""
    lock = conn.transaction()
    await lock.start()
    await conn.execute("SELECT 1 FROM leads WHERE id = ANY($1) FOR UPDATE", leads)
    return lock


async def _service_connections(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'leadstatus'"
    )
    return count


async def test_sigterm_lets_requests_in_flight_finish_refuses_new_ones_and_closes_the_pool(
    conn: asyncpg.Connection, served: ServedProcess, http: httpx.AsyncClient
) -> None:
    leads = await _leads(http, 4, "inflight")
    before = await _service_connections(conn)
    lock = await _hold_rows(conn, leads)
    notes = {lead: uuid.uuid4().hex for lead in leads}
    in_flight = [
        asyncio.create_task(
            http.post(
                f"/v1/leads/{lead}/transitions",
                json={"to": "contacted", "reason": "call_connected", "note": note},
            )
        )
        for lead, note in notes.items()
    ]
    await asyncio.sleep(0.5)
    served.signal(signal.SIGTERM)
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=served.url) as late:
        refused = None
        try:
            await late.get("/healthz")
        except httpx.ConnectError as error:
            refused = error
    assert refused is not None, "a new connection was accepted during shutdown"
    await lock.rollback()
    answers = await asyncio.gather(*in_flight)
    assert [r.status_code for r in answers] == [200] * 4
    started = time.monotonic()
    assert served.stop(timeout=15) in (0, 128 + signal.SIGTERM)
    assert time.monotonic() - started < 12
    written = await conn.fetch(
        "SELECT lead_id, note FROM lead_status_changes WHERE lead_id = ANY($1)", leads
    )
    assert {r["lead_id"]: r["note"] for r in written} == notes
    assert await conn.fetch(HALF_WRITTEN) == []
    assert before > 0
    assert await _service_connections(conn) < before


async def test_a_client_that_disconnects_mid_request_leaves_no_half_write(
    conn: asyncpg.Connection, http: httpx.AsyncClient
) -> None:
    leads = await _leads(http, 3, "gone")
    lock = await _hold_rows(conn, leads)
    hanging = [
        asyncio.create_task(
            http.post(
                f"/v1/leads/{lead}/transitions",
                json={"to": "contacted", "reason": "call_connected"},
            )
        )
        for lead in leads
    ]
    batch = asyncio.create_task(
        http.post(
            "/v1/leads:batch",
            json={"leads": [{"email": f"batch{i}@example.com"} for i in range(500)]},
        )
    )
    await asyncio.sleep(0.3)
    for task in [*hanging, batch]:
        task.cancel()  # the client goes away: its connection closes
    await asyncio.gather(*hanging, batch, return_exceptions=True)
    await lock.rollback()
    await asyncio.sleep(1)
    # The service carries on, and every lead is whole: changed completely or not at all.
    assert (await http.get("/readyz")).status_code == 200
    assert await conn.fetch(HALF_WRITTEN) == []
    batch_leads = await conn.fetchval(
        "SELECT count(*) FROM leads WHERE email LIKE 'batch%@example.com'"
    )
    assert batch_leads in (0, 500)
