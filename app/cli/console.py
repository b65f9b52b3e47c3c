"""What every `leadstatus` command shares: messages on stderr, and the database to use."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import typer

from app.platform.db import resolve_database_url
from app.platform.settings import get_settings


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


def utc_timestamp(value: str) -> datetime:
    """An option's ISO 8601 date or timestamp, in UTC when it names no offset."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not an ISO 8601 date or timestamp.") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


T = TypeVar("T")


def run_on_database(work: Callable[[Any], Awaitable[T]], url: str | None = None) -> T:
    """Run `work(pool)` against the service's database (`url` when this process has it)."""
    from app.platform.db import close_pools, create_pool

    async def main() -> T:
        pool = await create_pool(target, settings)
        try:
            return await work(pool)
        finally:
            await close_pools(pool)

    settings = get_settings()
    target = url or database_url()
    return asyncio.run(main())
