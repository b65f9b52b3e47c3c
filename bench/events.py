"""Webhook delivery under a steady write load: `make bench-events`.

Starts a receiver (bench/receiver.py) and the service (as `make bench` does: on DATABASE_URL, or
an embedded PostgreSQL in a temporary directory), subscribes the receiver twice, and changes
leads' statuses at a steady rate. Then it waits for every event to arrive and prints the delivery
rate, the lag from each change's commit to its arrival (p50, p99), and what is missing.

    .venv/bin/python bench/events.py --rate 500 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

# The script's own folder is on sys.path when run as `python bench/events.py`.
from load import free_port, say, seed_leads, service_under_test
from wire import Connection

HERE = Path(__file__).resolve().parent
PYTHON = HERE.parent / ".venv" / "bin" / "python"
CONNECTIONS = 32
MOVES = (("negotiating", "proposal_sent"), ("qualified", "scope_changed"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Webhook delivery rate and lag under load.")
    parser.add_argument("--rate", type=int, default=500, help="status changes per second")
    parser.add_argument("--seconds", type=int, default=30, help="how long to keep the rate")
    parser.add_argument("--leads", type=int, default=2000, help="leads the changes cycle over")
    parser.add_argument("--subscriptions", type=int, default=2, help="endpoints subscribed")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the rest")
    args = parser.parse_args(argv)
    args.url = None
    args.workers = 1
    return args


async def wait_receiver(url: str) -> None:
    async with httpx.AsyncClient() as c:
        for _ in range(100):
            try:
                await c.get(f"{url}/stats")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit("the receiver did not start")


async def drive(url: str, key: str, ids: list[int], rate: int, seconds: int) -> tuple[int, int]:
    """`rate` status changes a second for `seconds`; (acknowledged, refused)."""
    host, port = url.removeprefix("http://").split(":")
    passes = dict.fromkeys(ids, 0)
    done = [0, 0]
    due: asyncio.Queue[int | None] = asyncio.Queue()

    async def worker() -> None:
        connection = Connection(host, int(port), key)
        try:
            while (lead_id := await due.get()) is not None:
                to, reason = MOVES[passes[lead_id] % 2]
                passes[lead_id] += 1
                body = orjson.dumps({"to": to, "reason": reason})
                status = await connection.post(f"/v1/leads/{lead_id}/transitions", body)
                done[0 if status == 200 else 1] += 1
        finally:
            connection.close()

    workers = [asyncio.create_task(worker()) for _ in range(CONNECTIONS)]
    start = time.monotonic()
    for n in range(rate * seconds):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait(ids[n % len(ids)])
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    return done[0], done[1]


async def stats(receiver: str) -> dict[str, float | int | None]:
    async with httpx.AsyncClient() as c:
        body: dict[str, float | int | None] = (await c.get(f"{receiver}/stats")).json()
        return body


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    port = free_port()
    receiver_url = f"http://127.0.0.1:{port}"
    receiver = subprocess.Popen([str(PYTHON), str(HERE / "receiver.py"), str(port)])
    os.environ["LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1"
    run = f"{int(time.time())}{secrets.token_hex(3)}"
    try:
        asyncio.run(wait_receiver(receiver_url))
        with (
            tempfile.TemporaryDirectory(prefix="leadstatus-bench-") as tmp,
            service_under_test(args, Path(tmp)) as (url, key),
        ):
            ids = asyncio.run(seed_leads(url, args.leads, run, key))
            seeded = asyncio.run(stats(receiver_url))
            headers = {"Authorization": f"Bearer {key}"}
            for n in range(args.subscriptions):
                r = httpx.post(
                    f"{url}/v1/webhooks",
                    json={
                        "url": f"{receiver_url}/hooks/{n}",
                        "event_types": ["lead.status_changed"],
                    },
                    headers=headers,
                )
                r.raise_for_status()
            say(f"Changing statuses at {args.rate}/s for {args.seconds}s ...")
            started = time.monotonic()
            acked, refused = asyncio.run(drive(url, key, ids, args.rate, args.seconds))
            driven = time.monotonic() - started
            expected = acked * args.subscriptions + int(seeded["received"] or 0)
            deadline = time.monotonic() + args.drain
            while True:
                got = asyncio.run(stats(receiver_url))
                if int(got["unique"] or 0) >= expected or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            drained = time.monotonic() - started
    finally:
        receiver.terminate()
        receiver.wait()
    unique = int(got["unique"] or 0)
    missing = expected - unique
    print(
        f"events: {acked} changes acknowledged ({refused} refused) in {driven:.1f}s, "
        f"{unique} deliveries in {drained:.1f}s ({unique / drained:.0f}/s), "
        f"lag p50 {float(got['lag_p50_s'] or 0) * 1000:.0f} ms, "
        f"p99 {float(got['lag_p99_s'] or 0) * 1000:.0f} ms, "
        f"max {float(got['lag_max_s'] or 0) * 1000:.0f} ms, missing {missing}, "
        f"duplicates {int(got['received'] or 0) - unique}",
        flush=True,
    )
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
