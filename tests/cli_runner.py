"""Running `leadstatus` commands in-process from async tests."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner, Result

from app.cli.main import cli

runner = CliRunner()


async def leadstatus(*args: str) -> Result:
    # The commands run their own event loop; give them a thread of their own.
    return await asyncio.to_thread(runner.invoke, cli, list(args))
