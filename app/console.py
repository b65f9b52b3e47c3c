"""What every `leadstatus` command shares: messages on stderr, and the database to use."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from app.db import resolve_database_url
from app.settings import get_settings


def say(message: str) -> None:
    """Progress and notes go to stderr, so stdout stays for what a script may capture."""
    typer.echo(message, err=True)


def database_url() -> str:
    """The configured URL, or an embedded server's, which this process then keeps running."""
    settings = get_settings()
    if settings.database_url is None:
        say(
            f"DATABASE_URL is unset: starting the embedded PostgreSQL in {settings.data_dir}/pg ..."
        )
    url = resolve_database_url(settings)
    # Workers and alembic read the same URL, so they join the server this process started.
    os.environ["DATABASE_URL"] = url
    return url


T = TypeVar("T")


def run_on_database(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(pool)` against the service's database."""
    from app.db import create_pool

    async def main() -> T:
        pool = await create_pool(url, settings)
        try:
            return await work(pool)
        finally:
            await pool.close()

    settings = get_settings()
    url = database_url()
    return asyncio.run(main())
