"""Databases the tests make on the test server: created, migrated, dropped, addressed by URL.

Plain functions (no fixtures), so the suite's conftest, the fault tests' own server and the
migrations test share one way of doing it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic.config import Config

from alembic import command

ROOT = Path(__file__).resolve().parent.parent


def with_database(url: str, name: str) -> str:
    """The server's URL, naming database `name` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def admin(server_url: str, sql: str) -> None:
    """Run one statement on the server (CREATE or DROP DATABASE: outside any transaction)."""
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def alembic_config(url: str) -> Config:
    """Alembic's configuration as `leadstatus migrate` builds it, for database `url`."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    return cfg


def create_database(server_url: str, name: str) -> str:
    """An empty database `name` on the server; returns its URL."""
    asyncio.run(admin(server_url, f'CREATE DATABASE "{name}"'))
    return with_database(server_url, name)


def migrated_database(server_url: str, name: str) -> str:
    """Create database `name` on the server, build it with the migrations; returns its URL."""
    url = create_database(server_url, name)
    command.upgrade(alembic_config(url), "head")
    return url


def drop_database(server_url: str, name: str) -> None:
    asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def connections_named(url: str, name: str) -> int:
    """The sessions on database `url` whose `application_name` is `name` (a pool's, a process's)."""
    conn = await asyncpg.connect(url)
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = $1",
            name,
        )
        return n
    finally:
        await conn.close()
