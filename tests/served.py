"""`leadstatus serve` as a real process, the command a deployment runs, spoken to over TCP."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
STARTUP_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServedProcess:
    """One service process on a free port; its stderr kept in a file (a pipe could fill up)."""

    def __init__(self, database_url: str, *, unread_stderr: bool = False, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = dict(os.environ, DATABASE_URL=database_url, **env)
        # Kept open for the object's life: the log is read after the process stopped.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None
        self._unread_stderr = unread_stderr
        """A pipe nobody reads, as a careless supervisor gives: it fills after 64 KiB."""

    def start(self) -> ServedProcess:
        self.proc = subprocess.Popen(
            [str(BIN / "leadstatus"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if self._unread_stderr else self._log,
            start_new_session=True,  # its own process group, so a stuck stop can end it all
        )
        deadline = time.monotonic() + STARTUP_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"serve exited with {self.proc.returncode}: {self.log()[-2000:]}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"serve did not answer in {STARTUP_S} s: {self.log()[-2000:]}")
            time.sleep(0.1)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM and wait: the exit status (a graceful stop exits 0 or 143). A process that
        does not stop in time is killed with everything it started, and the test fails."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(
                f"serve did not stop within {timeout} s of SIGTERM: {self.log()[-2000:]}"
            ) from None

    def client(self, key: str, *, timeout: float = 10) -> httpx.AsyncClient:
        """An HTTP client of this process that sends `key`."""
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
        )

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


@contextlib.contextmanager
def serving(database_url: str, *, secret_key: str | None = None) -> Iterator[ServedProcess]:
    """A started process for the block (with `secret_key` as its secret key), stopped after."""
    process = (
        ServedProcess(database_url, LEADSTATUS_SECRET_KEY=secret_key)
        if secret_key
        else ServedProcess(database_url)
    ).start()
    try:
        yield process
    finally:
        process.stop()
