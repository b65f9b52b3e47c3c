"""`leadstatus apikey ...` and the development key, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from app.access.domain import key_hash
from app.access.service import development_key, revoke_key
from tests.cli_runner import leadstatus


async def test_keys_are_created_listed_and_revoked_and_only_hashes_kept(
    cli_env: None, pool: asyncpg.Pool
) -> None:
    made = await leadstatus(
        "apikey", "create", "--name", "crm", "--scopes", "leads:read,leads:write"
    )
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("lsk_") and len(key) > 40
    assert made.stdout.strip() == key  # alone on stdout: `KEY=$(leadstatus apikey create ...)`
    row = await pool.fetchrow("SELECT * FROM api_keys WHERE name = 'crm'")
    assert row["key_hash"] == key_hash(key) and row["scopes"] == ["leads:read", "leads:write"]
    assert key not in str(dict(row))

    listed = await leadstatus("apikey", "list")
    assert "crm\tlsk_…" in listed.stdout and key not in listed.output

    for bad in (["--scopes", "leads:read,root"], ["--scopes", ""], ["--expires", "2000-01-01"]):
        args = ["apikey", "create", "--name", "bad", "--scopes", "admin", *bad]
        assert (await leadstatus(*args)).exit_code != 0
    again = await leadstatus("apikey", "create", "--name", "crm", "--scopes", "admin")
    assert again.exit_code == 1 and "exists already" in again.output

    assert (await leadstatus("apikey", "revoke", "crm")).exit_code == 0
    assert await pool.fetchval("SELECT revoked_at IS NOT NULL FROM api_keys WHERE name = 'crm'")
    assert (await leadstatus("apikey", "revoke", "crm")).exit_code == 1


async def test_the_development_key_is_reused_until_it_stops_working(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    first = await development_key(pool, None, now=now)
    assert await development_key(pool, first, now=now) == first
    name = await pool.fetchval("SELECT name FROM api_keys WHERE key_hash = $1", key_hash(first))
    assert await pool.fetchval("SELECT scopes FROM api_keys WHERE name = $1", name) == [
        "admin",
        "leads:read",
        "leads:reopen",
        "leads:write",
        "metrics:read",
    ]
    await revoke_key(pool, name, now=now)
    replaced = await development_key(pool, first, now=datetime.now(UTC))
    assert replaced != first
