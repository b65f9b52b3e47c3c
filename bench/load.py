"""Create and transition under load: requests/s, p50, p99 and failures, one line per call.

`make bench` runs this. It measures the two write paths a CRM integration hammers, with wrk driving
the HTTP side (a Python load generator would be the bottleneck, not the service):

- create: `POST /v1/leads`, every lead new (bench/create.lua);
- transition: `POST /v1/leads/{id}/transitions` on leads seeded here, each wrk thread cycling its
  own slice qualified <-> negotiating (bench/transition.lua).

Unless `--url` names a running service, it starts `leadstatus serve --migrate` on a free port: on
DATABASE_URL when that is set, else on an embedded PostgreSQL in a temporary data directory (so
such a run starts from an empty database and leaves nothing behind). The service is stopped at the
end, whatever happens.

    .venv/bin/python bench/load.py --seconds 10 --connections 32 --threads 2 --leads 5000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

# The script's own folder is on sys.path when run as `python bench/load.py`.
from batch import measure_batch
from receiving import drained_line, running_receiver, subscribe
from wire import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LEADSTATUS = ROOT / ".venv" / "bin" / "leadstatus"
SEED_CONCURRENCY = 16
STARTUP_TIMEOUT_S = 180.0
"""A first embedded start runs initdb and the migrations: allow for a slow disk."""
STOP_TIMEOUT_S = 20.0


def say(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the result lines (easy to paste or grep)."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The knobs worth turning; the defaults are what `make bench` reports."""
    parser = argparse.ArgumentParser(
        description="Benchmark leadstatus create and transition calls with wrk.",
    )
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (-c)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (-t)")
    parser.add_argument(
        "--leads", type=int, default=5000, help="leads seeded at `qualified` for the transitions"
    )
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument(
        "--url", help="benchmark this running service (e.g. http://127.0.0.1:8000) instead"
    )
    parser.add_argument(
        "--webhook",
        action="store_true",
        help="with one webhook subscription (every event type) to a local receiver",
    )
    args = parser.parse_args(argv)
    for name in ("seconds", "connections", "threads", "leads", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk gives each thread one)")
    # A thread's connections each hold one lead of its slice at a time; with fewer leads than
    # connections two of them would hit the same lead at once and measure lock waits and 409s.
    if args.leads // args.threads <= args.connections // args.threads:  # wrk's own split
        parser.error("--leads per thread must exceed --connections per thread")
    return args


# ---------------------------------------------------------------------------------------------
# The service under test


@dataclass
class Service:
    """A `leadstatus serve` this script started, and where its output and data live."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    data_dir: Path | None
    """The embedded PostgreSQL's data directory, or None when DATABASE_URL was given."""


def start_service(workdir: Path, workers: int) -> Service:
    """Start the service in its own process group, so stopping it also stops its workers."""
    if not LEADSTATUS.exists():
        raise SystemExit(f"{LEADSTATUS} is missing: run `make install` first")
    port = free_port()
    env = dict(os.environ)
    data_dir: Path | None = None
    if not env.get("DATABASE_URL"):
        # A fresh directory: an embedded server of its own, an empty database, no stale leads.
        data_dir = workdir / "data"
        env["LEADSTATUS_DATA_DIR"] = str(data_dir)
    log = workdir / "service.log"
    where = "DATABASE_URL" if data_dir is None else f"an embedded PostgreSQL in {data_dir}"
    say(f"Starting leadstatus on port {port} ({workers} worker(s), {where}) ...")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(LEADSTATUS),
                "serve",
                "--migrate",
                "--dev-key",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Service(process, f"http://127.0.0.1:{port}", log, data_dir)


