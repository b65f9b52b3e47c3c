"""As a new user tries it: `leadstatus serve`, `leadstatus webhook add URL`, a transition, and
the signed events arrive at a receiver, pushed by the process's own delivery loop."""

from __future__ import annotations

import asyncio
import signal

import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from app.platform.settings import get_settings
from app.webhooks.delivery import DELIVERY_CONNECTION
from tests.cli_runner import leadstatus
from tests.databases import connections_named
from tests.served import ServedProcess
from tests.webhooks.receiver import serving


async def test_a_served_process_delivers_a_transition_to_a_webhook_added_by_the_command(
    database_url: str, admin_key: str, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1")
    get_settings.cache_clear()
    async with serving() as receiver:
        added = await leadstatus("webhook", "add", receiver.url, "--description", "try it")
        assert added.exit_code == 0, added.output
        secret = added.stdout.strip().splitlines()[-1]
        assert secret.startswith("whsec_")
        listed = await leadstatus("webhook", "list")
        endpoint_id, url, types, pipeline, state = listed.stdout.strip().split("\t")
        assert (url, types, pipeline, state) == (receiver.url, "*", "*", "enabled")
        process = await asyncio.to_thread(ServedProcess(database_url).start)
        try:
            headers = {"X-API-Key": admin_key}
            async with httpx.AsyncClient(base_url=process.url, headers=headers) as c:
                lead = (await c.post("/v1/leads", json={"email": "served@example.com"})).json()
                moved = await c.post(
                    f"/v1/leads/{lead['id']}/transitions",
                    json={"to": "qualified", "reason": "need_confirmed"},
                )
                assert moved.status_code == 200, moved.text
            for _ in range(200):
                if len(receiver.requests) >= 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            # Off the loop: the receiver must keep answering while the process stops.
            await asyncio.to_thread(process.stop)
    got = [Webhook(secret).verify(r.body, r.headers) for r in receiver.requests]
    assert [e["type"] for e in got] == ["lead.created", "lead.status_changed"]
    assert got[1]["data"]["to"] == "qualified"
    assert orjson.loads(receiver.requests[1].body)["data"]["lead"]["id"] == lead["id"]
    assert (await leadstatus("webhook", "remove", endpoint_id)).exit_code == 0
    assert "No webhooks yet" in (await leadstatus("webhook", "list")).output
    assert (await leadstatus("webhook", "remove", endpoint_id)).exit_code == 1


async def delivery_connections(database_url: str) -> int:
    return await connections_named(database_url, DELIVERY_CONNECTION)


async def test_a_killed_service_takes_its_delivery_process_with_it(database_url: str) -> None:
    """An orphan would go on taking deliveries with a gone service's settings, and a restarted
    service would start another beside it."""
    process = await asyncio.to_thread(ServedProcess(database_url).start)
    try:
        for _ in range(100):
            if await delivery_connections(database_url):
                break
            await asyncio.sleep(0.1)
        assert await delivery_connections(database_url) > 0, "no delivery process connected"
    finally:
        process.signal(signal.SIGKILL)
        assert process.proc is not None
        await asyncio.to_thread(process.proc.wait)
    for _ in range(150):
        if not await delivery_connections(database_url):
            break
        await asyncio.sleep(0.1)
    assert await delivery_connections(database_url) == 0, process.log()[-2000:]
