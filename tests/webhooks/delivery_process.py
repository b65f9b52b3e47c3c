"""`leadstatus deliver` as its own process, on the suite's database, sending to loopback."""

from __future__ import annotations

import os
import subprocess

import pytest
from fastapi import FastAPI

from app.cli.main import background_command


def deliver_to_loopback(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the app (which checks a webhook's URL) and a started process send to 127.0.0.1, and
    the process look for due deliveries every 0.1 s."""
    monkeypatch.setenv("LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1")
    monkeypatch.setenv("LEADSTATUS_WEBHOOK_POLL_INTERVAL_S", "0.1")
    monkeypatch.setattr(app.state.settings, "webhook_allowed_networks", "127.0.0.1")


def start_delivery() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        background_command("deliver"),
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