def log_tail(service: Service, lines: int = 30) -> str:
    """The end of the service's output: why it did not come up, without scrolling a whole log."""
    try:
        text = service.log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _group_alive(pgid: int) -> bool:
    """Signal 0 probes the whole group: the workers uvicorn forked count, not just the parent."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_group(service: Service, timeout: float) -> bool:
    """Wait until no process of the service's group is left, reaping the service meanwhile.

    An exited but unreaped service is a zombie that still counts as a member of its group.
    """
    deadline = time.monotonic() + timeout
    while True:
        service.process.poll()
        if not _group_alive(service.process.pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _postmaster_pid(data_dir: Path) -> int | None:
    """The running postmaster's pid, from the first line of postmaster.pid (absent once stopped)."""
    try:
        first = (data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0]
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    """The postmaster is not our child (pg_ctl detaches it), so it is probed, not waited for."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_service(service: Service) -> None:
    """SIGTERM the process group; make sure the embedded PostgreSQL it started is gone too.

    The service stops its embedded server when it exits on SIGTERM, but a service that had to be
    killed cannot, and that server sits in a session of its own (pg_ctl detaches it), out of reach
    of the group signal. So a postmaster still recorded in our temporary data directory is
    stopped here, by its pid, before that directory is removed.
    """
    pgid = service.process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    if not _wait_group(service, STOP_TIMEOUT_S):
        say("The service did not stop on SIGTERM; killing it.")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        _wait_group(service, 5)
    if service.data_dir is None:
        return
    pid = _postmaster_pid(service.data_dir)
    if pid is None or not _pid_alive(pid):
        return
    os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown: ends sessions, checkpoints, exits
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        say(f"The embedded PostgreSQL (pid {pid}) did not stop; killing it.")
        os.kill(pid, signal.SIGKILL)


async def wait_healthy(url: str, service: Service | None, within_s: float) -> None:
    """Poll /healthz: the service answers only once migrated and its pool is open."""
    try:
        async with (
            asyncio.timeout(within_s),
            httpx.AsyncClient(base_url=url, timeout=2.0) as client,
        ):
            while True:
                if service is not None and service.process.poll() is not None:
                    raise SystemExit(
                        f"leadstatus exited with {service.process.returncode} before answering:\n"
                        + log_tail(service)
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.25)
    except TimeoutError:
        tail = log_tail(service) if service is not None else ""
        raise SystemExit(f"{url}/healthz did not answer within {within_s:.0f}s\n{tail}") from None


# ---------------------------------------------------------------------------------------------
# Seeding


async def seed_leads(url: str, count: int, run: str, key: str) -> list[int]:
    """Create `count` leads and move each to `qualified`, where transition.lua expects them.

    Done over HTTP rather than SQL so the seed goes through the same rules as real traffic and
    works against any `--url`. Sixteen requests in flight keep a service busy; the seed itself is
    not what is measured.
    """
    ids: list[int] = []
    done = 0
    started = time.monotonic()
    numbers = iter(range(count))
    interactive = sys.stderr.isatty()
    step = max(1, count // 10)
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    def report() -> None:
        line = f"Seeding leads: {done}/{count}"
        if interactive:
            print(f"\r{line}", end="", file=sys.stderr, flush=True)
        elif done % step == 0 or done == count:
            say(line)

    async def worker() -> None:
        # A client (one keep-alive connection) per worker: httpcore's shared pool rescans all its
        # connections on every request, which here cost as much CPU as the rest of the request.
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            base_url=url, timeout=30.0, limits=one, headers=headers
        ) as client:
            for n in numbers:
                await seed_one(client, n)

    async def seed_one(client: httpx.AsyncClient, n: int) -> None:
        nonlocal done
        created = await client.post(
            "/v1/leads",
            json={
                "email": f"seed.{run}.{n}@load.example",
                "first_name": "Sam",
                "last_name": f"Seed{n}",
                "company": f"Seed Co {n % 97}",
                "source": "bench",
                "owner": f"rep{n % 5}",
            },
        )
        _check(created, "create")
        lead_id = int(created.json()["id"])
        moved = await client.post(
            f"/v1/leads/{lead_id}/transitions",
            json={"to": "qualified", "reason": "need_confirmed"},
        )
        _check(moved, "transition")
        ids.append(lead_id)
        done += 1
        report()

    await asyncio.gather(*(worker() for _ in range(min(SEED_CONCURRENCY, count))))
    if interactive:
        print(file=sys.stderr)
    say(f"Seeded {count} qualified leads in {time.monotonic() - started:.1f}s.")
    return ids


def _check(response: httpx.Response, what: str) -> None:
    """Stop at the first failed seed call with the service's own explanation."""
    if response.is_success:
        return
    raise SystemExit(
        f"Seeding failed: {what} answered {response.status_code}: {response.text[:500]}"
    )


