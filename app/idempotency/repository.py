"""SQL of the Idempotency-Key record: one row per (API key, idempotency key), kept a day or more.

The row is inserted in the same transaction as the work it guards and commits with it, so a
stored answer always belongs to work that happened, and work never happens without its row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
import orjson


class IdempotencyRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def try_lock(self, api_key: str, key: str) -> bool:
        """Whether no other request with this key is running now (held until commit)."""
        locked: bool = await self.conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(length($1) || ':' || $1 || $2, 7))",
            api_key,
            key,
        )
        return locked

    async def stored(self, api_key: str, key: str) -> Mapping[str, Any] | None:
        row: Mapping[str, Any] | None = await self.conn.fetchrow(
            "SELECT fingerprint, status, headers::text AS headers, body FROM idempotency_records"
            " WHERE api_key = $1 AND key = $2",
            api_key,
            key,
        )
        return row

    async def store(
        self,
        api_key: str,
        key: str,
        *,
        fingerprint: bytes,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO idempotency_records (api_key, key, fingerprint, status, headers, body)"
            " VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)",
            api_key,
            key,
            fingerprint,
            status,
            orjson.dumps(dict(headers)).decode(),
            body,
        )

    async def prune(self, before: datetime) -> int:
        status: str = await self.conn.execute(
            "DELETE FROM idempotency_records WHERE created_at < $1", before
        )
        return int(status.rsplit(" ", 1)[1])
