"""Runs migrations against the URL the service itself would use (settings or embedded)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.platform.db import resolve_database_url, sqlalchemy_url
from app.schema import metadata
from app.platform.settings import get_settings

config = context.config
target_metadata = metadata


def _url() -> str:
    given = config.attributes.get("database_url")
    return sqlalchemy_url(given or resolve_database_url(get_settings()))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # The `migrate` command's report of what it applied, when it asks for one.
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        # Two processes migrating at once (replicas starting together) take turns.
        context.execute("SELECT pg_advisory_xact_lock(7431100)")
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
