"""`leadstatus serve` as a real process: the command a deployment runs, spoken to over TCP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(database_url: str) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=database_url)
    proc = subprocess.Popen(
        [str(BIN / "leadstatus"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"serve exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
                )
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


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
