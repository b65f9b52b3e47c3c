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
import secrets
import sys
import tempfile
import time
from pathlib import Path

import orjson

# The script's own folder is on sys.path when run as `python bench/events.py`.
from load import say, seed_leads, service_under_test
from receiving import lag_line, running_receiver, stats, subscribe
from wire import Connection

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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = f"{int(time.time())}{secrets.token_hex(3)}"
    with (
        running_receiver() as receiver,
        tempfile.TemporaryDirectory(prefix="leadstatus-bench-") as tmp,
        service_under_test(args, Path(tmp)) as (url, key),
    ):
        ids = asyncio.run(seed_leads(url, args.leads, run, key))
        seeded = stats(receiver)
        for n in range(args.subscriptions):
            subscribe(url, key, f"{receiver}/hooks/{n}", ["lead.status_changed"])
        say(f"Changing statuses at {args.rate}/s for {args.seconds}s ...")
        started = time.monotonic()
        acked, refused = asyncio.run(drive(url, key, ids, args.rate, args.seconds))
        driven = time.monotonic() - started
        expected = acked * args.subscriptions + int(seeded["received"] or 0)
        deadline = time.monotonic() + args.drain
        while True:
            got = stats(receiver)
            if int(got["unique"] or 0) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        drained = time.monotonic() - started
    unique = int(got["unique"] or 0)
    missing = expected - unique
    print(
        f"events: {acked} changes acknowledged ({refused} refused) in {driven:.1f}s, "
        f"{unique} deliveries in {drained:.1f}s ({unique / drained:.0f}/s), "
        f"{lag_line(got)}, missing {missing}, duplicates {int(got['received'] or 0) - unique}",
        flush=True,
    )
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
