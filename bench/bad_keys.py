"""Real reads while a flood of made-up API keys arrives from one address: what the failure
budget (LEADSTATUS_AUTH_FAILURES_PER_S / _BURST) buys. `make bench-bad-keys` runs this.

For each of two services, one with the default budget and one with the budget lifted, it reads
one lead with a valid key on 4 connections, first alone and then beside 16 connections sending
a new made-up key per request (bench/bad_keys.lua), and prints the reads' rate, p50 and p99 and
what the flood was answered. Each service runs on an embedded PostgreSQL of its own, unless
DATABASE_URL is set.

    .venv/bin/python bench/bad_keys.py --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx

# The script's own folder is on sys.path when run as `python bench/bad_keys.py`.
from load import (
    HERE,
    STARTUP_TIMEOUT_S,
    WrkResult,
    parse_wrk,
    say,
    start_service,
    stop_service,
    wait_healthy,
)

READERS = 4
FLOODERS = 16
LIFTED = "1000000000"


def wrk(command: list[str], seconds: int) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    return done.stdout


def reads(url: str, key: str, lead: int, seconds: int) -> WrkResult:
    return parse_wrk(
        "reads",
        wrk(
            [
                "wrk",
                "-t1",
                f"-c{READERS}",
                f"-d{seconds}s",
                "--latency",
                "-H",
                f"Authorization: Bearer {key}",
                f"{url}/v1/leads/{lead}",
            ],
            seconds,
        ),
    )


def flood(url: str, seconds: int, out: list[str]) -> threading.Thread:
    command = ["wrk", "-t1", f"-c{FLOODERS}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(HERE / "bad_keys.lua")]

    def run() -> None:
        out.append(wrk([*command, url], seconds))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def one_lead(url: str, key: str) -> int:
    r = httpx.post(
        f"{url}/v1/leads",
        json={"email": f"reader-{os.getpid()}@example.com"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    if r.status_code == 409:
        lead: int = r.json()["existing_lead_id"]
        return lead
    r.raise_for_status()
    created: int = r.json()["id"]
    return created


def measure(budget: str, lifted: bool, seconds: int) -> list[str]:
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="leadstatus-bad-keys-") as tmp:
        if lifted:
            os.environ["LEADSTATUS_AUTH_FAILURE_BURST"] = LIFTED
        else:
            os.environ.pop("LEADSTATUS_AUTH_FAILURE_BURST", None)
        service = start_service(Path(tmp), 1)
        try:
            asyncio.run(wait_healthy(service.url, service, STARTUP_TIMEOUT_S))
            data_dir = service.data_dir or Path(
                os.environ.get("LEADSTATUS_DATA_DIR", ".leadstatus")
            )
            key = (data_dir / "dev-key").read_text().strip()
            lead = one_lead(service.url, key)
            say(f"{budget}: reads alone for {seconds}s ...")
            alone = reads(service.url, key, lead, seconds)
            say(f"{budget}: reads beside the flood for {seconds}s ...")
            report: list[str] = []
            flooding = flood(service.url, seconds + 2, report)
            beside = reads(service.url, key, lead, seconds)
            flooding.join()
            flooded = parse_wrk("flood", report[0])
        finally:
            stop_service(service)
    for label, result in (("alone", alone), ("with flood", beside)):
        lines.append(
            f"{budget:<14} reads {label:<10} {result.requests_per_s:>8.1f} req/s   "
            f"p50 {result.p50_ms:>7.2f} ms   p99 {result.p99_ms:>7.2f} ms"
        )
    lines.append(
        f"{budget:<14} flood              {flooded.requests_per_s:>8.1f} req/s   "
        f"p50 {flooded.p50_ms:>7.2f} ms   p99 {flooded.p99_ms:>7.2f} ms   "
        f"({flooded.non_2xx} of {flooded.requests} refused)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH: install it with `sudo apt-get install wrk`")
    lines = measure("budget on", False, args.seconds) + measure("budget lifted", True, args.seconds)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
