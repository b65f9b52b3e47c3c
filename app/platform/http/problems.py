"""Every refusal as RFC 9457 problem+json, mapped in one table.

Domain errors carry their facts (allowed targets, existing lead, versions); they become extension
members of the problem body. Anything unexpected is a bare 500 whose body and log line name only
the error class and the request: never a stack trace, SQL or a connection string.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from typing import Any, ClassVar

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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform import errors as domain

log = logging.getLogger("leadstatus.errors")

PROBLEM_URI = "/problems/{type}"
"""Problem `type` values are relative URIs; `GET /problems/{type}` describes each one."""


@dataclass(frozen=True, slots=True)
class ProblemType:
    status: int
    type: str
    title: str
    about: str


class ApiError(Exception):
    """A refusal the HTTP layer itself makes (bad header, bad cursor)."""

    kind: ProblemType
    headers: ClassVar[dict[str, str] | None] = None

    def __init__(
        self, detail: str, *, extra_headers: dict[str, str] | None = None, **facts: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.facts = facts
        self.extra_headers = extra_headers or {}


def _t(status: int, type_: str, title: str, about: str) -> ProblemType:
    return ProblemType(status, type_, title, about)


LEAD_NOT_FOUND = _t(404, "lead-not-found", "Lead not found", "No lead has this id.")
TRANSITION_NOT_ALLOWED = _t(
    409,
    "transition-not-allowed",
    "Transition not allowed",
    "The workflow has no move from the lead's status to the requested one; "
    "`allowed_targets` lists the moves it has.",
)
NOT_REOPENABLE = _t(
    409,
    "not-reopenable",
    "Lead cannot be reopened",
    "Only lost, no_decision and recycled leads can be reopened.",
)
INVALID_STATUS_CHANGE = _t(
    422,
    "invalid-status-change",
    "Invalid status change",
    "The reason is not one of the target's codes, or a field it requires is missing, "
    "or a field it does not take was sent; `field` names it.",
)
STALE_VERSION = _t(
    412,
    "stale-version",
    "Lead has changed",
    "If-Match named a version that is no longer current; read the lead again.",
)
CONCURRENT_CHANGE = _t(
    409,
    "concurrent-change",
    "Concurrent change",
    "Other changes to this lead kept committing first; read it again and retry.",
)
DUPLICATE_OPEN_LEAD = _t(
    409,
    "duplicate-open-lead",
    "Open lead exists",
    "An open lead with this email exists already; `existing_lead_id` names it.",
)
BAD_PRECONDITION = _t(
    400, "bad-if-match", "Malformed If-Match", 'If-Match takes one ETag, such as "3", or *.'
)
BAD_CURSOR = _t(422, "invalid-cursor", "Invalid cursor", "Pass `next_cursor` from a page as is.")
VALIDATION = _t(
    422,
    "request-validation-failed",
    "Request validation failed",
    "The request does not match the schema; `errors` lists each problem with its location.",
)
UNAVAILABLE = _t(
    503,
    "database-unavailable",
    "Service unavailable",
    "The database cannot be reached right now; retry after the Retry-After delay.",
)
QUERY_TIMEOUT = _t(
    503,
    "query-timeout",
    "Query took too long",
    "The database cancelled the query at the statement timeout; nothing was changed. Retry "
    "later, or narrow the window or filters.",
)
INTERNAL = _t(500, "internal-error", "Internal error", "An unexpected error; it was logged.")

INVALID_WINDOW = _t(
    422,
    "invalid-window",
    "Invalid metrics window",
    "`from` must not be after `to`, a window spans at most three years, and it lies between "
    "1970-01-01 and 3000-01-01.",
)

UNAUTHENTICATED = _t(
    401,
    "unauthenticated",
    "API key required",
    "The call carries no API key, or one that is unknown, revoked or expired.",
)
MISSING_SCOPE = _t(
    403,
    "missing-scope",
    "Scope missing",
    "The API key is valid but lacks the scope this call needs; `missing_scope` names it.",
)
SCHEMA_NOT_CURRENT = _t(
    503,
    "schema-not-current",
    "Database schema not current",
    "The database's migrations are not at the revision this code needs; run `leadstatus migrate`.",
)
RATE_LIMITED = _t(
    429,
    "rate-limited",
    "Too many requests",
    "This API key sent more requests than its rate allows; retry after Retry-After seconds.",
)
BODY_TOO_LARGE = _t(
    413,
    "body-too-large",
    "Request body too large",
    "The request body is larger than this service accepts; `limit_bytes` says how large.",
)
REQUEST_TIMEOUT = _t(
    503,
    "request-timeout",
    "Request took too long",
    "The request ran past the service's time limit and was cancelled; nothing was changed.",
)
KEYED = (UNAUTHENTICATED, MISSING_SCOPE, RATE_LIMITED, BODY_TOO_LARGE, REQUEST_TIMEOUT)
"""What any keyed `/v1` route may answer before its own work: key, scope, rate, size, time."""
BAD_IDEMPOTENCY_KEY = _t(
    400,
    "invalid-idempotency-key",
    "Malformed Idempotency-Key",
    "An Idempotency-Key is 1 to 255 characters, e.g. a UUID.",
)
IDEMPOTENCY_IN_FLIGHT = _t(
    409,
    "idempotency-key-in-use",
    "Request still in progress",
    "A request with this Idempotency-Key is still running; retry after Retry-After seconds.",
)
IDEMPOTENCY_MISMATCH = _t(
    422,
    "idempotency-key-reused",
    "Idempotency-Key reused",
    "This Idempotency-Key was already used for a different request (method, path or body).",
)
IDEMPOTENCY = (BAD_IDEMPOTENCY_KEY, IDEMPOTENCY_IN_FLIGHT, IDEMPOTENCY_MISMATCH)
"""What a route taking Idempotency-Key may answer because of it."""
INTAKE_SOURCE_NOT_FOUND = _t(
    404,
    "intake-source-not-found",
    "Intake source not found",
    "No intake source has this name; `leadstatus source list` shows the configured ones.",
)
SIGNATURE_REFUSED = _t(
    401,
    "signature-refused",
    "Delivery not authenticated",
    "The delivery's signature or secret is missing, wrong, or dated more than five minutes "
    "from now; `detail` says which, never the expected value.",
)
PAYLOAD_TOO_LARGE = _t(
    413, "payload-too-large", "Payload too large", "Intake bodies are limited to 256 KiB."
)
UNSUPPORTED_MEDIA_TYPE = _t(
    415,
    "unsupported-media-type",
    "Unsupported content type",
    "Each source kind takes one content type: JSON, or form-encoded for Mailchimp.",
)
MALFORMED_BODY = _t(
    400, "malformed-body", "Malformed body", "The body could not be parsed as its content type."
)
INVALID_PAYLOAD = _t(
    422,
    "invalid-payload",
    "Invalid payload",
    "The payload lacks a field a lead needs, or a value is not valid; `field` names it.",
)

PIPELINE_NOT_FOUND = _t(
    404, "pipeline-not-found", "Pipeline not found", "No pipeline (or version) has this name."
)
INVALID_PIPELINE = _t(
    422,
    "invalid-pipeline",
    "Invalid pipeline definition",
    "The definition cannot be a workflow; `violations` lists every problem, each with a JSON "
    "`pointer` into the document and a `message`.",
)
STATUSES_IN_USE = _t(
    409,
    "statuses-in-use",
    "Removed statuses hold leads",
    "The new version removes statuses that leads are in; `leads_per_status` counts them. Remap "
    "them (`remap`: old -> new, same outcome) or keep them with `archived: true`.",
)
UNKNOWN_STATUS = _t(
    422,
    "unknown-status",
    "Unknown status",
    "The status is not one of the pipeline's; `statuses` lists them and `field` names the input.",
)
STALE_PIPELINE_VERSION = _t(
    412,
    "stale-pipeline-version",
    "Pipeline version is not current",
    "The If-Match names a version of the pipeline that is no longer current; read it again.",
)

DOMAIN_PROBLEMS: Mapping[type[domain.LeadError], ProblemType] = {
    domain.LeadNotFound: LEAD_NOT_FOUND,
    domain.TransitionNotAllowed: TRANSITION_NOT_ALLOWED,
    domain.NotReopenable: NOT_REOPENABLE,
    domain.InvalidChange: INVALID_STATUS_CHANGE,
    domain.StaleVersion: STALE_VERSION,
    domain.ConcurrentChange: CONCURRENT_CHANGE,
    domain.DuplicateOpenLead: DUPLICATE_OPEN_LEAD,
    domain.InvalidWindow: INVALID_WINDOW,
    domain.PipelineNotFound: PIPELINE_NOT_FOUND,
    domain.InvalidPipeline: INVALID_PIPELINE,
    domain.StatusesInUse: STATUSES_IN_USE,
    domain.StalePipelineVersion: STALE_PIPELINE_VERSION,
    domain.UnknownStatus: UNKNOWN_STATUS,
}

CATALOGUE: dict[str, ProblemType] = {
    p.type: p
    for p in (
        *DOMAIN_PROBLEMS.values(),
        BAD_PRECONDITION,
        BAD_CURSOR,
        UNAUTHENTICATED,
        MISSING_SCOPE,
        SCHEMA_NOT_CURRENT,
        RATE_LIMITED,
        BODY_TOO_LARGE,
        REQUEST_TIMEOUT,
        BAD_IDEMPOTENCY_KEY,
        IDEMPOTENCY_IN_FLIGHT,
        IDEMPOTENCY_MISMATCH,
        INTAKE_SOURCE_NOT_FOUND,
        SIGNATURE_REFUSED,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        MALFORMED_BODY,
        INVALID_PAYLOAD,
        VALIDATION,
        UNAVAILABLE,
        QUERY_TIMEOUT,
        INTERNAL,
    )
}

# Plain HTTP refusals (unknown route, wrong method, ...) keep their status as their type.
CATALOGUE.update(
    {
        f"http-{'-'.join(s.phrase.lower().split())}": _t(
            s.value, f"http-{'-'.join(s.phrase.lower().split())}", s.phrase, s.description + "."
        )
        for s in HTTPStatus
        if s.value >= 400
    }
)
NOT_FOUND = CATALOGUE["http-not-found"]

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
RETRY_AFTER_SECONDS = 5


class BadIfMatch(ApiError):
    kind = BAD_PRECONDITION


class BadCursor(ApiError):
    kind = BAD_CURSOR


class Unauthenticated(ApiError):
    kind = UNAUTHENTICATED
    headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": 'Bearer realm="leadstatus"'}


class MissingScope(ApiError):
    kind = MISSING_SCOPE


class SchemaNotCurrent(ApiError):
    kind = SCHEMA_NOT_CURRENT
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class RateLimited(ApiError):
    kind = RATE_LIMITED


class BadIdempotencyKey(ApiError):
    kind = BAD_IDEMPOTENCY_KEY


class IdempotencyInFlight(ApiError):
    kind = IDEMPOTENCY_IN_FLIGHT
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": "1"}


class IdempotencyMismatch(ApiError):
    kind = IDEMPOTENCY_MISMATCH


class IntakeSourceNotFound(ApiError):
    kind = INTAKE_SOURCE_NOT_FOUND


class SignatureRefused(ApiError):
    kind = SIGNATURE_REFUSED
    # A 401 names how to authenticate: here, by the sender's own signature scheme.
    headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": 'Signature realm="intake"'}


class PayloadTooLarge(ApiError):
    kind = PAYLOAD_TOO_LARGE


class UnsupportedMediaType(ApiError):
    kind = UNSUPPORTED_MEDIA_TYPE


class MalformedBody(ApiError):
    kind = MALFORMED_BODY


class InvalidPayload(ApiError):
    kind = INVALID_PAYLOAD


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


def _domain(_eh: ExceptionHandler, _request: Request, exc: domain.LeadError) -> Problem:
    kind = next(p for cls, p in DOMAIN_PROBLEMS.items() if isinstance(exc, cls))
    return problem(kind, exc.detail, **exc.facts)


def _api(_eh: ExceptionHandler, _request: Request, exc: ApiError) -> Problem:
    headers = {**(exc.headers or {}), **exc.extra_headers}
    return problem(exc.kind, exc.detail, headers=headers or None, **exc.facts)


def validation_errors(raw: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """Pydantic's errors as the problem body lists them, and a detail naming the first."""
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
    return (f"{where}: {first['msg']}" if where else str(first["msg"])), errors


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


