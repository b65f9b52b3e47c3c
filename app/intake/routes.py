"""HTTP for marketing-tool deliveries: bound the body, check the sender, read, hand over.

Refusals come before any write, in this order: too large (413), unknown source (404), not
authenticated (401), wrong content type (415), unparseable (400), missing or invalid fields (422).
A delivery that passes all of them is answered 200 with what happened to each event, and a
redelivery of the same events gets the very same answer.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import ValidationError

from app.access.http import failures_counted
from app.intake import payloads, service, signatures
from app.intake.domain import SourceKind
from app.intake.payloads import MAX_PAYLOAD_BYTES, Arrival
from app.intake.schemas import IntakeAnswer, IntakeBatchAnswer, IntakeUrlCheck
from app.intake.secrets import SecretKeeper
from app.leads.schemas import LeadCreate
from app.pipelines.http import workflows_of
from app.platform.errors import (
    IntakeSourceNotFound,
    InvalidPayload,
    PayloadTooLarge,
    SignatureRefused,
)
from app.platform.http import problem_types as p
from app.platform.http.requests import primary_pool
from app.platform.observability.metrics import instruments_of
from app.platform.wire import to_json

log = logging.getLogger("leadstatus.intake")

router = APIRouter(
    prefix="/v1/intake",
    tags=["intake"],
    responses=p.responses(p.UNAVAILABLE, p.QUERY_TIMEOUT, p.REQUEST_TIMEOUT, p.INTERNAL),
)

SourceName = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="The intake source's name, as `leadstatus source add NAME` configured it.",
        examples=["hubspot-main"],
    ),
]

_ANSWER_EXAMPLE = {
    "event_id": "msg_2mS9zZqYcXhR6sYw",
    "delivery_id": 41,
    "outcome": "created",
    "lead_id": 1207,
    "previous_lead_id": None,
}
_BODY_DOC = {
    "required": True,
    "description": "The tool's own payload, signed as its kind requires (see 'Connect your "
    "marketing tool' in docs/intake.md). Mailchimp's deliveries are form-encoded "
    "(`application/x-www-form-urlencoded`: `type=subscribe&data[merges][EMAIL]=...`) and are "
    "accepted here too; the document names JSON alone, because generated clients cannot yet "
    "send one required body in two content types.",
    "content": {
        "application/json": {
            "schema": {"title": "IntakeDelivery", "type": "object", "additionalProperties": True},
            "example": {
                "type": "lead.created",
                "data": {"email": "dana@northwind.example", "first_name": "Dana"},
            },
        },
    },
}


def _keeper(request: Request) -> SecretKeeper:
    """Made on first use: only intake needs the key (and may create its local key file)."""
    state = request.app.state
    if getattr(state, "keeper", None) is None:
        state.keeper = SecretKeeper(state.sealer)
    keeper: SecretKeeper = state.keeper
    return keeper


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {MAX_PAYLOAD_BYTES}.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge(f"The body exceeds the limit of {MAX_PAYLOAD_BYTES} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _signed_uri(request: Request) -> str:
    """The URL as the sender called it: behind a proxy, LEADSTATUS_PUBLIC_URL says where."""
    public: str | None = request.app.state.settings.public_url
    if not public:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return public.rstrip("/") + request.url.path + query


def _authenticate(source: service.IntakeSource, request: Request, body: bytes) -> str | None:
    """Refuse unless the source's scheme proves the sender; the sender's message id if any."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        match source.kind:
            case SourceKind.STANDARD:
                return signatures.verify_standard(source.secrets, body, headers)
            case SourceKind.HUBSPOT:
                signatures.verify_hubspot(
                    source.secrets,
                    method=request.method,
                    uri=_signed_uri(request),
                    body=body,
                    headers=headers,
                    now=datetime.now(UTC),
                )
            case SourceKind.MARKETO:
                signatures.verify_shared(
                    source.secrets, headers.get("x-webhook-secret"), where="X-Webhook-Secret"
                )
            case SourceKind.MAILCHIMP:
                signatures.verify_shared(
                    source.secrets, request.query_params.get("secret"), where="?secret="
                )
    except SignatureRefused as refused:
        # The reason names what was wrong, never a secret or a signature; the pure check
        # does not know the source, the answer names it.
        log.warning("intake delivery to %s refused: %s", source.name, refused.reason)
        refused.facts.setdefault("source", source.name)
        raise
    return None


