"""HTTP for the events log: `GET /v1/events`, the catch-up a consumer never depends on webhooks
for."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.access.domain import KeyScope
from app.access.http import KeyedRoute, requires
from app.events import service
from app.events.domain import EventFilter, EventType
from app.events.envelope import envelope
from app.events.schemas import EventsPage
from app.pipelines.schemas import PipelineName
from app.platform.http import problem_types as p
from app.platform.http.requests import primary_pool
from app.platform.wire import to_json

router = APIRouter(
    prefix="/v1/events",
    route_class=KeyedRoute,
    tags=["events"],
    responses=p.responses(*p.KEYED, p.UNAVAILABLE, p.QUERY_TIMEOUT, p.INTERNAL),
)

MAX_PAGE = 1000


@router.get(
    "",
    response_model=EventsPage,
    summary="Read the events log",
    description="Every change as an event, in an order that never moves: a page holds only "
    "events no running transaction can still add before, so reading on from `next` misses "
    "nothing. Start without `after` (the oldest event kept), keep `next`, and read again "
    "(at once while `more` is true). The log keeps events `LEADSTATUS_EVENTS_RETENTION_DAYS` "
    "(30 by default); webhooks deliver the same events.",
    responses=p.responses(p.EVENT_NOT_KEPT, p.VALIDATION),
)
@requires(KeyScope.LEADS_READ)
async def list_events(
    request: Request,
    after: Annotated[
        str | None,
        Query(
            max_length=30,
            pattern=r"^evt_[0-9]+$",
            description="The id of the last event you have.",
            examples=["evt_1"],
        ),
    ] = None,
    type: Annotated[
        list[EventType] | None, Query(description="Event types; repeat for several.")
    ] = None,
    lead_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    pipeline: Annotated[PipelineName | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Response:
    rows = await service.read_events(
        primary_pool(request),
        after=after,
        where=EventFilter(types=tuple(type or ()), lead_id=lead_id, pipeline=pipeline),
        limit=limit,
        retention_days=request.app.state.settings.events_retention_days,
    )
    events = [envelope(row) for row in rows]
    page = {
        "events": events,
        "next": events[-1]["id"] if events else after,
        "more": len(events) == limit,
    }
    return Response(to_json(page), media_type="application/json")