# ---------------------------------------------------------------------------------------------
# wrk


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run says about one call."""

    call: str
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    def line(self) -> str:
        """One line per call, aligned so two runs compare at a glance."""
        text = (
            f"{self.call:<10} {self.requests_per_s:>9.1f} req/s   p50 {self.p50_ms:>8.2f} ms   "
            f"p99 {self.p99_ms:>8.2f} ms   non-2xx {self.non_2xx}   ({self.requests} requests)"
        )
        if self.socket_errors:
            text += f"   socket errors {self.socket_errors}"
        return text


_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _latency_ms(output: str, percentile: int) -> float:
    """One line of `--latency`'s distribution, in ms whatever unit wrk chose to print it in."""
    match = re.search(rf"^\s*{percentile}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
    if match is None:
        raise ValueError(f"no {percentile}% line in wrk's latency distribution")
    return float(match.group(1)) * _TIME_UNITS_MS[match.group(2)]


def parse_wrk(call: str, output: str) -> WrkResult:
    """Read the figures out of wrk's text report (wrk 4 has no machine-readable output)."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in", output, re.M)
    if rps is None or total is None:
        raise ValueError("no request count or rate in wrk's report")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        call=call,
        requests=int(total.group(1)),
        requests_per_s=float(rps.group(1)),
        p50_ms=_latency_ms(output, 50),
        p99_ms=_latency_ms(output, 99),
        non_2xx=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in sock.groups()) if sock else 0,
    )


def run_wrk(
    wrk: str, call: str, url: str, args: argparse.Namespace, env: dict[str, str]
) -> WrkResult:
    """Run one wrk script against the service and parse its report."""
    command = [
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.seconds}s",
        "--latency",
        "-s",
        str(HERE / f"{call}.lua"),
        url,
    ]
    say(f"Running wrk: {call} for {args.seconds}s ({args.connections} connections) ...")
    done = subprocess.run(
        command,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=args.seconds + 60,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}) on {call}:\n{done.stderr}{done.stdout}")
    try:
        return parse_wrk(call, done.stdout)
    except ValueError as error:
        raise SystemExit(
            f"Could not read wrk's report for {call}: {error}\n{done.stdout}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Main


@contextlib.contextmanager
def service_under_test(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str]]:
    """The base URL to benchmark and an API key for it: `--url` with LEADSTATUS_BENCH_KEY, or a
    service started (and stopped) here with its development key."""
    if args.url:
        url = str(args.url).rstrip("/")
        key = os.environ.get("LEADSTATUS_BENCH_KEY")
        if not key:
            raise SystemExit("--url needs LEADSTATUS_BENCH_KEY: an API key with every scope")
        asyncio.run(wait_healthy(url, None, 10.0))
        yield url, key
        return
    service = start_service(workdir, args.workers)
    try:
        asyncio.run(wait_healthy(service.url, service, STARTUP_TIMEOUT_S))
        say(f"leadstatus answers on {service.url}.")
        data_dir = service.data_dir or ROOT / os.environ.get("LEADSTATUS_DATA_DIR", ".leadstatus")
        yield service.url, (data_dir / "dev-key").read_text().strip()
    finally:
        say("Stopping leadstatus ...")
        stop_service(service)


def main(argv: list[str] | None = None) -> int:
    """Seed, run wrk for each call, print one result line per call; 1 if any request failed."""
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not on PATH: install it with `sudo apt-get install wrk`")
    # One tag per run keeps emails unique even when several runs share a DATABASE_URL.
    run = f"{int(time.time())}{secrets.token_hex(3)}"
    results: list[WrkResult] = []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="leadstatus-bench-"))
        receiver = stack.enter_context(running_receiver()) if args.webhook else None
        url, key = stack.enter_context(service_under_test(args, Path(tmp)))
        if receiver is not None:
            subscribe(url, key, f"{receiver}/hooks/bench", [])
            say("Subscribed a local receiver to every event type.")
        ids = asyncio.run(seed_leads(url, args.leads, run, key))
        ids_file = Path(tmp) / "lead-ids.txt"
        ids_file.write_text("".join(f"{i}\n" for i in ids))
        env = {
            "LEADSTATUS_BENCH_RUN": run,
            "LEADSTATUS_BENCH_KEY": key,
            "LEADSTATUS_BENCH_IDS": str(ids_file),
            "LEADSTATUS_BENCH_THREADS": str(args.threads),
        }
        for call in ("create", "transition"):
            result = run_wrk(wrk, call, url, args, env)
            results.append(result)
            print(result.line(), flush=True)
        say(f"Posting batches of 1,000 leads for {args.seconds}s ...")
        batch = asyncio.run(measure_batch(url, run, args.seconds, key=key))
        print(batch.line(), flush=True)
        if receiver is not None:
            say("Waiting for the deliveries to drain ...")
            print(f"webhook    {drained_line(receiver)}", flush=True)
    failed = [r for r in results if r.non_2xx or r.socket_errors]
    if batch.failures:
        failed.append(WrkResult("batch", 0, 0, 0, 0, batch.failures, 0))
    if failed:
        say("Some requests failed: " + ", ".join(r.call for r in failed) + " (see above).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
