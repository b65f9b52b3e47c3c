"""Safe retries of POSTs with an `Idempotency-Key` header (the IETF httpapi draft).

The first request with a key does its work and stores its status, headers and body in the same
transaction, scoped to the caller's API key; a retry with the same key and the same request gets
that answer again, byte for byte, and changes nothing. The same key with another request is 422,
a retry while the first is still running is 409, and a malformed key is 400. Records are kept at
least 24 hours. Requests without the header take the ordinary path and pay nothing for this.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from fastapi import Request, Response

from app.access.http import key_name
from app.idempotency.repository import IdempotencyRepository
from app.platform.errors import BadIdempotencyKey, IdempotencyInFlight, IdempotencyMismatch
from app.platform.http.requests import header_parameter, primary_pool

MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = ("content-type", "etag", "location")

IDEMPOTENCY_KEY = header_parameter(
    "Idempotency-Key",
    "Any unique string (at most 255 characters, e.g. a UUID) to make a retry of this request "
    "safe: a retry with the same key and body gets the first answer again and changes nothing, "
    "for at least 24 hours.",
    examples=["8e03978e-40d5-43e8-bc93-6894a57f9324"],
)
"""Read by `idempotent` itself; routes list it with `documented_headers`."""


class OneConnection:
    """A connection lent to use cases written against a pool: every `acquire()` is this one,
    so the work joins the transaction the idempotency record is written in."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.conn


def _parsed(raw: str) -> str:
    # The draft makes the value a structured-field string ("..."); a bare token is accepted too.
    key = raw.strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadIdempotencyKey(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters; got {len(key)}."
        )
    return key


async def idempotent(request: Request, work: Callable[[Any], Awaitable[Response]]) -> Response:
    """Run `work(pool)` once per Idempotency-Key (per API key); without the header, simply run
    it on the primary's pool."""
    pool = primary_pool(request)
    raw_key = request.headers.get("idempotency-key")
    if raw_key is None:
        return await work(pool)
    key = _parsed(raw_key)
    api_key = key_name(request)
    body = await request.body()
    fingerprint = hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + body).digest()
    async with pool.acquire() as conn, conn.transaction():
        records = IdempotencyRepository(conn)
        if not await records.try_lock(api_key, key):
            raise IdempotencyInFlight(
                "A request with this Idempotency-Key is still being processed; retry shortly."
            )
        stored = await records.stored(api_key, key)
        if stored is not None:
            if stored["fingerprint"] != fingerprint:
                raise IdempotencyMismatch(
                    "This Idempotency-Key was used for a different request; use a new key."
                )
            headers = dict(orjson.loads(stored["headers"]))
            media_type = headers.pop("content-type", None)
            return Response(
                stored["body"], status_code=stored["status"], headers=headers, media_type=media_type
            )
        response = await work(OneConnection(conn))
        kept = {
            name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
        }
        await records.store(
            api_key,
            key,
            fingerprint=fingerprint,
            status=response.status_code,
            headers=kept,
            body=bytes(response.body),
        )
        return response
