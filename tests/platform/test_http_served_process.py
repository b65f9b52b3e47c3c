"""`leadstatus serve` as a real process: the command a deployment runs, spoken to over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from app.main import FOLD_CONNECTION
from tests.served import ServedProcess


@pytest.fixture
def served(database_url: str) -> Iterator[str]:
    process = ServedProcess(database_url).start()
    try:
        yield process.url
    finally:
        process.stop()


def test_served_process_creates_and_moves_a_lead(served: str, admin_key: str) -> None:
    with httpx.Client(base_url=served, timeout=10, headers={"X-API-Key": admin_key}) as c:
        assert c.get("/v1/workflow", headers={"X-API-Key": "lsk_wrong"}).status_code == 401
        assert c.get("/readyz").json()["status"] == "ready"
        created = c.post("/v1/leads", json={"email": "process@example.com"})
        assert created.status_code == 201
        moved = c.post(
            f"{created.headers['location']}/transitions",
            json={"to": "contacted", "reason": "call_connected"},
        )
        assert moved.status_code == 200 and moved.json()["status"] == "contacted"
        refused = c.post(
            f"{created.headers['location']}/transitions",
            json={"to": "won", "reason": "contract_signed"},
        )
        assert (
            refused.status_code == 409
            and refused.headers["content-type"] == "application/problem+json"
        )
        docs = c.get("/docs")
        assert (
            docs.status_code == 200
            and "swagger-ui-bundle.js" in docs.text
            and "cdn" not in docs.text.lower()
        )
        assert c.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


async def test_a_stderr_nobody_reads_does_not_stop_the_service(
    database_url: str, admin_key: str
) -> None:
    # Every request writes a log line; a full pipe must cost lines, not answers.
    process = ServedProcess(database_url, unread_stderr=True).start()
    try:
        async with httpx.AsyncClient(
            base_url=process.url, headers={"X-API-Key": admin_key}, timeout=5
        ) as c:
            for _ in range(20):
                answers = await asyncio.gather(*(c.get("/v1/workflow") for _ in range(100)))
                assert {r.status_code for r in answers} == {200}
    finally:
        process.stop()


async def test_the_fold_has_a_connection_of_its_own_and_folds_while_requests_hold_the_pool(
    database_url: str, admin_key: str
) -> None:
    """With the one request connection held by a transition waiting on a row lock, the new
    lead's pending metrics row is still folded in: the fold does not queue behind requests."""
    process = ServedProcess(database_url, LEADSTATUS_POOL_MIN="1", LEADSTATUS_POOL_MAX="1").start()
    conn = await asyncpg.connect(database_url)
    try:
        headers = {"X-API-Key": admin_key}
        async with httpx.AsyncClient(base_url=process.url, headers=headers, timeout=30) as c:
            created = await c.post("/v1/leads", json={"email": "held-pool@example.com"})
            assert created.status_code == 201
            lead_id = created.json()["id"]
            lock = conn.transaction()
            await lock.start()
            await conn.execute("SELECT 1 FROM leads WHERE id = $1 FOR UPDATE", lead_id)
            moving = asyncio.create_task(
                c.post(
                    f"/v1/leads/{lead_id}/transitions",
                    json={"to": "contacted", "reason": "call_connected"},
                )
            )
            pending = None
            for _ in range(50):
                await asyncio.sleep(0.1)
                pending = await conn.fetchval("SELECT count(*) FROM metrics_pending_leads")
                if pending == 0:
                    break
            assert not moving.done(), "the transition should still wait on the row lock"
            assert pending == 0
            folds = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = $1 AND datname = current_database()",
                FOLD_CONNECTION,
            )
            assert folds == 1
            await lock.rollback()
            assert (await moving).status_code == 200
    finally:
        await conn.close()
        process.stop()
