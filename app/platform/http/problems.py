"""Every refusal answered as RFC 9457 problem+json: the exception handlers and the last resort.

A `ServiceError` becomes the problem type `problem_types.PROBLEMS` maps its class to, its facts
(allowed targets, existing lead, versions) extension members of the body. Anything unexpected is
a bare 500 whose body and log line name only the error class and the request: never a stack
trace, SQL or a connection string.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import Enum
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi_problem.error import Problem
from fastapi_problem.handler import (
    ExceptionHandler,
    add_exception_handler,
    http_exception_handler_,
    new_exception_handler,
)
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform import errors
from app.platform.commits import maybe_saved
from app.platform.http.problem_types import (
    BODY_TOO_LARGE,
    INTERNAL,
    OUTCOME_UNKNOWN,
    PROBLEM_URI,
    QUERY_TIMEOUT,
    RETRY_AFTER_SECONDS,
    UNAVAILABLE,
    VALIDATION,
    ProblemType,
    problem_type_of,
)

log = logging.getLogger("leadstatus.errors")

DATABASE_DOWN: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    # A server shutting down or restarting ends the sessions it serves (57P01, 57P02).
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # asyncpg's pool, reconnecting from two places at once after an outage, can trip over its
    # own bookkeeping; it happens while taking a connection, before any statement ran.
    asyncpg.InternalClientError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def problem(
    kind: ProblemType, detail: str, *, headers: dict[str, str] | None = None, **facts: Any
) -> Problem:
    return Problem(
        title=kind.title,
        type_=kind.type,
        detail=detail,
        status=kind.status,
        headers=headers,
        **{k: _plain(v) for k, v in facts.items()},
    )


def _refusal(eh: ExceptionHandler, request: Request, exc: errors.ServiceError) -> Problem:
    kind = problem_type_of(exc)
    if kind is None:
        return _unexpected(eh, request, exc)
    headers = {**dict(kind.headers), **exc.extra_headers}
    return problem(kind, exc.detail, headers=headers or None, **exc.facts)


_PARTS = ("body", "query", "path", "header", "cookie")
"""The request parts a framework error's location starts with; `field` names the input alone."""


def validation_errors(raw: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """Pydantic's errors as the problem body lists them (`errors`, with `field` naming the
    first input at fault, as every other 422 does), and a detail naming that one too."""
    errors = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in raw
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    inner = first["loc"][1:] if first["loc"][:1] and first["loc"][0] in _PARTS else first["loc"]
    field = ".".join(str(p) for p in inner) or where or "body"
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    return detail, {"field": field, "errors": errors}


def problem_body(kind: ProblemType, detail: str, **facts: Any) -> dict[str, Any]:
    """A problem as a plain JSON object, for answers that carry several (a batch's items) or
    are sent below the framework (the request-limits layer)."""
    return {
        "type": PROBLEM_URI.format(type=kind.type),
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        **{k: _plain(v) for k, v in facts.items()},
    }


class BodyTooLarge(HTTPException):
    """A body sent in chunks that outgrew its route's limit while being read. An HTTP refusal,
    so that the framework's body parsing lets it through as it is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, body_limit_detail(limit))
        self.limit = limit


def body_limit_detail(limit: int) -> str:
    return f"The body is limited to {limit} bytes."


def _http_refusal(eh: ExceptionHandler, request: Request, exc: HTTPException) -> Problem:
    """A plain HTTP refusal. A 405 names every method the path has: the router stops at the
    first route of the path, and each route holds one operation's methods."""
    if isinstance(exc, BodyTooLarge):
        return problem(BODY_TOO_LARGE, exc.detail, limit_bytes=exc.limit)
    if exc.status_code == 405:
        allowed = methods_of(request.scope)
        if allowed:
            exc = HTTPException(405, exc.detail, headers={"Allow": ", ".join(allowed)})
    return http_exception_handler_(eh, request, exc)


def methods_of(scope: Scope) -> list[str]:
    """Every method the app's routes answer on this request's path."""
    found: set[str] = set()
    for route in scope["app"].router.routes:
        methods = getattr(route, "methods", None)
        if methods and route.matches({**scope, "method": next(iter(methods))})[0] is Match.FULL:
            found |= set(methods)
    return sorted(found)


def _validation(_eh: ExceptionHandler, _request: Request, exc: RequestValidationError) -> Problem:
    detail, facts = validation_errors(exc.errors())
    return problem(VALIDATION, detail, **facts)


OUTCOME_UNKNOWN_DETAIL = (
    "The database stopped answering after this change was sent to be saved: it may or may not "
    "have been. Read the lead to find out, or retry with the same Idempotency-Key."
)


def outcome_unknown() -> Problem:
    """The answer when a change may have been saved although the request failed."""
    return problem(
        OUTCOME_UNKNOWN, OUTCOME_UNKNOWN_DETAIL, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


def _database_down(_eh: ExceptionHandler, request: Request, exc: Exception) -> Problem:
    log.warning(
        "database unavailable: %s on %s %s", type(exc).__name__, request.method, request.url.path
    )
    if maybe_saved():
        return outcome_unknown()
    return problem(
        UNAVAILABLE,
        "The database is not answering; nothing was changed.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _query_timeout(_eh: ExceptionHandler, request: Request, _exc: Exception) -> Problem:
    log.warning("statement timeout on %s %s", request.method, request.url.path)
    if maybe_saved():
        return outcome_unknown()
    return problem(
        QUERY_TIMEOUT,
        "The query ran past the statement timeout and was cancelled; nothing was changed.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _unexpected(_eh: ExceptionHandler, request: Request, exc: Exception) -> Problem:
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    if maybe_saved():
        return outcome_unknown()
    return problem(INTERNAL, "The request could not be completed; nothing was changed.")


def install(app: FastAPI) -> ExceptionHandler:
    # Order matters: the first matching class wins, so the catch-all comes last.
    handlers: dict[type[Exception], Any] = {
        HTTPException: _http_refusal,
        RequestValidationError: _validation,
        errors.ServiceError: _refusal,
        asyncpg.QueryCanceledError: _query_timeout,
        **{cls: _database_down for cls in DATABASE_DOWN},
        Exception: _unexpected,
    }
    eh = new_exception_handler(
        handlers=handlers,
        http_exception_handler=_http_refusal,
        request_validation_handler=_validation,
        documentation_uri_template=PROBLEM_URI,
    )
    add_exception_handler(app, eh, generic_swagger_defaults=False)
    # Starlette gives an `Exception` handler to its outermost middleware, which answers and then
    # re-raises (a stack trace in the log). Known classes are answered further in, and the
    # catch-all below answers the rest without re-raising.
    for cls in handlers:
        if cls is not Exception:
            app.add_exception_handler(cls, eh)
    app.add_middleware(_LastResort, handler=eh)
    return eh


class ResponseStart:
    """`send`, noting whether the response has begun (after which no problem can replace it)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class _LastResort:
    """Turns an exception nobody handled into the 500 problem, logged as one line."""

    def __init__(self, app: ASGIApp, handler: ExceptionHandler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = ResponseStart(send)
        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            request = Request(scope)
            response = self.handler(request, exc)
            if watch.started:
                log.error(
                    "%s after the response started on %s", type(exc).__name__, request.url.path
                )
                return
            await response(scope, receive, send)
