"""Every problem type the service answers with, and the one table from refusal classes to them.

A problem type is a status, a stable `type` (a relative URI that `GET /problems/{type}`
describes), a title and what it means; some carry headers every such answer needs. Routes list
the types they may answer with (`responses(...)`) so the OpenAPI document shows each one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from app.platform import errors

PROBLEM_URI = "/problems/{type}"
"""Problem `type` values are relative URIs; `GET /problems/{type}` describes each one."""
RETRY_AFTER_SECONDS = 5
"""What a 503 asks a client to wait before trying again."""


@dataclass(frozen=True, slots=True)
class ProblemType:
    status: int
    type: str
    title: str
    about: str
    headers: tuple[tuple[str, str], ...] = ()
    """Headers every answer of this type carries (how to authenticate, when to retry)."""
    retry_after: bool = False
    """Whether its answers say when to try again, each with its own delay."""

    @property
    def sends(self) -> set[str]:
        """The headers its answers carry, as the OpenAPI document lists them."""
        return {name for name, _ in self.headers} | ({"Retry-After"} if self.retry_after else set())


def _t(
    status: int, type_: str, title: str, about: str, *, retry_after: bool = False, **headers: str
) -> ProblemType:
    """A problem type; `headers` with `_` for `-` (`Retry_After`)."""
    return ProblemType(
        status,
        type_,
        title,
        about,
        tuple((k.replace("_", "-"), v) for k, v in headers.items()),
        retry_after,
    )


HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": "How to authenticate: `Bearer` with an API key (intake: the sender's "
        "signature scheme).",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The lead's version, for `If-Match` on its next change.",
        "schema": {"type": "string", "examples": ['"3"']},
    },
    "Location": {
        "description": "Where the new lead is read.",
        "schema": {"type": "string", "examples": ["/v1/leads/1208"]},
    },
    "X-Request-ID": {
        "description": "This request's id: the client's own `X-Request-ID` when it sent a sane "
        "one, else a new one. Every log line of the request carries it.",
        "schema": {"type": "string"},
    },
}
"""The response headers the document describes, each once (`#/components/headers`)."""


def header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in sorted(names)}


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
EVENT_NOT_KEPT = _t(
    410,
    "event-not-kept",
    "Event not kept",
    "The `after` event is not in the log (older than its retention, or never handed out); "
    "read from the log's start and skip the ids already processed.",
)
WEBHOOK_NOT_FOUND = _t(
    404, "webhook-not-found", "Webhook endpoint not found", "No webhook endpoint has this id."
)
INVALID_WEBHOOK_TARGET = _t(
    422,
    "invalid-webhook-target",
    "Webhook target refused",
    "The URL is not one webhooks are sent to: `why` says what is wrong (not http(s), or an "
    "address that is private, loopback or link-local and not in "
    "LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS, or a host that does not resolve).",
)
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
    retry_after=True,
)
QUERY_TIMEOUT = _t(
    503,
    "query-timeout",
    "Query took too long",
    "The database cancelled the query at the statement timeout; nothing was changed. Retry "
    "later, or narrow the window or filters.",
    retry_after=True,
)
OUTCOME_UNKNOWN = _t(
    503,
    "outcome-unknown",
    "Outcome unknown",
    "The connection to the database was lost after this change was sent to be saved, so it may "
    "or may not have been. Read the lead (its `version` and history) to find out, or send the "
    "request again with the same Idempotency-Key: that answers what was saved, or does the work "
    "once if nothing was. Without a key, a repeated create is refused as a duplicate naming the "
    "lead, and a repeated move is refused once the lead has moved.",
    retry_after=True,
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
    WWW_Authenticate='Bearer realm="leadstatus"',
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
    Retry_After=str(RETRY_AFTER_SECONDS),
)
RATE_LIMITED = _t(
    429,
    "rate-limited",
    "Too many requests",
    "This API key sent more requests than its rate allows; retry after Retry-After seconds.",
    retry_after=True,
)
TOO_MANY_FAILURES = _t(
    429,
    "too-many-failures",
    "Too many failed authentications",
    "Requests from this address presented unknown keys (or unsigned or wrongly signed "
    "deliveries) faster than LEADSTATUS_AUTH_FAILURES_PER_S allows; retry after Retry-After "
    "seconds, with a valid key.",
    retry_after=True,
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
    retry_after=True,
)
HEADERS_TIMEOUT = _t(
    408,
    "headers-timeout",
    "Request headers too slow",
    "The request's headers did not all arrive in time (LEADSTATUS_HEADER_TIMEOUT_S); the "
    "connection is closed.",
)
TOO_MANY_CONNECTIONS = _t(
    503,
    "too-many-connections",
    "Too many connections",
    "The process holds as many connections as it is allowed (LEADSTATUS_MAX_CONNECTIONS); the "
    "connection is closed. Retry after Retry-After seconds, ideally on a connection kept alive.",
    retry_after=True,
)
KEYED = (
    UNAUTHENTICATED,
    MISSING_SCOPE,
    RATE_LIMITED,
    TOO_MANY_FAILURES,
    BODY_TOO_LARGE,
    REQUEST_TIMEOUT,
)
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
    Retry_After="1",
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
    # A 401 names how to authenticate: here, by the sender's own signature scheme.
    WWW_Authenticate='Signature realm="intake"',
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

PROBLEMS: Mapping[type[errors.ServiceError], ProblemType] = {
    errors.LeadNotFound: LEAD_NOT_FOUND,
    errors.TransitionNotAllowed: TRANSITION_NOT_ALLOWED,
    errors.NotReopenable: NOT_REOPENABLE,
    errors.InvalidChange: INVALID_STATUS_CHANGE,
    errors.StaleVersion: STALE_VERSION,
    errors.ConcurrentChange: CONCURRENT_CHANGE,
    errors.DuplicateOpenLead: DUPLICATE_OPEN_LEAD,
    errors.InvalidWindow: INVALID_WINDOW,
    errors.PipelineNotFound: PIPELINE_NOT_FOUND,
    errors.InvalidPipeline: INVALID_PIPELINE,
    errors.StatusesInUse: STATUSES_IN_USE,
    errors.StalePipelineVersion: STALE_PIPELINE_VERSION,
    errors.UnknownStatus: UNKNOWN_STATUS,
    errors.BadIfMatch: BAD_PRECONDITION,
    errors.BadCursor: BAD_CURSOR,
    errors.EventNotKept: EVENT_NOT_KEPT,
    errors.WebhookNotFound: WEBHOOK_NOT_FOUND,
    errors.InvalidWebhookTarget: INVALID_WEBHOOK_TARGET,
    errors.PayloadTooLarge: PAYLOAD_TOO_LARGE,
    errors.PayloadRefused: INVALID_PAYLOAD,
    errors.MalformedBody: MALFORMED_BODY,
    errors.UnsupportedMediaType: UNSUPPORTED_MEDIA_TYPE,
    errors.InvalidPayload: INVALID_PAYLOAD,
    errors.Unauthenticated: UNAUTHENTICATED,
    errors.MissingScope: MISSING_SCOPE,
    errors.RateLimited: RATE_LIMITED,
    errors.TooManyFailures: TOO_MANY_FAILURES,
    errors.BadIdempotencyKey: BAD_IDEMPOTENCY_KEY,
    errors.IdempotencyInFlight: IDEMPOTENCY_IN_FLIGHT,
    errors.IdempotencyMismatch: IDEMPOTENCY_MISMATCH,
    errors.IntakeSourceNotFound: INTAKE_SOURCE_NOT_FOUND,
    errors.SignatureRefused: SIGNATURE_REFUSED,
    errors.SchemaNotCurrent: SCHEMA_NOT_CURRENT,
    errors.DatabaseUnavailable: UNAVAILABLE,
}
"""Every refusal an HTTP answer can carry, by its class: the one table."""

COMMAND_ONLY: frozenset[type[errors.ServiceError]] = frozenset(
    {
        errors.KeyNameTaken,
        errors.KeyNotFound,
        errors.IntakeSourceExists,
        errors.BadSecret,
        errors.SecretsUnreadable,
    }
)
"""Refusals only the `leadstatus` command makes (it prints their detail); reaching a route,
one would be answered as an internal error."""


def problem_type_for(refusal: type[errors.ServiceError]) -> ProblemType | None:
    """The problem type of the nearest class of `refusal` (itself or a base) in the table."""
    for cls in refusal.__mro__:
        kind = PROBLEMS.get(cls)
        if kind is not None:
            return kind
    return None


def problem_type_of(exc: errors.ServiceError) -> ProblemType | None:
    """The problem type of a refusal raised."""
    return problem_type_for(type(exc))


CATALOGUE: dict[str, ProblemType] = {
    p.type: p
    for p in (
        *PROBLEMS.values(),
        BODY_TOO_LARGE,
        REQUEST_TIMEOUT,
        VALIDATION,
        UNAVAILABLE,
        QUERY_TIMEOUT,
        OUTCOME_UNKNOWN,
        HEADERS_TIMEOUT,
        TOO_MANY_CONNECTIONS,
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
        sent = set().union(*(k.sends for k in group))
        out[status] = {
            "description": "; ".join(k.title for k in group),
            **({"headers": header_refs(*sent)} if sent else {}),
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "examples": examples,
                }
            },
        }
    return out


WRITING_METHODS = ("post", "put", "patch", "delete")
DRY_RUN_SUFFIX = ":validate"
"""The one kind of unsafe operation that writes nothing (a pipeline's dry run)."""


def document_outcome_unknown(schema: dict[str, Any]) -> dict[str, Any]:
    """List `outcome-unknown` under the 503 of every operation that writes: any of them can
    lose its database between sending a change and hearing that it was saved."""
    documented = responses(OUTCOME_UNKNOWN)[OUTCOME_UNKNOWN.status]
    example = documented["content"]["application/problem+json"]["examples"]
    for path, operations in schema.get("paths", {}).items():
        if path.endswith(DRY_RUN_SUFFIX):
            continue
        for method, operation in operations.items():
            if method not in WRITING_METHODS:
                continue
            answers = operation.setdefault("responses", {})
            unavailable = answers.get(str(OUTCOME_UNKNOWN.status))
            if unavailable is None:
                answers[str(OUTCOME_UNKNOWN.status)] = documented
                continue
            unavailable["description"] += f"; {OUTCOME_UNKNOWN.title}"
            unavailable["content"]["application/problem+json"]["examples"].update(example)
    return schema


def document_response_headers(schema: dict[str, Any]) -> dict[str, Any]:
    """Describe the response headers once, and give every answer of every operation its
    `X-Request-ID` (the request observer sets it on every response, refusals included)."""
    schema.setdefault("components", {})["headers"] = HEADERS
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {}).update(header_refs("X-Request-ID"))
    return schema
