"""HTTP for leads: parse, call one use case, shape the answer. No rules live here."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Query, Request, Response

from app.access.domain import KeyScope
from app.access.http import KeyedRoute, key_name, requires
from app.idempotency.http import IDEMPOTENCY_KEY, idempotent
from app.leads import service
from app.leads.domain import ChangeDetails, LeadFilter, LeadRecord, StatusChange
from app.leads.schemas import (
    FilterInstant,
    LeadCreate,
    LeadPublic,
    LeadsPage,
    LeadUpdate,
    ReopenRequest,
    StatusChangePublic,
    TransitionRequest,
)
from app.leads.service import OnRecorded
from app.pipelines.http import workflows_of
from app.pipelines.schemas import PipelineName, ReasonCode
from app.platform.errors import BadCursor
from app.platform.http import problem_types as p
from app.platform.http.fields import NO_NUL
from app.platform.http.requests import (
    IF_MATCH,
    LeadId,
    documented_headers,
    etag,
    if_match,
    primary_pool,
    read_pool,
)
from app.platform.observability.metrics import instruments_of
from app.platform.wire import to_json

router = APIRouter(
    prefix="/v1/leads",
    route_class=KeyedRoute,
    tags=["leads"],
    responses=p.responses(*p.KEYED, p.UNAVAILABLE, p.QUERY_TIMEOUT, p.INTERNAL),
)

JSON = "application/json"
MAX_PAGE = 200
THE_LEAD: dict[int | str, dict[str, Any]] = {
    200: {"description": "The lead.", "headers": p.header_refs("ETag")}
}
CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "The lead created.", "headers": p.header_refs("ETag", "Location")}
}


def _lead_response(row: LeadRecord, status_code: int = 200, **headers: str) -> Response:
    # Rows are already valid leads: serialize them straight, without a second validation pass.
    return Response(
        to_json(dict(row)),
        status_code=status_code,
        media_type=JSON,
        headers={"ETag": etag(row["version"]), **headers},
    )


def _encode_cursor(lead_id: int) -> str:
    return base64.urlsafe_b64encode(f"before:{lead_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "before" or not value.isdigit() or len(value) > 19:
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("The cursor is not one this service issued.") from None


def _details(body: TransitionRequest | ReopenRequest) -> ChangeDetails:
    data: Mapping[str, Any] = body.model_dump(exclude={"to", "reason"})
    return ChangeDetails(**data)


async def _status_changed(
    request: Request,
    change: Callable[[asyncpg.Pool, OnRecorded], Awaitable[LeadRecord]],
) -> Response:
    """Apply a status change (retry-safe with an Idempotency-Key) and answer with the lead;
    count what it recorded once `idempotent` returned, when the change has committed."""
    recorded: list[StatusChange] = []

    async def work(db: asyncpg.Pool) -> Response:
        return _lead_response(await change(db, recorded.append))

    response = await idempotent(request, work)
    instruments = instruments_of(request)
    for status_change in recorded:
        instruments.count_status_change(status_change)
    return response


@router.post(
    "",
    status_code=201,
    response_model=LeadPublic,
    summary="Create a lead",
    description="Creates a lead in a pipeline (default: `default`) at that pipeline's initial "
    "status (`new` in `default`). The email must not belong to another *open* lead "
    "(case-insensitive); closed leads do not block it. `status`, `version` and `id` cannot be "
    "set. Answers with the lead, its `Location` and its `ETag`.",
    openapi_extra=documented_headers(IDEMPOTENCY_KEY),
    responses={
        **CREATED,
        **p.responses(p.DUPLICATE_OPEN_LEAD, p.PIPELINE_NOT_FOUND, p.VALIDATION, *p.IDEMPOTENCY),
    },
)
@requires(KeyScope.LEADS_WRITE)
async def create_lead(request: Request, body: LeadCreate) -> Response:
    workflows = workflows_of(request)

    async def work(db: asyncpg.Pool) -> Response:
        fields = body.model_dump(mode="python", exclude={"pipeline"})
        row = await service.create_lead(db, workflows, fields=fields, pipeline=body.pipeline)
        return _lead_response(row, 201, Location=f"/v1/leads/{row['id']}")

    return await idempotent(request, work)


@router.get(
    "",
    response_model=LeadsPage,
    summary="List leads",
    description="Newest first, filtered, in pages: pass `next_cursor` back as `cursor` until it "
    "is null. `revisit_due=true` gives the nurture queue: closed leads whose `revisit_at` has "
    "come; `stale=true` the deals left too long where they are.",
    responses=p.responses(p.BAD_CURSOR, p.UNKNOWN_STATUS, p.VALIDATION),
)
@requires(KeyScope.LEADS_READ)
async def list_leads(
    request: Request,
    pipeline: Annotated[PipelineName | None, Query()] = None,
    status: Annotated[
        list[ReasonCode] | None,
        Query(description="Status keys; repeat for several.", examples=[["qualified"]]),
    ] = None,
    owner: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, examples=["alex.romero"])
    ] = None,
    source: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    segment: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    created_after: Annotated[FilterInstant | None, Query(description="Inclusive.")] = None,
    created_before: Annotated[FilterInstant | None, Query(description="Exclusive.")] = None,
    revisit_due: Annotated[bool, Query(description="Only the nurture queue.")] = False,
    stale: Annotated[
        bool,
        Query(
            description="Only stale leads: open ones that have sat in their status (since "
            "`status_since`) longer than the status's `stale_after_days` in their pipeline."
        ),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    where = LeadFilter(
        pipeline=pipeline,
        statuses=status or (),
        owner=owner,
        source=source,
        segment=segment,
        created_after=created_after,
        created_before=created_before,
        revisit_due_at=service.utc_now() if revisit_due else None,
        stale_at=service.utc_now() if stale else None,
    )
    before = _decode_cursor(cursor) if cursor else None
    rows, last = await service.list_leads(
        read_pool(request), where=where, before_id=before, limit=limit
    )
    page = {
        "items": [dict(r) for r in rows],
        "next_cursor": _encode_cursor(last) if last is not None else None,
    }
    return Response(to_json(page), media_type=JSON)


@router.get(
    "/{lead_id}",
    response_model=LeadPublic,
    summary="Read a lead",
    description="The lead with its current status; the `ETag` header carries its version.",
    responses={**THE_LEAD, **p.responses(p.LEAD_NOT_FOUND, p.VALIDATION)},
)
@requires(KeyScope.LEADS_READ)
async def get_lead(request: Request, lead_id: LeadId) -> Response:
    return _lead_response(await service.get_lead(primary_pool(request), lead_id=lead_id))


@router.patch(
    "/{lead_id}",
    response_model=LeadPublic,
    summary="Change a lead's descriptive fields",
    description="Owner, company, contact details and the like. A field sent as null is cleared. "
    "The status never changes here (use transitions or reopen). Honors `If-Match`.",
    openapi_extra=documented_headers(IF_MATCH),
    responses={
        **THE_LEAD,
        **p.responses(
            p.LEAD_NOT_FOUND,
            p.DUPLICATE_OPEN_LEAD,
            p.STALE_VERSION,
            p.BAD_PRECONDITION,
            p.VALIDATION,
        ),
    },
)
@requires(KeyScope.LEADS_WRITE)
async def update_lead(request: Request, lead_id: LeadId, body: LeadUpdate) -> Response:
    changes = body.model_dump(mode="python", exclude_unset=True)
    row = await service.update_lead(
        primary_pool(request),
        lead_id=lead_id,
        changes=changes,
        if_match=if_match(request),
    )
    return _lead_response(row)


@router.post(
    "/{lead_id}/transitions",
    response_model=LeadPublic,
    summary="Move a lead to another status",
    description="Applies one move of the workflow with a standardized reason. A move the "
    "workflow does not have is 409 with `allowed_targets`; a reason that is not the target's, "
    "or a missing required field (`competitor`, a note for `other`, a future `revisit_at` for "
    "`recycled`), is 422. With `If-Match`, a stale version is 412.",
    openapi_extra=documented_headers(IF_MATCH, IDEMPOTENCY_KEY),
    responses={
        **THE_LEAD,
        **p.responses(
            p.LEAD_NOT_FOUND,
            p.TRANSITION_NOT_ALLOWED,
            p.CONCURRENT_CHANGE,
            p.STALE_VERSION,
            p.BAD_PRECONDITION,
            p.INVALID_STATUS_CHANGE,
            p.UNKNOWN_STATUS,
            p.VALIDATION,
            *p.IDEMPOTENCY,
        ),
    },
)
@requires(KeyScope.LEADS_WRITE)
async def transition_lead(
    request: Request,
    lead_id: LeadId,
    body: TransitionRequest,
) -> Response:
    version = if_match(request)
    api_key = key_name(request)

    workflows = workflows_of(request)

    async def change(db: asyncpg.Pool, on_recorded: OnRecorded) -> LeadRecord:
        return await service.transition_lead(
            db,
            workflows,
            lead_id=lead_id,
            to=body.to,
            reason=body.reason,
            details=_details(body),
            if_match=version,
            api_key=api_key,
            on_recorded=on_recorded,
        )

    return await _status_changed(request, change)


@router.post(
    "/{lead_id}/reopen",
    response_model=LeadPublic,
    summary="Reopen a closed deal",
    description="Brings a lead in a status whose outcome is `lost`, `no_decision` or `recycled` "
    "back to one of its pipeline's reopen targets (default: the open status it held when it "
    "closed, else the first reopen target: `contacted` in `default`), with a reopen reason. "
    "Counts the reopening, clears `revisit_at` and keeps the whole history. Any other status "
    "is 409.",
    openapi_extra=documented_headers(IF_MATCH, IDEMPOTENCY_KEY),
    responses={
        **THE_LEAD,
        **p.responses(
            p.LEAD_NOT_FOUND,
            p.NOT_REOPENABLE,
            p.CONCURRENT_CHANGE,
            p.STALE_VERSION,
            p.BAD_PRECONDITION,
            p.INVALID_STATUS_CHANGE,
            p.UNKNOWN_STATUS,
            p.VALIDATION,
            *p.IDEMPOTENCY,
        ),
    },
)
@requires(KeyScope.LEADS_REOPEN)
async def reopen_lead(
    request: Request,
    lead_id: LeadId,
    body: Annotated[ReopenRequest, Body()],
) -> Response:
    version = if_match(request)
    api_key = key_name(request)

    workflows = workflows_of(request)

    async def change(db: asyncpg.Pool, on_recorded: OnRecorded) -> LeadRecord:
        return await service.reopen_lead(
            db,
            workflows,
            lead_id=lead_id,
            reason=body.reason,
            to=body.to,
            details=_details(body),
            if_match=version,
            api_key=api_key,
            on_recorded=on_recorded,
        )

    return await _status_changed(request, change)


@router.get(
    "/{lead_id}/history",
    response_model=list[StatusChangePublic],
    summary="A lead's status history",
    description="Every status change, oldest first, reopenings marked. Replaying it from `new` "
    "gives the current status.",
    responses=p.responses(p.LEAD_NOT_FOUND, p.VALIDATION),
)
@requires(KeyScope.LEADS_READ)
async def get_lead_history(
    request: Request,
    lead_id: LeadId,
    api_key: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=NO_NUL,
            description="Only changes made with this API key (its name).",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        Query(
            max_length=200, pattern=NO_NUL, description="Only changes made on behalf of this actor."
        ),
    ] = None,
) -> list[StatusChangePublic]:
    rows = await service.lead_history(
        primary_pool(request), lead_id=lead_id, api_key=api_key, actor=actor
    )
    return [StatusChangePublic.model_validate(dict(r)) for r in rows]
