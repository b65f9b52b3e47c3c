"""Bulk-import throughput: leads per second through `POST /v1/leads:batch`, 1,000 per call.

`make bench` runs it after the wrk runs (bench/load.py); alone, against a running service:

    .venv/bin/python bench/batch.py --url http://127.0.0.1:8000 --seconds 10

Request bodies are built before the clock starts, so the client spends its CPU sending, not
serializing: on a two-core machine it shares the cores with the service and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass

import httpx
import orjson

BATCH = 1000


@dataclass(frozen=True)
class BatchResult:
    leads: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int

    def line(self) -> str:
        rate = self.leads / self.seconds
        return (
            f"{'batch':<10} {rate:>9.1f} leads/s p50 {self.p50_ms:>8.2f} ms   "
            f"p99 {self.p99_ms:>8.2f} ms   per {BATCH}-lead call   failures {self.failures}"
            f"   ({self.leads} leads)"
        )


def _bodies(run: str, count: int) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "leads": [
                    {
                        "email": f"batch.{run}.{b}.{i}@import.example",
                        "first_name": "Ira",
                        "last_name": f"Import{i}",
                        "company": f"Import Co {i % 89}",
                        "source": "import",
                        "owner": f"rep{i % 5}",
                        "segment": "smb" if i % 3 else "mid_market",
                    }
                    for i in range(BATCH)
                ]
            }
        )
        for b in range(count)
    ]


async def measure_batch(
    url: str, run: str, seconds: float, concurrency: int = 3, *, key: str
) -> BatchResult:
    """Post prepared batches from `concurrency` clients for `seconds`; count created leads."""
    bodies = _bodies(run, int(seconds * 40))  # more than 40,000 leads/s would run out
    cursor = iter(bodies)
    latencies: list[float] = []
    created = failures = 0
    deadline = time.monotonic() + seconds

    async def client_loop() -> None:
        nonlocal created, failures
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, timeout=60.0, headers=headers) as client:
            while time.monotonic() < deadline:
                body = next(cursor, None)
                if body is None:
                    return
                started = time.monotonic()
                r = await client.post(
                    "/v1/leads:batch", content=body, headers={"content-type": "application/json"}
                )
                latencies.append((time.monotonic() - started) * 1000)
                if r.status_code == 200:
                    created += r.json()["created"]
                else:
                    failures += 1

    started = time.monotonic()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    ordered = sorted(latencies) or [float("nan")]
    return BatchResult(
        leads=created,
        seconds=elapsed,
        p50_ms=statistics.median(ordered),
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        failures=failures,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="a running leadstatus service")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=3, help="calls in flight")
    args = parser.parse_args(argv)
    key = os.environ.get("LEADSTATUS_BENCH_KEY")
    if not key:
        parser.error("set LEADSTATUS_BENCH_KEY to an API key with the leads:write scope")
    result = asyncio.run(
        measure_batch(
            args.url.rstrip("/"), str(int(time.time())), args.seconds, args.concurrency, key=key
        )
    )
    print(result.line(), flush=True)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
