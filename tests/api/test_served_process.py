"""`leadstatus serve` as a real process: the command a deployment runs, spoken to over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

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
