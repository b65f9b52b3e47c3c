"""DATABASE_READ_URL: reads that tolerate lag go to the replica's URL, everything else does not.

A second database on the same server stands in for the replica. It holds different leads than
the primary, so each answer shows which URL served it.
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.databases import drop_database, migrated_database
from tests.served import ServedProcess


@pytest.fixture(scope="module")
def replica_url(server_url: str, database_url: str) -> Iterator[str]:
    name = database_url.rsplit("/", 1)[1] + "_replica"
    yield migrated_database(server_url, name)
    drop_database(server_url, name)


async def test_lists_and_metrics_read_from_the_replica_writes_and_lead_reads_do_not(
    database_url: str, replica_url: str, admin_key: str, pool: asyncpg.Pool
) -> None:
    replica = await asyncpg.connect(replica_url)
    try:
        await replica.execute("TRUNCATE leads RESTART IDENTITY CASCADE")
        await replica.execute(
            "INSERT INTO leads (email) VALUES ('one@replica.example'), ('two@replica.example')"
        )
    finally:
        await replica.close()
    served = ServedProcess(database_url, DATABASE_READ_URL=replica_url).start()
    try:
        async with httpx.AsyncClient(
            base_url=served.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=10
        ) as c:
            created = await c.post("/v1/leads", json={"email": "on-primary@example.com"})
            assert created.status_code == 201
            lead = created.json()

            listed = await c.get("/v1/leads")
            emails = [x["email"] for x in listed.json()["items"]]
            assert emails == ["two@replica.example", "one@replica.example"]

            # One lead is read where it is written: a client reads its own write at once.
            read = await c.get(f"/v1/leads/{lead['id']}")
            assert read.status_code == 200 and read.json()["email"] == "on-primary@example.com"

            summary = await c.get("/v1/metrics/summary")
            assert summary.status_code == 200
            # The primary holds one lead, the replica two.
            assert summary.json()["created"] == 2
            assert summary.json()["pipeline"]["new"] == 2
    finally:
        served.stop()
    assert await pool.fetchval("SELECT count(*) FROM leads") == 1
    assert await pool.fetchval("SELECT email FROM leads") == "on-primary@example.com"
