"""Every `/v1` call names its API key and needs the scope its route requires.

The key comes as `Authorization: Bearer <key>`, or as `X-API-Key: <key>` for tools that can only
set a header. Both are declared as OpenAPI security schemes, which gives Swagger UI its
Authorize button. Intake routes take no key: their sources' own secrets authenticate them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from app.api import problems as p
from app.domain.access import ApiKey, Scope
from app.domain.limits import TokenBucket, retry_after_seconds
from app.services.access import KeyRing

SECURITY_SCHEMES = {
    "ApiKeyBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `leadstatus apikey create` (`make run` prints a "
        "development key), sent as `Authorization: Bearer lsk_...`.",
    },
    "ApiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same key, for tools that can only set a header of their own.",
    },
}
"""Declared in the OpenAPI document (see `document_security`), which gives Swagger UI its
Authorize button. The check itself reads the headers directly: one dependency per request
instead of three keeps the key check off the hot path's profile."""


def document_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the key schemes to an OpenAPI document, required on every keyed `/v1` operation."""
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in schema.get("paths", {}).items():
        if path.startswith("/v1/") and not path.startswith("/v1/intake/"):
            for operation in operations.values():
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
    return schema


def _presented(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        return None
    header = request.headers.get("x-api-key")
    return header.strip() if header else None


def _keyring(request: Request) -> KeyRing:
    state = request.app.state
    ring: KeyRing | None = getattr(state, "keyring", None)
    if ring is None:
        ring = state.keyring = KeyRing(state.pool)
    return ring


class RateLimiter:
    """A token bucket per API key name, in this process."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    def wait(self, name: str) -> int:
        """0 when the key may go on now, else whole seconds to wait."""
        now = time.monotonic()
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = TokenBucket.full(self.rate, self.burst, now)
        left = bucket.take(now)
        return retry_after_seconds(left) if left else 0


def _limiter(request: Request) -> RateLimiter:
    state = request.app.state
    limiter: RateLimiter | None = getattr(state, "limiter", None)
    if limiter is None:
        settings = state.settings
        limiter = state.limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_burst)
    return limiter


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    async def principal(request: Request) -> ApiKey:
        presented = _presented(request)
        if not presented:
            raise p.Unauthenticated(
                "This call needs an API key: `Authorization: Bearer <key>` or `X-API-Key`."
            )
        key = await _keyring(request).recognize(presented, datetime.now(UTC))
        if key is None:
            raise p.Unauthenticated("The API key is unknown, revoked or expired.")
        # Its name (never the key) for the request's log line, refused or not from here on.
        request.state.api_key = key.name
        wait = _limiter(request).wait(key.name)
        if wait:
            raise p.RateLimited(
                f"The key {key.name!r} is over its rate of requests; retry in {wait} s.",
                extra_headers={"Retry-After": str(wait)},
            )
        if not key.allows(scope):
            raise p.MissingScope(
                f"The key {key.name!r} lacks the {scope.value} scope this call needs.",
                missing_scope=scope.value,
            )
        return key

    principal.__name__ = f"requires_{scope.name.lower()}"
    return principal


LeadsReader = Annotated[ApiKey, Depends(require(Scope.LEADS_READ))]
LeadsWriter = Annotated[ApiKey, Depends(require(Scope.LEADS_WRITE))]
LeadsReopener = Annotated[ApiKey, Depends(require(Scope.LEADS_REOPEN))]
MetricsReader = Annotated[ApiKey, Depends(require(Scope.METRICS_READ))]
