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
class Member:
    """An extension member of a problem type's answers: its name, JSON schema, and whether
    every answer of the type carries it."""

    name: str
    schema: Mapping[str, Any]
    required: bool = True
    example: Any = None


_TEXT: Mapping[str, Any] = {"type": "string"}
_COUNT: Mapping[str, Any] = {"type": "integer"}
_KEYS: Mapping[str, Any] = {"type": "array", "items": {"type": "string"}}


def _m(
    name: str, schema: Mapping[str, Any], about: str, example: Any = None, *, always: bool = True
) -> Member:
    return Member(name, {**schema, "description": about}, always, example)


def _field(
    about: str = "The input at fault, as the request named it.", example: str = "reason"
) -> Member:
    return _m("field", _TEXT, about, example)


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
    members: tuple[Member, ...] = ()
    """What its answers carry beyond RFC 9457's four, for a client to act on."""

    @property
    def sends(self) -> set[str]:
        """The headers its answers carry, as the OpenAPI document lists them."""
        return {name for name, _ in self.headers} | ({"Retry-After"} if self.retry_after else set())


def _t(
    status: int,
    type_: str,
    title: str,
    about: str,
    *members: Member,
    retry_after: bool = False,
    **headers: str,
) -> ProblemType:
    """A problem type; `headers` with `_` for `-` (`Retry_After`)."""
    return ProblemType(
        status,
        type_,
        title,
        about,
        tuple((k.replace("_", "-"), v) for k, v in headers.items()),
        retry_after,
        members,
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


LEAD_NOT_FOUND = _t(
    404,
    "lead-not-found",
    "Lead not found",
    "No lead has this id.",
    _m("lead_id", _COUNT, "The id asked for.", 1207),
)
TRANSITION_NOT_ALLOWED = _t(
    409,
    "transition-not-allowed",
    "Transition not allowed",
    "The workflow has no move from the lead's status to the requested one; "
    "`allowed_targets` lists the moves it has.",
    _m("current_status", _TEXT, "The lead's status.", "new"),
    _m("requested", _TEXT, "The status asked for.", "won"),
    _m("allowed_targets", _KEYS, "The moves the lead's status has.", ["contacted", "disqualified"]),
)
NOT_REOPENABLE = _t(
    409,
    "not-reopenable",
    "Lead cannot be reopened",
    "Only lost, no_decision and recycled leads can be reopened.",
    _m("current_status", _TEXT, "The lead's status.", "won"),
    _m("reopenable_statuses", _KEYS, "The statuses a lead is reopened from.", ["lost"]),
)
INVALID_STATUS_CHANGE = _t(
    422,
    "invalid-status-change",
    "Invalid status change",
    "The reason is not one of the target's codes, or a field it requires is missing, "
    "or a field it does not take was sent; `field` names it.",
    _field(),
    _m("allowed_reasons", _KEYS, "The target's reason codes (an unknown reason).", always=False),
    _m("allowed_targets", _KEYS, "The statuses a reopening goes to (a wrong `to`).", always=False),
    _m("reason", _TEXT, "The reason whose rule was broken.", always=False),
)
STALE_VERSION = _t(
    412,
    "stale-version",
    "Lead has changed",
    "If-Match named a version that is no longer current; read the lead again.",
    _m("lead_id", _COUNT, "The lead.", 1207),
    _m("expected_version", _COUNT, "The version If-Match named.", 3),
    _m("current_version", _COUNT, "The lead's version now.", 4),
)
CONCURRENT_CHANGE = _t(
    409,
    "concurrent-change",
    "Concurrent change",
    "Other changes to this lead kept committing first; read it again and retry.",
    _m("lead_id", _COUNT, "The lead that kept changing.", always=False),
    _m("email", _TEXT, "The email whose open leads kept changing.", always=False),
    _m("event_id", _TEXT, "The intake event that could not be applied.", always=False),
)
DUPLICATE_OPEN_LEAD = _t(
    409,
    "duplicate-open-lead",
    "Open lead exists",
    "An open lead with this email exists already; `existing_lead_id` names it.",
    _m("existing_lead_id", _COUNT, "The open lead with this email.", 1207),
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
    _m("after", _TEXT, "The `after` given.", "evt_12"),
)
WEBHOOK_NOT_FOUND = _t(
    404,
    "webhook-not-found",
    "Webhook endpoint not found",
    "No webhook endpoint has this id.",
    _m("endpoint_id", _COUNT, "The id asked for.", 3),
)
INVALID_WEBHOOK_TARGET = _t(
    422,
    "invalid-webhook-target",
    "Webhook target refused",
    "The URL is not one webhooks are sent to: `why` says what is wrong (not http(s), or an "
    "address that is private, loopback or link-local and not in "
    "LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS, or a host that does not resolve).",
    _field("The input at fault: `url`.", "url"),
    _m("why", _TEXT, "What is wrong with it.", "the address is loopback"),
)
VALIDATION = _t(
    422,
    "request-validation-failed",
    "Request validation failed",
    "The request does not match the schema; `errors` lists each problem with its location.",
    _field(
        "The first input at fault: a body member's dotted path (`attributes.plan`), or a "
        "query, path or header parameter's name.",
        "email",
    ),
    _m(
        "errors",
        {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        "Every input at fault, in the order found.",
        [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}],
    ),
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
    _field("The window bound at fault.", "from"),
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
    _m("missing_scope", _TEXT, "The scope this call needs.", "leads:write"),
)
SCHEMA_NOT_CURRENT = _t(
    503,
    "schema-not-current",
    "Database schema not current",
    "The database's migrations are not at the revision this code needs; run `leadstatus migrate`.",
    _m("schema_revision", {"type": ["string", "null"]}, "The database's revision.", "0025"),
    _m("required_revision", _TEXT, "The revision this code needs.", "0026"),
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
    _m("limit_bytes", _COUNT, "The largest body this call accepts.", 1048576),
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
    _m("source", _TEXT, "The name asked for.", "hubspot-main"),
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
    _m("field", _TEXT, "The payload member at fault (or the batch's list).", "email", always=False),
    _m("event_id", _TEXT, "The intake event at fault.", always=False),
)

PIPELINE_NOT_FOUND = _t(
    404,
    "pipeline-not-found",
    "Pipeline not found",
    "No pipeline (or version) has this name.",
    _m("pipeline", _TEXT, "The name asked for.", "partners"),
)
INVALID_PIPELINE = _t(
    422,
    "invalid-pipeline",
    "Invalid pipeline definition",
    "The definition cannot be a workflow; `violations` lists every problem, each with a JSON "
    "`pointer` into the document and a `message`.",
    _m(
        "violations",
        {"type": "array", "items": {"$ref": "#/components/schemas/ViolationPublic"}},
        "Every problem, each with a JSON pointer into the document.",
        [{"pointer": "/statuses/2/key", "message": "duplicate status key 'qualified'"}],
    ),
)
STATUSES_IN_USE = _t(
    409,
    "statuses-in-use",
    "Removed statuses hold leads",
    "The new version removes statuses that leads are in; `leads_per_status` counts them. Remap "
    "them (`remap`: old -> new, same outcome) or keep them with `archived: true`.",
    _m(
        "leads_per_status",
        {"type": "object", "additionalProperties": {"type": "integer"}},
        "How many leads each removed status holds.",
        {"negotiation": 12},
    ),
)
UNKNOWN_STATUS = _t(
    422,
    "unknown-status",
    "Unknown status",
    "The status is not one of the pipeline's; `statuses` lists them and `field` names the input.",
    _field("The input at fault.", "to"),
    _m("pipeline", _TEXT, "The pipeline asked about.", "default"),
    _m("statuses", _KEYS, "The pipeline's statuses.", ["new", "contacted"]),
)
STALE_PIPELINE_VERSION = _t(
    412,
    "stale-pipeline-version",
    "Pipeline version is not current",
    "The If-Match names a version of the pipeline that is no longer current; read it again.",
    _m("pipeline", _TEXT, "The pipeline.", "partners"),
    _m("expected_version", _COUNT, "The version If-Match named.", 2),
    _m("current_version", _COUNT, "The pipeline's version now.", 3),
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
                    **{m.name: m.example for m in k.members if m.example is not None},
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


def _add(operation: dict[str, Any], kind: ProblemType) -> None:
    """List `kind` among the answers of `operation`, beside any of the same status."""
    documented = responses(kind)[kind.status]
    answers = operation.setdefault("responses", {})
    same_status = answers.get(str(kind.status))
    if same_status is None:
        answers[str(kind.status)] = documented
        return
    examples = same_status["content"]["application/problem+json"]["examples"]
    if kind.type not in examples:
        same_status["description"] += f"; {kind.title}"
        examples.update(documented["content"]["application/problem+json"]["examples"])


def document_outcome_unknown(schema: dict[str, Any]) -> dict[str, Any]:
    """List `outcome-unknown` under the 503 of every operation that writes: any of them can
    lose its database between sending a change and hearing that it was saved."""
    for path, operations in schema.get("paths", {}).items():
        if path.endswith(DRY_RUN_SUFFIX):
            continue
        for method, operation in operations.items():
            if method in WRITING_METHODS:
                _add(operation, OUTCOME_UNKNOWN)
    return schema


def document_unrouted(schema: dict[str, Any]) -> dict[str, Any]:
    """List `http-not-found` under every operation with a text path parameter: a value holding
    a `/` (sent as `%2F`) makes an address no route has, answered before the operation runs."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if any(
                parameter.get("in") == "path" and parameter["schema"].get("type") == "string"
                for parameter in operation.get("parameters", [])
            ):
                _add(operation, NOT_FOUND)
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


FIELD_ERROR: dict[str, Any] = {
    "title": "FieldError",
    "description": "One input that does not match the schema.",
    "type": "object",
    "properties": {
        "loc": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": "Where: `body`, `query`, `path` or `header`, then the member's path.",
        },
        "msg": {"type": "string", "description": "What is wrong, in words."},
        "type": {"type": "string", "description": "What is wrong, as a stable code."},
    },
    "required": ["loc", "msg", "type"],
}


def schema_name(kind: ProblemType) -> str:
    """The component a problem type's answers are described by: `TransitionNotAllowedProblem`."""
    return "".join(part.capitalize() for part in kind.type.split("-")) + "Problem"


def problem_schema(kind: ProblemType) -> dict[str, Any]:
    """The JSON schema of one problem type's answers: RFC 9457's members, fixed where the type
    fixes them, and the extension members a client acts on."""
    return {
        "title": schema_name(kind),
        "description": kind.about,
        "type": "object",
        "properties": {
            "type": {"type": "string", "const": PROBLEM_URI.format(type=kind.type)},
            "title": {"type": "string", "examples": [kind.title]},
            "status": {"type": "integer", "const": kind.status},
            "detail": {"type": "string", "description": "What went wrong with this request."},
            **{m.name: dict(m.schema) for m in kind.members},
        },
        "required": ["type", "title", "status", "detail"]
        + [m.name for m in kind.members if m.required],
    }


def _ref(kind: ProblemType) -> str:
    return f"#/components/schemas/{schema_name(kind)}"


def _answers_schema(kinds: list[ProblemType]) -> dict[str, Any]:
    if len(kinds) == 1:
        return {"$ref": _ref(kinds[0])}
    return {
        "oneOf": [{"$ref": _ref(k)} for k in kinds],
        "discriminator": {
            "propertyName": "type",
            "mapping": {PROBLEM_URI.format(type=k.type): _ref(k) for k in kinds},
        },
    }


_REPLACED = ("HTTPValidationError", "ValidationError")
"""The framework's schemas for a request that does not validate: `RequestValidationFailedProblem`
and `FieldError` say it in this service's own terms."""
PROBLEM: dict[str, Any] = {
    "title": "Problem",
    "description": "Any problem type (RFC 9457): where an answer can carry any of them, as a "
    "batch item's refusal does. `type` says which; `GET /problems/{type}` describes it.",
    "type": "object",
    "properties": {
        "type": {"type": "string", "examples": ["/problems/transition-not-allowed"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}


def document_problem_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    """Describe each documented refusal by its own problem type's schema (a `oneOf` where one
    status has several), so a generated client reads `allowed_targets` or `existing_lead_id`
    as typed fields. Runs after every pass that lists problem types: the types are read from
    each answer's examples."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    used: dict[str, ProblemType] = {}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/problem+json")
                if content is None:
                    continue
                if not content.get("examples") and status == str(VALIDATION.status):
                    content.update(
                        responses(VALIDATION)[VALIDATION.status]["content"][
                            "application/problem+json"
                        ]
                    )
                kinds = [CATALOGUE[name] for name in content.get("examples", {})]
                if kinds:
                    content["schema"] = _answers_schema(kinds)
                    used.update({k.type: k for k in kinds})
    for name in _REPLACED:
        components.pop(name, None)
    components["FieldError"] = FIELD_ERROR
    components["Problem"] = PROBLEM
    components.update({schema_name(k): problem_schema(k) for k in used.values()})
    return schema
