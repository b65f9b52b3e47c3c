"""A database session ended under a request (a server shutting down, an operator's
pg_terminate_backend) is the database going away: 503 with Retry-After, nothing written.

What the answer may promise depends on what had been sent: a change written in one statement
(autocommit) may have been saved when the session ended, so the answer is `outcome-unknown`;
inside a transaction (an Idempotency-Key's), nothing is saved before `COMMIT`, so it is
`database-unavailable`, "nothing was changed"."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from tests.http_support import assert_problem, create


async def _blocked_backend(conn: asyncpg.Connection) -> int:
    for _ in range(500):
        pid = await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.01)
    raise AssertionError("the request never waited for the lead's row")


@pytest.mark.parametrize(
    ("key", "answered"),
    [(None, "outcome-unknown"), ("ended-1", "database-unavailable")],
    ids=["one-statement", "in-a-transaction"],
)
async def test_a_session_terminated_mid_change_is_503_and_writes_nothing(
    client: httpx.AsyncClient, database_url: str, key: str | None, answered: str
) -> None:
    lead = await create(client, "ended@example.com")
    conn = await asyncpg.connect(database_url)
    try:
        lock = conn.transaction()
        await lock.start()
        await conn.execute("SELECT 1 FROM leads WHERE id = $1 FOR UPDATE", lead["id"])
        change = asyncio.create_task(
            client.post(
                f"/v1/leads/{lead['id']}/transitions",
                json={"to": "contacted", "reason": "call_connected"},
                headers={"Idempotency-Key": key} if key else None,
            )
        )
        await conn.execute("SELECT pg_terminate_backend($1)", await _blocked_backend(conn))
        answer = await change
        await lock.rollback()
        body = assert_problem(answer, 503, None)
        assert body["type"] == f"/problems/{answered}"
        assert ("nothing was changed" in body["detail"]) is (key is not None)
        assert int(answer.headers["retry-after"]) > 0
        assert await conn.fetchval("SELECT count(*) FROM lead_status_changes") == 0
        assert await conn.fetchval("SELECT status FROM leads WHERE id = $1", lead["id"]) == "new"
        # The pool replaces the ended session: the next change goes through.
        again = await client.post(
            f"/v1/leads/{lead['id']}/transitions",
            json={"to": "contacted", "reason": "call_connected"},
        )
        assert again.status_code == 200
    finally:
        await conn.close()
