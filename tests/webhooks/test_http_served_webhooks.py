"""As a new user tries it: `leadstatus serve`, `leadstatus webhook add URL`, a transition, and
the signed events arrive at a receiver, pushed by the process's own delivery loop."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from app.platform.settings import get_settings
from tests.cli_runner import leadstatus
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
            process.stop()
    got = [Webhook(secret).verify(r.body, r.headers) for r in receiver.requests]
    assert [e["type"] for e in got] == ["lead.created", "lead.status_changed"]
    assert got[1]["data"]["to"] == "qualified"
    assert orjson.loads(receiver.requests[1].body)["data"]["lead"]["id"] == lead["id"]
    assert (await leadstatus("webhook", "remove", endpoint_id)).exit_code == 0
    assert "No webhooks yet" in (await leadstatus("webhook", "list")).output
    assert (await leadstatus("webhook", "remove", endpoint_id)).exit_code == 1