def _validation(_eh: ExceptionHandler, _request: Request, exc: RequestValidationError) -> Problem:
    detail, errors = validation_errors(exc.errors())
    return problem(VALIDATION, detail, errors=errors)


def _database_down(_eh: ExceptionHandler, request: Request, exc: Exception) -> Problem:
    log.warning(
        "database unavailable: %s on %s %s", type(exc).__name__, request.method, request.url.path
    )
    return problem(
        UNAVAILABLE,
        "The database is not answering; nothing was changed.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _query_timeout(_eh: ExceptionHandler, request: Request, _exc: Exception) -> Problem:
    log.warning("statement timeout on %s %s", request.method, request.url.path)
    return problem(
        QUERY_TIMEOUT,
        "The query ran past the statement timeout and was cancelled; nothing was changed.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _unexpected(_eh: ExceptionHandler, request: Request, exc: Exception) -> Problem:
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return problem(INTERNAL, "The request could not be completed; nothing was changed.")


def install(app: FastAPI) -> ExceptionHandler:
    # Order matters: the first matching class wins, so the catch-all comes last.
    handlers: dict[type[Exception], Any] = {
        HTTPException: http_exception_handler_,
        RequestValidationError: _validation,
        domain.LeadError: _domain,
        ApiError: _api,
        asyncpg.QueryCanceledError: _query_timeout,
        **{cls: _database_down for cls in DATABASE_DOWN},
        Exception: _unexpected,
    }
    eh = new_exception_handler(
        handlers=handlers,
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


def responses(*kinds: ProblemType) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: each documented problem with an example body."""
    by_status: dict[int, list[ProblemType]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status, []).append(kind)
    out: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        examples = {
            k.type: {
                "summary": k.title,
                "value": {
                    "type": PROBLEM_URI.format(type=k.type),
                    "title": k.title,
                    "status": k.status,
                    "detail": k.about,
                },
            }
            for k in group
        }
        out[status] = {
            "description": "; ".join(k.title for k in group),
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "examples": examples,
                }
            },
        }
    return out
