"""The delivery process killed (SIGKILL) with attempts in flight, then started again: every event
reaches the receiver at least once, and a repeat carries the id it had the first time."""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tests.http_support import create
from tests.webhooks.delivery_process import deliver_to_loopback, start_delivery
from tests.webhooks.receiver import serving

EVENTS = 30


async def test_a_killed_delivery_process_loses_nothing_and_repeats_with_the_same_ids(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    app: FastAPI,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deliver_to_loopback(app, monkeypatch)
    async with serving() as receiver:
        receiver.delay_s = 0.2  # attempts stay in flight long enough to be cut
        r = await client.post("/v1/webhooks", json={"url": receiver.url})
        assert r.status_code == 201, r.text
        for i in range(EVENTS):
            await create(client, f"crash{i}@example.com")
        first = start_delivery()
        try:
            for _ in range(300):
                if len(receiver.requests) >= 5:
                    break
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)
        finally:
            first.wait()
        cut = await pool.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending' AND attempts > 0"
        )
        # The cut attempts' leases run out (30 s in life; at once here).
        await pool.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = now() WHERE state = 'pending'"
        )
        again = start_delivery()
        try:
            for _ in range(600):
                delivered = await pool.fetchval(
                    "SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'"
                )
                if delivered >= EVENTS:
                    break
                await asyncio.sleep(0.05)
        finally:
            again.send_signal(signal.SIGTERM)
            again.wait(timeout=15)
    ids = [q.headers["webhook-id"] for q in receiver.requests]
    logged = [
        e["id"] for e in (await client.get("/v1/events", params={"limit": 100})).json()["events"]
    ]
    assert len(logged) == EVENTS
    assert set(ids) == set(logged)
    repeats = len(ids) - len(set(ids))
    assert repeats <= cut
    states = await pool.fetch("SELECT state, count(*) AS n FROM webhook_deliveries GROUP BY state")
    assert {s["state"]: s["n"] for s in states} == {"delivered": EVENTS}
