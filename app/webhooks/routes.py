"""HTTP for webhook endpoints (scope `admin`): subscribe, change, pause, rotate, recover, look."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, FastAPI, Path, Query, Request, Response

from app.access.domain import KeyScope
from app.access.http import KeyedRoute, requires
from app.events.domain import MEANING, EventType, event_id
from app.events.schemas import Event
from app.leads.schemas import FilterInstant
from app.platform.http import problem_types as p
from app.platform.http.operation_ids import camel_case
from app.platform.http.requests import primary_pool
from app.platform.sealing import Sealer
from app.platform.wire import to_json
from app.webhooks import service
from app.webhooks.domain import DeliveryState, Network, parse_networks
from app.webhooks.schemas import (
    DeliveriesPage,
    Queued,
    ResendRequest,
    Resent,
    WebhookCreate,
    WebhookPublic,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(
    prefix="/v1/webhooks",
    route_class=KeyedRoute,
    tags=["webhooks"],
    responses=p.responses(*p.KEYED, p.UNAVAILABLE, p.QUERY_TIMEOUT, p.INTERNAL),
)

EndpointId = Annotated[
    int, Path(ge=1, le=2**63 - 1, description="The endpoint's id.", examples=[1])
]
JSON = "application/json"


def sealer_of(request: Request) -> Sealer:
    sealer: Sealer = request.app.state.sealer
    return sealer


def networks_of(request: Request) -> tuple[Network, ...]:
    return parse_networks(request.app.state.settings.webhook_allowed_networks)


def _json(value: Any, status_code: int = 200) -> Response:
    return Response(to_json(value), status_code=status_code, media_type=JSON)


@router.post(
    "",
    status_code=201,
    response_model=WebhookWithSecret,
    summary="Subscribe an endpoint",
    description="Events from now on are POSTed to `url`, signed per Standard Webhooks with the "
    "`secret` this answer shows once. The URL is checked now and at every attempt.",
    responses=p.responses(p.INVALID_WEBHOOK_TARGET, p.MALFORMED_BODY, p.VALIDATION),
)
@requires(KeyScope.ADMIN)
async def add_webhook(request: Request, body: WebhookCreate) -> Response:
    row, secret = await service.add_endpoint(
        primary_pool(request), sealer_of(request), networks_of(request), body.model_dump()
    )
    return _json({**dict(row), "secret": secret}, 201)


@router.get(
    "",
    response_model=list[WebhookPublic],
    summary="List endpoints",
    description="Every endpoint with its state (enabled, or why not; failing since when), "
    "never a secret.",
)
@requires(KeyScope.ADMIN)
async def list_webhooks(request: Request) -> Response:
    return _json([dict(r) for r in await service.list_endpoints(primary_pool(request))])


@router.get(
    "/{endpoint_id}",
    response_model=WebhookPublic,
    summary="Read an endpoint",
    description="Its filters, its state and, after a rotation, until when the old secret signs.",
    responses=p.responses(p.WEBHOOK_NOT_FOUND, p.VALIDATION),
)
@requires(KeyScope.ADMIN)
async def get_webhook(request: Request, endpoint_id: EndpointId) -> Response:
    return _json(dict(await service.get_endpoint(primary_pool(request), endpoint_id)))


@router.patch(
    "/{endpoint_id}",
    response_model=WebhookPublic,
    summary="Change an endpoint",
    description="Any of `url`, `event_types`, `pipeline`, `description`; `enabled: false` "
    "pauses it, `enabled: true` resumes it and delivers what it missed.",
    responses=p.responses(
        p.WEBHOOK_NOT_FOUND, p.INVALID_WEBHOOK_TARGET, p.MALFORMED_BODY, p.VALIDATION
    ),
)
@requires(KeyScope.ADMIN)
async def edit_webhook(request: Request, endpoint_id: EndpointId, body: WebhookUpdate) -> Response:
    row = await service.edit_endpoint(
        primary_pool(request),
        networks_of(request),
        endpoint_id,
        body.model_dump(exclude_unset=True),
    )
    return _json(dict(row))


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    summary="Remove an endpoint",
    description="With its queued deliveries and their record.",
    responses=p.responses(p.WEBHOOK_NOT_FOUND, p.VALIDATION),
)
@requires(KeyScope.ADMIN)
async def remove_webhook(request: Request, endpoint_id: EndpointId) -> Response:
    await service.remove_endpoint(primary_pool(request), endpoint_id)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=WebhookWithSecret,
    summary="Rotate the signing secret",
    description="A new secret, shown once; for 24 hours every delivery is signed with both "
    "(`webhook-signature` holds two signatures), so receivers can switch without a gap.",
    responses=p.responses(p.WEBHOOK_NOT_FOUND, p.VALIDATION),
)
@requires(KeyScope.ADMIN)
async def rotate_webhook_secret(request: Request, endpoint_id: EndpointId) -> Response:
    row, secret = await service.rotate_secret(
        primary_pool(request), sealer_of(request), endpoint_id
    )
    return _json({**dict(row), "secret": secret})


def _delivery(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["event_id"] = event_id(row["event_id"])
    out["next_attempt_at"] = row["next_attempt_at"] if row["state"] == "pending" else None
    out["tries"] = [
        {"at": t[0], "status": t[1], "duration_ms": t[2], "error": t[3]} for t in row["tries"]
    ]
    return out


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=DeliveriesPage,
    summary="List deliveries and their attempts",
    description="Newest first: each event sent (or to send) to the endpoint, its state "
    "(pending, delivered, failed), the next retry while pending, and every attempt with its "
    "status, duration and error. Page with `before` <- `next_before`.",
    responses=p.responses(p.WEBHOOK_NOT_FOUND, p.VALIDATION),
)
@requires(KeyScope.ADMIN)
async def list_webhook_deliveries(
    request: Request,
    endpoint_id: EndpointId,
    state: Annotated[DeliveryState | None, Query(examples=["failed"])] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    rows = await service.list_deliveries(
        primary_pool(request), endpoint_id, state=state, before=before, limit=limit
    )
    items = [_delivery(r) for r in rows]
    return _json({"items": items, "next_before": rows[-1]["id"] if len(rows) == limit else None})


@router.post(
    "/{endpoint_id}/recover",
    status_code=202,
    response_model=Queued,
    summary="Deliver again what the endpoint missed",
    description="Queues every event since `since` that the endpoint takes and has not "
    "received (failed or never sent), in the log's order.",
    responses=p.responses(p.WEBHOOK_NOT_FOUND, p.VALIDATION),
)
@requires(KeyScope.ADMIN)
async def recover_webhook(
    request: Request,
    endpoint_id: EndpointId,
    since: Annotated[
        FilterInstant,
        Query(description="From this time on.", examples=["2026-12-01T00:00:00Z"]),
    ],
) -> Response:
    queued = await service.recover(primary_pool(request), endpoint_id, since=since)
    return _json({"queued": queued}, 202)


@router.post(
    "/{endpoint_id}/resend",
    status_code=202,
    response_model=Resent,
    summary="Send one event again",
    description="A new delivery of one event the log still keeps, whatever became of earlier "
    "ones; it carries the same `webhook-id`, so a receiver can tell a repeat.",
    responses=p.responses(p.WEBHOOK_NOT_FOUND, p.EVENT_NOT_KEPT, p.MALFORMED_BODY, p.VALIDATION),
)
@requires(KeyScope.ADMIN)
async def resend_webhook_event(
    request: Request, endpoint_id: EndpointId, body: ResendRequest
) -> Response:
    delivery_id = await service.resend(
        primary_pool(request),
        endpoint_id,
        body.event_id,
        retention_days=request.app.state.settings.events_retention_days,
    )
    return _json({"delivery_id": delivery_id}, 202)


WEBHOOK_HEADERS = (
    "Signed per Standard Webhooks: `webhook-id` (the event's id, the same on every retry), "
    "`webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "
    "id.timestamp.body>`, two of them while a rotated secret is still valid). Answer 2xx within "
    "10 s; anything else is retried for about three days (5 s, 30 s, 2 min, 10 min, 30 min, "
    "1 h, 2 h, 4 h, 8 h, then every 12 h, each +-20%); 410 disables the endpoint."
)


def document_webhooks(app: FastAPI) -> None:
    """Every event type as an OpenAPI webhook: what an endpoint receives."""
    for kind in EventType:

        async def receive(body: Event) -> None:  # pragma: no cover - documentation only
            return None

        app.webhooks.post(
            str(kind),
            summary=f"{kind}: {MEANING[kind]}",
            description=WEBHOOK_HEADERS,
            operation_id=camel_case(str(kind).replace(".", "_")),
        )(receive)


RECEIVER_ANSWERS: dict[str, dict[str, str]] = {
    "2XX": {"description": "Received; the answer's body is not read."},
    "410": {"description": "Gone: the endpoint is disabled and sent nothing more."},
}


def describe_receivers(schema: dict[str, Any]) -> dict[str, Any]:
    """A webhook's answers are the receiver's: 2xx or 410 mean something, the rest is retried.
    The framework would list its own 200 and 422 there, which no receiver is asked for."""
    for operations in schema.get("webhooks", {}).values():
        for operation in operations.values():
            operation["responses"] = RECEIVER_ANSWERS
    return schema
