"""A real `leadstatus serve` for the browser tests, and a page that records what it did.

The service runs as a subprocess on a free port against its own fresh embedded PostgreSQL,
optionally seeded with demo history first. Pages record every request and console error, so a
test can say that nothing came from another host and nothing failed in the browser.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright import sync_api

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
SEED_TIMEOUT_S = 300.0
UI_TIMEOUT_MS = 30_000

# URL schemes that never leave the browser.
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _leadstatus_command() -> list[str]:
    """The `leadstatus` script of the interpreter running the tests (the project's venv)."""
    script = Path(sys.executable).with_name("leadstatus")
    if script.exists():
        return [str(script)]
    found = shutil.which("leadstatus")
    if found:
        return [found]
    return [sys.executable, "-c", "from app.cli.main import main; main()"]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty>"


@dataclass
class Service:
    base_url: str
    stderr_log: Path
    key: str
    """The development key `--dev-key` made: what a developer pastes into Authorize."""


@contextmanager
def served(workdir: Path, *, seed_leads: int = 0) -> Iterator[Service]:
    """`leadstatus serve --migrate` on a free port with its own embedded PostgreSQL, after
    `leadstatus seed` when `seed_leads` asks for demo history."""
    data_dir = workdir / "data"
    stdout_log = workdir / "serve.stdout.log"
    stderr_log = workdir / "serve.stderr.log"
    port = _free_port()
    base_url = f"http://{HOST}:{port}"

    env = os.environ.copy()
    env.pop("DATABASE_URL", None)
    env["LEADSTATUS_DATA_DIR"] = str(data_dir)
    # The working directory is the scratch dir so that no developer's `.env` (which could set
    # DATABASE_URL) is read; alembic.ini is found next to the (editable) package.
    if seed_leads:
        seeding = subprocess.run(
            [*_leadstatus_command(), "seed", "--migrate", "--leads", str(seed_leads)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=SEED_TIMEOUT_S,
            check=False,
        )
        if seeding.returncode != 0:
            pytest.fail(
                f"`leadstatus seed` exited with code {seeding.returncode}:\n{seeding.stderr}",
                pytrace=False,
            )
    cmd = [
        *_leadstatus_command(),
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--migrate",
        "--dev-key",
    ]
    with stdout_log.open("wb") as out, stderr_log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=err)
    try:
        _wait_healthy(proc, base_url, stderr_log)
        key = (data_dir / "dev-key").read_text().strip()
        yield Service(base_url=base_url, stderr_log=stderr_log, key=key)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        orphan = _stop_orphaned_postgres(data_dir / "pg")
        if orphan is not None:
            warnings.warn(
                f"`leadstatus serve` exited with code {proc.returncode} on SIGTERM and left its "
                f"embedded PostgreSQL (pid {orphan}) running; this test stopped it",
                stacklevel=1,
            )


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, stderr_log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error = "no attempt yet"
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            pytest.fail(
                f"`leadstatus serve --migrate` exited with code {code} before /healthz answered."
                f"\n--- its stderr ({stderr_log}) ---\n{_tail(stderr_log)}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
                last_error = f"HTTP {resp.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = repr(exc)
        time.sleep(0.25)
    pytest.fail(
        f"{base_url}/healthz did not answer 200 within {STARTUP_TIMEOUT_S:.0f} s "
        f"(last error: {last_error})\n--- server stderr ({stderr_log}) ---\n{_tail(stderr_log)}",
        pytrace=False,
    )


def _stop_orphaned_postgres(pgdata: Path) -> int | None:
    """Stop an embedded PostgreSQL still running in `pgdata`; its pid, or None if none was.

    The server is meant to stop when the last process using it exits, but that happens in an
    atexit hook, which does not run if the process dies of a signal.
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pidfile.exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        if pidfile.exists():
            os.kill(pid, signal.SIGKILL)
    return pid


@dataclass
class Visit:
    """A fresh page plus every request it made and every error it printed."""

    page: sync_api.Page
    requests: list[sync_api.Request] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [r.url for r in self.requests]

    def offsite_requests(self) -> list[str]:
        """Requests for hosts other than the service on 127.0.0.1, with how each ended.

        A request the page's Content-Security-Policy blocked never leaves the browser, so it does
        not count (Chromium still reports it as a request, failed with "csp").
        """
        offsite = []
        for request in self.requests:
            parts = urlsplit(request.url)
            if parts.scheme in LOCAL_SCHEMES or parts.hostname == HOST:
                continue
            failure = request.failure
            if failure is not None and "csp" in failure.lower():
                continue
            outcome = f"failed: {failure}" if failure else "sent"
            offsite.append(f"{request.url} ({outcome}, initiated as {request.resource_type})")
        return offsite


def assert_nothing_offsite(visit: Visit, what: str) -> None:
    offsite = visit.offsite_requests()
    assert not offsite, (
        f"{what} requested {len(offsite)} URL(s) from hosts other than {HOST} "
        f"(a CDN or other outside asset?):\n  " + "\n  ".join(offsite)
    )
