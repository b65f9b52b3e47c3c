"""`leadstatus deliver` with LEADSTATUS_NATS_URL set: it delivers webhooks and publishes to
NATS, and NATS being away stops neither the webhooks nor, once it is back, the publishing."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.cli.main import background_command
from tests.http_support import create
from tests.nats.conftest import STREAM, eventually, reading, stored, stream_count
from tests.nats.nats_server import NatsServer
from tests.webhooks.receiver import serving

pytestmark = pytest.mark.nats

EVENTS = 8


def start_delivery(stderr: Path) -> subprocess.Popen[bytes]:
    with stderr.open("wb") as log:
        return subprocess.Popen(
            background_command("deliver"),
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


async def test_webhooks_go_on_while_nats_is_away_and_the_stream_catches_up_after(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    app: FastAPI,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    nats_server = NatsServer(tmp_path / "nats")  # not started yet: NATS is away
    for name, value in {
        "LEADSTATUS_NATS_URL": nats_server.url,
        "LEADSTATUS_NATS_STREAM": STREAM,
        "LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1",
        "LEADSTATUS_WEBHOOK_POLL_INTERVAL_S": "0.1",
        "LEADSTATUS_LOG_FORMAT": "text",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(app.state.settings, "webhook_allowed_networks", "127.0.0.1")
    stderr = tmp_path / "deliver.log"
    async with serving() as receiver:
        r = await client.post("/v1/webhooks", json={"url": receiver.url})
        assert r.status_code == 201, r.text
        process = start_delivery(stderr)
        try:
            cursor = "SELECT count(*) FROM publishing_cursors"
            assert await eventually(lambda: pool.fetchval(cursor), 1) == 1
            for i in range(EVENTS):
                await create(client, f"process{i}@example.com")

            async def received() -> int:
                return len(receiver.requests)

            assert await eventually(received, EVENTS) == EVENTS

            nats_server.start()
            try:
                async with reading(nats_server) as js:
                    assert await eventually(lambda: stream_count(js), EVENTS) == EVENTS
                    published = [i for _, i, _ in await stored(js)]

                async def said_again() -> bool:
                    return f"NATS stream {STREAM} again" in stderr.read_text()

                assert await eventually(said_again, True)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=15)
                nats_server.stop()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 128 + signal.SIGTERM
    delivered = [q.headers["webhook-id"] for q in receiver.requests]
    assert published == sorted(set(delivered), key=lambda i: int(i.removeprefix("evt_")))
    lines = stderr.read_text().splitlines()
    failed = [line for line in lines if f"NATS stream {STREAM} failed (NoServersError" in line]
    assert len(failed) == 1, lines
    assert "Traceback" not in stderr.read_text()
