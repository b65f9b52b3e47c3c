"""The benchmark receiver (bench/receiver.py) as the load scripts run it: started on a free port,
subscribed to the service under test, asked what arrived, stopped."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from wire import free_port

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
DRAIN_TIMEOUT_S = 300.0


@contextlib.contextmanager
def running_receiver() -> Iterator[str]:
    """A receiver's base URL while it runs; a service started from here meanwhile may send to it
    (its address is allowed in this environment)."""
    os.environ["LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS"] = LOOPBACK
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    # At the lowest CPU priority: a receiver stands for another machine, whose work is not the
    # service's; on the same cores it takes only what the service leaves idle.
    process = subprocess.Popen(
        ["nice", "-n", "19", sys.executable, str(HERE / "receiver.py"), str(port)]
    )
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{url}/stats")
                break
            time.sleep(0.1)
        else:
            raise SystemExit("the benchmark receiver did not start")
        yield url
    finally:
        process.terminate()
        process.wait()


def stats(receiver: str) -> dict[str, float | int | None]:
    """What arrived so far: `received`, `unique` and the lag percentiles in seconds."""
    body: dict[str, float | int | None] = httpx.get(f"{receiver}/stats").json()
    return body


def subscribe(service: str, key: str, url: str, event_types: list[str]) -> None:
    """An endpoint at `url` for `event_types` (every type when empty)."""
    response = httpx.post(
        f"{service}/v1/webhooks",
        json={"url": url, "event_types": event_types},
        headers={"Authorization": f"Bearer {key}"},
    )
    if response.is_error:
        raise SystemExit(f"Subscribing {url} failed: {response.status_code} {response.text}")


def drained_line(receiver: str) -> str:
    """What the receiver got, once arrivals stop (a backlog drains after a load ends)."""
    got, deadline = stats(receiver), time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        time.sleep(2)
        before, got = got, stats(receiver)
        if got["received"] == before["received"]:
            break
    return f"{got['unique']} events delivered, {lag_line(got)}"


def lag_line(got: dict[str, float | int | None]) -> str:
    """The lag figures of `stats`, in ms."""
    return (
        f"lag p50 {float(got['lag_p50_s'] or 0) * 1000:.0f} ms, "
        f"p99 {float(got['lag_p99_s'] or 0) * 1000:.0f} ms, "
        f"max {float(got['lag_max_s'] or 0) * 1000:.0f} ms"
    )
