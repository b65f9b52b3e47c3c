"""Every `/v1` call names its API key and needs the scope its route requires.

The key comes as `Authorization: Bearer <key>`, or as `X-API-Key: <key>` for tools that can only
set a header. Both are declared as OpenAPI security schemes, which gives Swagger UI its
Authorize button. Intake routes take no key: their sources' own secrets authenticate them.

Keyed routes are `KeyedRoute`s: each names its scope with `@requires(...)` (a route without one
cannot be built), and the key is checked before FastAPI reads the request's parameters. Not a
FastAPI dependency: every dependency costs a resolution pass per request (measured in
docs/performance.md), and a refused caller should not learn how its body would
have been judged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from app.access.domain import ApiKey, KeyScope
from app.access.rate_limit import FailureBudget, TokenBucket, retry_after_seconds
from app.access.service import KeyRing
from app.platform.errors import MissingScope, RateLimited, TooManyFailures, Unauthenticated
from app.platform.http.requests import (
    StrictJsonRequest,
    primary_pool,
    refuse_repeated_parameters,
    repeatable_query_parameters,
)

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
Authorize button; the check itself reads the headers directly."""


def document_security(schema: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """Add the key schemes to an OpenAPI document, required on every keyed operation with the
    scope it needs (OpenAPI 3.1 lets a non-OAuth scheme list the roles an operation requires)."""
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    paths = schema.get("paths", {})
    for route in routes:
        # The document names a path without its convertors (`{name}`, not `{name:segment}`).
        if not isinstance(route, KeyedRoute) or route.path_format not in paths:
            continue
        for method in route.methods or ():
            operation = paths[route.path_format].get(method.lower())
            if operation is not None:
                needs = [route.required_scope.value]
                operation["security"] = [{name: needs} for name in SECURITY_SCHEMES]
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
        ring = state.keyring = KeyRing(primary_pool(request))
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


def _failures(request: Request) -> FailureBudget:
    state = request.app.state
    budget: FailureBudget | None = getattr(state, "failures", None)
    if budget is None:
        settings = state.settings
        budget = state.failures = FailureBudget(
            settings.auth_failures_per_s, settings.auth_failure_burst
        )
    return budget


def client_address(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy forwarded."""
    return request.client.host if request.client else "-"


def refuse_a_failing_address(request: Request) -> None:
    """429 when the client's address has failed to authenticate too often lately."""
    wait = _failures(request).wait(client_address(request), time.monotonic())
    if wait:
        seconds = retry_after_seconds(wait)
        raise TooManyFailures(
            f"Too many failed authentications from this address; retry in {seconds} s.",
            extra_headers={"Retry-After": str(seconds)},
        )


def count_a_failure(request: Request) -> None:
    _failures(request).spend(client_address(request), time.monotonic())


@contextmanager
def failures_counted(request: Request, *refusals: type[Exception]) -> Iterator[None]:
    """Run the block only while the client's address is within its budget of failures, and
    count a failure when the block raises one of `refusals`."""
    refuse_a_failing_address(request)
    try:
        yield
    except refusals:
        count_a_failure(request)
        raise


async def authorize(request: Request, scope: KeyScope) -> ApiKey:
    """The caller's key, if it is valid, within its rate and allowed `scope`; else the 401, 429
    or 403 problem. A key the process does not remember is looked up only while the client's
    address is within its budget of failures."""
    presented = _presented(request)
    if not presented:
        count_a_failure(request)
        raise Unauthenticated(
            "This call needs an API key: `Authorization: Bearer <key>` or `X-API-Key`."
        )
    key = await _keyring(request).recognize(
        presented, datetime.now(UTC), before_lookup=lambda: refuse_a_failing_address(request)
    )
    if key is None:
        count_a_failure(request)
        raise Unauthenticated("The API key is unknown, revoked or expired.")
    # Its name (never the key) for the route and the request's log line, refused or not.
    request.state.api_key = key.name
    wait = _limiter(request).wait(key.name)
    if wait:
        raise RateLimited(
            f"The key {key.name!r} is over its rate of requests; retry in {wait} s.",
            extra_headers={"Retry-After": str(wait)},
        )
    if not key.allows(scope):
        raise MissingScope(
            f"The key {key.name!r} lacks the {scope.value} scope this call needs.",
            missing_scope=scope.value,
        )
    return key


def key_name(request: Request) -> str:
    """The name of the key the request was let in with (history rows and idempotency records
    are scoped to it)."""
    name: str = request.state.api_key
    return name


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_REQUIRED_SCOPE = "required_scope"


def requires(scope: KeyScope) -> Callable[[Endpoint], Endpoint]:
    """Mark a keyed route's endpoint with the scope a caller's key needs."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _REQUIRED_SCOPE, scope)
        return endpoint

    return mark


class KeyedRoute(APIRoute):
    """A route that lets a request in only with a valid API key holding the route's scope."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        scope = getattr(endpoint, _REQUIRED_SCOPE, None)
        if not isinstance(scope, KeyScope):
            raise TypeError(f"{path}: a keyed route names its scope with @requires(KeyScope...)")
        self.required_scope = scope  # read by get_route_handler, which the base __init__ calls
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        answer = super().get_route_handler()
        scope = self.required_scope
        repeatable = repeatable_query_parameters(self.dependant)
        # Only a route with a body parses JSON: the others keep the request they were given.
        takes_a_body = self.body_field is not None

        async def keyed(request: Request) -> Response:
            await authorize(request, scope)
            if request.scope["query_string"]:
                refuse_repeated_parameters(request, repeatable)
            if takes_a_body:
                request = StrictJsonRequest(request.scope, request.receive)
            return await answer(request)

        return keyed