def _lead_fields(arrival: Arrival) -> dict[str, Any] | None:
    """The arrival's fields as a lead accepts them, or None for an event that names nobody."""
    if arrival.outcome is not None:
        return None
    try:
        lead = LeadCreate.model_validate(arrival.fields)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidPayload(
            f"{field}: {first['msg']}", field=field, event_id=arrival.event_id
        ) from None
    return lead.model_dump(exclude_unset=True)


async def _source(request: Request, pool: Any, name: str) -> service.IntakeSource:
    return await service.find_source(pool, name, keeper=_keeper(request), now=datetime.now(UTC))


@router.post(
    "/{source}",
    summary="Receive leads from a marketing tool",
    description="A signed delivery from the tool configured as `source` (Standard Webhooks, "
    "HubSpot, Marketo or Mailchimp). Each event is processed exactly once: a redelivery gets "
    "the first answer back and changes nothing. A person who already has a lead is not "
    "duplicated: an open lead gets a touch; a recycled, lost or no-decision lead is reported "
    "as returning (or reopened, if the source is set to); a won, disqualified or dead lead "
    "gets a new lead linked to it. A batched HubSpot delivery answers `{events: [...]}`.",
    openapi_extra={"requestBody": _BODY_DOC},
    response_model=IntakeAnswer | IntakeBatchAnswer,
    responses={
        200: {"content": {"application/json": {"example": _ANSWER_EXAMPLE}}},
        **p.responses(
            p.MALFORMED_BODY,
            p.SIGNATURE_REFUSED,
            p.INTAKE_SOURCE_NOT_FOUND,
            p.PAYLOAD_TOO_LARGE,
            p.UNSUPPORTED_MEDIA_TYPE,
            p.INVALID_PAYLOAD,
            p.VALIDATION,
            p.CONCURRENT_CHANGE,
            p.TOO_MANY_FAILURES,
        ),
    },
)
async def receive_intake_delivery(source: SourceName, request: Request) -> Response:
    pool = primary_pool(request)
    with failures_counted(request, IntakeSourceNotFound, SignatureRefused):
        configured = await _source(request, pool, source)  # an unknown source's body is unread
        body = await _bounded_body(request)
        message_id = _authenticate(configured, request, body)
    content_type = request.headers.get("content-type")
    arrivals = payloads.read(
        configured.kind,
        body,
        content_type=content_type,
        field_map=configured.field_map,
        message_id=message_id,
    )
    validated = [(arrival, _lead_fields(arrival)) for arrival in arrivals]
    answers = await service.receive(
        pool,
        workflows_of(request),
        source=configured,
        arrivals=validated,
        content_type=payloads.media_type(content_type),
        now=datetime.now(UTC),
        on_settled=partial(instruments_of(request).count_delivery, configured.name),
    )
    batched = configured.kind is SourceKind.HUBSPOT and body.lstrip().startswith(b"[")
    content = {"events": answers} if batched else answers[0]
    return Response(to_json(content), media_type="application/json")


@router.get(
    "/{source}",
    summary="Answer a sender's URL check",
    description="Mailchimp checks a webhook URL with a GET before saving it: a Mailchimp "
    "source answers 200 when the `secret` query parameter is its secret.",
    response_model=IntakeUrlCheck,
    responses=p.responses(p.SIGNATURE_REFUSED, p.INTAKE_SOURCE_NOT_FOUND, p.TOO_MANY_FAILURES),
)
async def check_intake_url(source: SourceName, request: Request) -> Response:
    with failures_counted(request, IntakeSourceNotFound, SignatureRefused):
        configured = await _source(request, primary_pool(request), source)
        if configured.kind is not SourceKind.MAILCHIMP:
            raise SignatureRefused(
                "Only Mailchimp sources answer a URL check.", source=configured.name
            )
        _authenticate(configured, request, b"")
    return Response(to_json({"source": configured.name}), media_type="application/json")
