"""The delivery process stopped with SIGTERM while an attempt is in flight: it exits at once,
143, its connections closed, rather than waiting for the receiver or for a supervisor's kill."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest
from fastapi import FastAPI

from tests.http_support import create
from tests.webhooks.delivery_process import deliver_to_loopback, start_delivery
from tests.webhooks.receiver import serving

PROMPT_S = 5.0
"""Well inside the 15 s `serve` waits for it, and shorter than the receiver holds the attempt."""


async def test_sigterm_stops_a_delivery_process_with_an_attempt_in_flight(
    client: httpx.AsyncClient, app: FastAPI, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver_to_loopback(app, monkeypatch)
    async with serving() as receiver:
        receiver.delay_s = 8.0  # longer than the stop may take
        r = await client.post("/v1/webhooks", json={"url": receiver.url})
        assert r.status_code == 201, r.text
        await create(client, "in-flight@example.com")
        delivering = start_delivery()
        try:
            for _ in range(300):
                if receiver.requests:
                    break
                await asyncio.sleep(0.05)
            assert receiver.requests, "no attempt reached the receiver"
            asked = time.monotonic()
            delivering.send_signal(signal.SIGTERM)
            status = await asyncio.to_thread(delivering.wait, PROMPT_S)
            took = time.monotonic() - asked
        finally:
            if delivering.poll() is None:
                delivering.kill()
                delivering.wait()
    assert status == 128 + signal.SIGTERM
    assert took < PROMPT_S
