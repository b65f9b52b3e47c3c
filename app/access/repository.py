"""All SQL about API keys. Keys are found by their hash; the key itself is never stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

ApiKeyRecord = Mapping[str, Any]


class ApiKeyRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def create(
        self,
        *,
        name: str,
        key_hash: bytes,
        hint: str,
        scopes: Sequence[str],
        expires_at: datetime | None,
    ) -> ApiKeyRecord:
        """Raises asyncpg.UniqueViolationError when the name is taken."""
        row: ApiKeyRecord = await self.conn.fetchrow(
            "INSERT INTO api_keys (name, key_hash, hint, scopes, expires_at)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING *",
            name,
            key_hash,
            hint,
            list(scopes),
            expires_at,
        )
        return row

    async def by_hash(self, key_hash: bytes) -> ApiKeyRecord | None:
        row: ApiKeyRecord | None = await self.conn.fetchrow(
            "SELECT name, scopes, expires_at, revoked_at FROM api_keys WHERE key_hash = $1",
            key_hash,
        )
        return row

    async def all(self) -> list[ApiKeyRecord]:
        rows: list[ApiKeyRecord] = await self.conn.fetch(
            "SELECT name, hint, scopes, created_at, last_used_at, expires_at, revoked_at"
            " FROM api_keys ORDER BY name"
        )
        return rows

    async def revoke(self, name: str, at: datetime) -> bool:
        status: str = await self.conn.execute(
            "UPDATE api_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
            name,
            at,
        )
        return status.endswith(" 1")

    async def mark_used(self, uses: Mapping[str, datetime]) -> None:
        """Record when keys were last used (batched: one statement for many requests)."""
        await self.conn.execute(
            "UPDATE api_keys k SET last_used_at = u.at"
            "  FROM unnest($1::text[], $2::timestamptz[]) AS u(name, at)"
            " WHERE k.name = u.name AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
            list(uses),
            list(uses.values()),
        )
