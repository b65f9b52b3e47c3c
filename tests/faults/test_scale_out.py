"""Two service processes on one database, as behind a load balancer: the guarantees hold across
them, because they live in PostgreSQL (row versions, a unique index, idempotency records), not
in a process's memory.

The processes are started per test: the suite empties the tables between tests, and a running
service's metrics fold would contend with that.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from tests.example_pipelines import ENTERPRISE_DOCUMENT
from tests.served import ServedProcess


@pytest.fixture
def two_processes(database_url: str) -> Iterator[tuple[ServedProcess, ServedProcess]]:
    first, second = ServedProcess(database_url), ServedProcess(database_url)
    first.start()
    try:
        second.start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


@pytest.fixture
async def clients(
    two_processes: tuple[ServedProcess, ServedProcess], admin_key: str
) -> AsyncIterator[list[httpx.AsyncClient]]:
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with (
        httpx.AsyncClient(base_url=two_processes[0].url, headers=headers, timeout=10) as a,
        httpx.AsyncClient(base_url=two_processes[1].url, headers=headers, timeout=10) as b,
    ):
        yield [a, b]


async def _qualified_lead(client: httpx.AsyncClient, email: str) -> str:
    created = await client.post("/v1/leads", json={"email": email})
    lead = str(created.json()["id"])
    moved = await client.post(
        f"/v1/leads/{lead}/transitions", json={"to": "qualified", "reason": "need_confirmed"}
    )
    assert moved.status_code == 200
    return lead


async def test_simultaneous_closings_through_two_processes_apply_once(
    clients: list[httpx.AsyncClient], pool: asyncpg.Pool
) -> None:
    lead = await _qualified_lead(clients[0], "race@example.com")
    closings = [("won", "contract_signed"), ("lost", "price"), ("no_decision", "postponed")]
    answers = await asyncio.gather(
        *(
            clients[i % 2].post(f"/v1/leads/{lead}/transitions", json={"to": to, "reason": reason})
            for i, (to, reason) in enumerate(closings * 10)
        )
    )
    assert sorted(r.status_code for r in answers) == [200] + [409] * 29
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM lead_status_changes WHERE lead_id = $1", int(lead)
        )
        == 2
    )
    won = next(r for r in answers if r.status_code == 200).json()
    assert await pool.fetchval("SELECT status FROM leads WHERE id = $1", int(lead)) == won["status"]


async def test_one_open_lead_per_email_across_two_processes(
    clients: list[httpx.AsyncClient], pool: asyncpg.Pool
) -> None:
    answers = await asyncio.gather(
        *(clients[i % 2].post("/v1/leads", json={"email": "Same@Example.com"}) for i in range(20))
    )
    assert sorted(r.status_code for r in answers) == [201] + [409] * 19
    assert await pool.fetchval("SELECT count(*) FROM leads") == 1


async def test_one_idempotency_key_across_two_processes_has_one_effect(
    clients: list[httpx.AsyncClient], pool: asyncpg.Pool
) -> None:
    body = {"email": "retried@example.com"}
    answers = await asyncio.gather(
        *(
            clients[i % 2].post("/v1/leads", json=body, headers={"Idempotency-Key": "k-1"})
            for i in range(20)
        )
    )
    assert {r.status_code for r in answers} <= {201, 409}
    created = [r for r in answers if r.status_code == 201]
    # Whichever process answered, a replay is the first answer byte for byte.
    assert created and len({r.content for r in created}) == 1
    assert all(
        r.json()["type"].endswith("idempotency-key-in-use") for r in answers if r.status_code == 409
    )
    assert await pool.fetchval("SELECT count(*) FROM leads") == 1


async def test_a_new_pipeline_version_made_through_one_process_rules_the_other_at_once(
    clients: list[httpx.AsyncClient], pool: asyncpg.Pool
) -> None:
    """Each process caches the versions it has used; the other's edit is seen at the next write
    (which checks the version it decided under), with no message between the processes."""
    first, second = clients
    document = copy.deepcopy(ENTERPRISE_DOCUMENT)
    assert (await first.put("/v1/pipelines/enterprise", json=document)).status_code == 201
    lead = await second.post("/v1/leads", json={"email": "a@x.example", "pipeline": "enterprise"})
    assert lead.json()["status"] == "lead_in" and lead.json()["pipeline_version"] == 1
    # The second process now has version 1 cached as current; the first makes version 2, where
    # `proposal` is one move away from `lead_in`.
    document["transitions"]["lead_in"].append("proposal")
    edited = await first.put("/v1/pipelines/enterprise", json=document)
    assert edited.status_code == 200 and edited.json()["version"] == 2
    created = await second.post(
        "/v1/leads", json={"email": "b@x.example", "pipeline": "enterprise"}
    )
    assert created.status_code == 201, created.text
    assert (created.json()["status"], created.json()["pipeline_version"]) == ("lead_in", 2)
    moved = await second.post(
        f"/v1/leads/{lead.json()['id']}/transitions",
        json={"to": "proposal", "reason": "poc_passed"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["pipeline_version"] == 2
    served = await second.get("/v1/pipelines/enterprise")
    assert served.json()["version"] == 2
