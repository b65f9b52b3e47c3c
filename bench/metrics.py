"""Latency of every metrics endpoint on a large seeded database: `make bench-metrics`.

Seeds the database up to `--leads` leads (reusing what an earlier run seeded), starts the service,
and times `--requests` sequential calls per endpoint with the default window, printing p50 and p95.
Without DATABASE_URL it keeps its own embedded PostgreSQL under `.leadstatus/bench-metrics`, so
the seeded million leads survive between runs and never mix with `make run`'s data.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

# The script's own folder is on sys.path when run as `python bench/metrics.py`.
from dashboard import Visits, time_dashboard
from wire import free_port

BIN = Path(sys.executable).parent
ENDPOINTS = [
    "/v1/metrics/summary",
    "/v1/metrics/loss-reasons",
    "/v1/metrics/revenue",
    "/v1/metrics/pipeline-value",
    "/v1/metrics/forecast?period=quarter",
    "/v1/metrics/hygiene",
    "/v1/metrics/owners",
    "/v1/metrics/sources",
    "/v1/metrics/funnel",
    "/v1/metrics/timeseries?metric=win_rate&interval=week",
    "/v1/metrics/timeseries?metric=created&interval=day",
    "/v1/leads?stale=true",
]
TARGET_P95_MS = 50.0
DASHBOARD_TARGET_MS = 1000.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def database_url(env: dict[str, str]) -> str:
    """The configured database, or this benchmark's own embedded server (kept running)."""
    if env.get("DATABASE_URL"):
        return env["DATABASE_URL"]
    from app.platform.db import start_embedded

    return start_embedded(Path(".leadstatus/bench-metrics"))


async def lead_count(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM leads")
        return count
    finally:
        await conn.close()


async def vacuum(url: str) -> None:
    """Fresh statistics and visibility maps, as autovacuum would leave them after a while."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def time_endpoints(base: str, requests: int, key: str) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as client:
        for path in ENDPOINTS:
            for _ in range(3):  # warm-up: plans and caches
                (await client.get(path)).raise_for_status()
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                (await client.get(path)).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            timings[path] = samples
    return timings


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def report_dashboard(visits: Visits) -> int:
    print(f"{'/dashboard, from navigation':40} {'p50 ms':>8} {'p95 ms':>8}")
    for label, samples in (
        ("first screen's charts drawn", visits.first_screen_ms),
        ("every number of the page in", visits.every_figure_ms),
        ("nothing cached: first screen's charts", visits.cold_first_screen_ms),
        ("nothing cached: every number", visits.cold_every_figure_ms),
    ):
        print(f"{label:40} {statistics.median(samples):8.0f} {percentile(samples, 95):8.0f}")
    worst = percentile(visits.first_screen_ms, 95)
    verdict = "meets" if worst <= DASHBOARD_TARGET_MS else "misses"
    print(f"first screen p95 {worst:.0f} ms: {verdict} the {DASHBOARD_TARGET_MS:.0f} ms bar")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--leads", type=int, default=1_000_000, help="Seed up to this many leads.")
    ap.add_argument("--requests", type=int, default=40, help="Timed calls per endpoint.")
    ap.add_argument("--seed", type=int, default=1, help="Seed of the generated history.")
    ap.add_argument(
        "--dashboard",
        type=int,
        default=0,
        metavar="VISITS",
        help="Instead of the endpoints, time this many visits of /dashboard in headless Chromium.",
    )
    args = ap.parse_args()

    env = dict(os.environ)
    url = database_url(env)
    env["DATABASE_URL"] = url
    subprocess.run([str(BIN / "leadstatus"), "migrate"], env=env, check=True)
    have = asyncio.run(lead_count(url))
    if have < args.leads:
        say(f"{have:,} leads present; seeding {args.leads - have:,} more ...")
        subprocess.run(
            [
                str(BIN / "leadstatus"),
                "seed",
                "--leads",
                str(args.leads - have),
                "--seed",
                str(args.seed),
            ],
            env=env,
            check=True,
        )
        asyncio.run(vacuum(url))
    else:
        say(f"{have:,} leads present: reusing them.")

    made = subprocess.run(
        [
            str(BIN / "leadstatus"),
            "apikey",
            "create",
            "--name",
            f"bench-metrics-{int(time.time())}",
            "--scopes",
            "metrics:read,leads:read",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "leadstatus"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/readyz", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    say("the service did not start")
                    return 1
                time.sleep(0.3)
        if args.dashboard:
            return report_dashboard(time_dashboard(base, key, args.dashboard))
        timings = asyncio.run(time_endpoints(base, args.requests, key))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)

    worst = 0.0
    print(f"{'endpoint':58} {'p50 ms':>8} {'p95 ms':>8}")
    for path, samples in timings.items():
        p50, p95 = statistics.median(samples), percentile(samples, 95)
        worst = max(worst, p95)
        print(f"{path:58} {p50:8.1f} {p95:8.1f}")
    verdict = "meets" if worst <= TARGET_P95_MS else "misses"
    print(f"worst p95 {worst:.1f} ms: {verdict} the {TARGET_P95_MS:.0f} ms bar")
    return 0


if __name__ == "__main__":
    sys.exit(main())
