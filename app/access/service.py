"""API keys: creating, listing and revoking them, and recognizing one on every request.

Checking a key must not cost the hot path a database round trip, so recognized keys (and
unknown ones) are remembered for a few seconds: a revocation or expiry takes effect within
`CACHE_SECONDS` on every process, and an expiry time is still checked on each request. When a
key was last used is kept in memory and written in batches by the background loop.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import asyncpg

from app.access.domain import ApiKey, KeyScope, key_hash, new_key
from app.access.repository import ApiKeyRecord, ApiKeyRepository
from app.platform.errors import KeyNameTaken, KeyNotFound

log = logging.getLogger("leadstatus.access")

CACHE_SECONDS = 5.0
USE_FLUSH_SECONDS = 10.0


def _hint(key: str) -> str:
    return f"{key[:4]}…{key[-4:]}"


async def create_key(
    pool: asyncpg.Pool, *, name: str, scopes: Iterable[KeyScope], expires_at: datetime | None
) -> tuple[ApiKeyRecord, str]:
    """The key's record and the key itself, which exists nowhere else from now on."""
    key = new_key()
    async with pool.acquire() as conn:
        try:
            row = await ApiKeyRepository(conn).create(
                name=name,
                key_hash=key_hash(key),
                hint=_hint(key),
                scopes=sorted(s.value for s in set(scopes)),
                expires_at=expires_at,
            )
        except asyncpg.UniqueViolationError:
            raise KeyNameTaken(name) from None
    return row, key


async def list_keys(pool: asyncpg.Pool) -> list[ApiKeyRecord]:
    async with pool.acquire() as conn:
        return await ApiKeyRepository(conn).all()


async def revoke_key(pool: asyncpg.Pool, name: str, *, now: datetime) -> None:
    async with pool.acquire() as conn:
        if not await ApiKeyRepository(conn).revoke(name, now):
            raise KeyNotFound(name)


MAX_REMEMBERED = 10_000
"""Presented keys (known or not) a process remembers at most."""


class KeyRing:
    """The keys this process has recognized lately, by hash."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._known: dict[bytes, tuple[float, ApiKey | None]] = {}
        self._used: dict[str, datetime] = {}

    async def recognize(
        self, presented: str, now: datetime, *, before_lookup: Callable[[], None] | None = None
    ) -> ApiKey | None:
        """The usable key `presented` is, or None (unknown, revoked or expired).
        `before_lookup` runs when the key must be read from the database (it may refuse)."""
        digest = key_hash(presented)
        cached = self._known.get(digest)
        if cached is None or time.monotonic() - cached[0] > CACHE_SECONDS:
            if before_lookup is not None:
                before_lookup()
            cached = (time.monotonic(), await self._load(digest))
            if len(self._known) > MAX_REMEMBERED:
                self._forget_unknown()
            self._known[digest] = cached
        key = cached[1]
        if key is None or not key.usable_at(now):
            return None
        self._used[key.name] = now
        return key

    def _forget_unknown(self) -> None:
        """A flood of made-up keys must not grow memory, nor push real keys out of the cache
        (each would then cost a database read again): forget the unknown ones first."""
        self._known = {d: c for d, c in self._known.items() if c[1] is not None}
        if len(self._known) > MAX_REMEMBERED:
            self._known.clear()

    async def _load(self, digest: bytes) -> ApiKey | None:
        async with self.pool.acquire() as conn:
            row = await ApiKeyRepository(conn).by_hash(digest)
        if row is None:
            return None
        return ApiKey(
            name=row["name"],
            scopes=frozenset(KeyScope(s) for s in row["scopes"]),
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
        )

    async def flush_uses(self) -> None:
        uses, self._used = self._used, {}
        if uses:
            async with self.pool.acquire() as conn:
                await ApiKeyRepository(conn).mark_used(uses)

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(USE_FLUSH_SECONDS)
            try:
                await self.flush_uses()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("recording API key use failed (%s); retrying", type(error).__name__)


DEVELOPMENT_SCOPES = frozenset(KeyScope)


async def development_key(pool: asyncpg.Pool, kept: str | None, *, now: datetime) -> str:
    """The local development key: `kept` while it still works, else a new one to keep.

    Only for `make run` on a developer's machine, where a key in a file next to the embedded
    database is as safe as the database itself; a deployment creates keys with the CLI.
    """
    if kept:
        async with pool.acquire() as conn:
            row = await ApiKeyRepository(conn).by_hash(key_hash(kept))
        if row is not None and row["revoked_at"] is None and row["expires_at"] is None:
            return kept
    name = f"development-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
    _, key = await create_key(pool, name=name, scopes=DEVELOPMENT_SCOPES, expires_at=None)
    return key
