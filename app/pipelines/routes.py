"""HTTP for pipelines: list, read a definition and its versions, check or apply a new one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request, Response

from app.access.domain import KeyScope
from app.access.http import KeyedRoute, key_name, requires
from app.pipelines import service
from app.pipelines.http import workflows_of
from app.pipelines.schemas import (
    PipelineName,
    PipelinePublic,
    PipelineReview,
    PipelineSummary,
    PipelineVersionPublic,
    ViolationPublic,
)
from app.pipelines.workflow_routes import workflow_public
from app.platform.errors import MalformedBody
from app.platform.http import problem_types as p
from app.platform.http.requests import (
    IF_MATCH,
    documented_headers,
    etag,
    if_match,
    primary_pool,
)
from app.platform.wire import to_json

Version = Annotated[int, Path(ge=1, le=2_147_483_647, description="A version number.")]

router = APIRouter(
    prefix="/v1/pipelines",
    route_class=KeyedRoute,
    tags=["pipelines"],
    # A name with `:` or `/` in it is no pipeline's, and matches no route here: 404.
    responses=p.responses(*p.KEYED, p.NOT_FOUND, p.UNAVAILABLE, p.INTERNAL),
)

EXAMPLE = {
    "label": "Partner deals",
    "initial": "sourced",
    "statuses": [
        {"key": "sourced", "label": "Sourced", "outcome": "open", "probability": 0.1},
        {"key": "engaged", "label": "Engaged", "outcome": "open", "stale_after_days": 30},
        {"key": "signed", "label": "Signed", "outcome": "won"},
        {"key": "passed", "label": "Passed", "outcome": "lost"},
    ],
    "transitions": {"sourced": ["engaged", "passed"], "engaged": ["signed", "passed"]},
    "reopen_targets": ["engaged"],
    "reasons": {
        "engaged": {"codes": [{"code": "intro_call", "label": "Intro call held"}]},
        "signed": {"codes": [{"code": "agreement_signed", "label": "Agreement signed"}]},
        "passed": {
            "codes": [
                {"code": "no_fit", "label": "No fit"},
                {"code": "other", "label": "Other", "requires": ["note"]},
            ]
        },
        "reopen": {"codes": [{"code": "new_contact", "label": "New contact"}]},
    },
}
_DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "title": "PipelineDefinition",
                    "type": "object",
                    "description": "A pipeline definition (see docs/workflow.md, Pipelines), "
                    "plus an optional `remap` (removed status -> status its leads move to).",
                    "required": ["initial", "statuses"],
                    "properties": {
                        "label": {"type": ["string", "null"]},
                        "description": {"type": ["string", "null"]},
                        "initial": {"type": "string"},
                        "statuses": {"type": "array", "items": {"type": "object"}},
                        "transitions": {"type": "object"},
                        "reopen_targets": {"type": "array", "items": {"type": "string"}},
                        "reasons": {"type": "object"},
                        "remap": {
                            "type": ["object", "null"],
                            "additionalProperties": {"type": "string"},
                            "description": "Null, or absent: nothing to remap.",
                        },
                    },
                },
                "example": EXAMPLE,
            }
        },
    }
}
_REVIEWED_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                # A dry run answers any JSON object with what is wrong in it: the definition's
                # shape is what it checks, not what it requires of a request.
                "schema": {
                    "description": "A pipeline definition as `PUT` takes it; any JSON body is "
                    "answered, with the violations it has (`valid: false`).",
                },
                "example": EXAMPLE,
            }
        },
    }
}


def _json(content: Any, status_code: int = 200, **headers: str) -> Response:
    return Response(
        to_json(content),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def _public(request: Request, row: Mapping[str, Any]) -> dict[str, Any]:
    workflows = workflows_of(request)
    workflow = workflows.remember(row["pipeline"], row["version"], row["definition"])
    return {
        **service.version_public(row),
        "definition": row["definition"],
        "workflow": workflow_public(workflow).model_dump(mode="json"),
    }


async def _document(request: Request) -> object:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as bad:
        raise MalformedBody(f"The body is not JSON: {bad.msg}.") from None


@router.get("", response_model=list[PipelineSummary], summary="List pipelines")
@requires(KeyScope.LEADS_READ)
async def list_pipelines(request: Request) -> Response:
    """Every pipeline with its current version."""
    rows = await service.list_pipelines(primary_pool(request))
    return _json(
        [
            {
                "name": r["pipeline"],
                "version": r["version"],
                "label": r["definition"].get("label"),
                "statuses": [s["key"] for s in r["definition"]["statuses"]],
                "leads": r["leads"],
                "updated_at": r["created_at"].isoformat(),
            }
            for r in rows
        ]
    )


@router.get(
    "/{name:segment}",
    response_model=PipelinePublic,
    summary="Read a pipeline's current definition",
    description="The current version's definition document and the workflow it makes; the "
    "`ETag` carries the version (send it as `If-Match` with a `PUT`).",
    responses=p.responses(p.PIPELINE_NOT_FOUND, p.VALIDATION),
)
@requires(KeyScope.LEADS_READ)
async def get_pipeline(request: Request, name: PipelineName) -> Response:
    row = await service.get_pipeline(primary_pool(request), name=name)
    return _json(_public(request, row), ETag=etag(row["version"]))


@router.put(
    "/{name:segment}",
    response_model=PipelinePublic,
    status_code=200,
    summary="Define a pipeline, or give it a new version",
    description="201 for a new pipeline, 200 for a new version (or the current one, when the "
    "definition is unchanged). Invalid definitions are 422 with every violation and its JSON "
    "pointer. Removing a status that leads are in needs `remap` (old -> new, same outcome; "
    "the leads move as recorded changes, reason `pipeline_remap`, actor `system`) or the "
    "status kept with `archived: true`: otherwise 409 naming how many leads. Past changes keep "
    "the version they were decided under. Honors `If-Match`.",
    openapi_extra={**_DOCUMENT_BODY, **documented_headers(IF_MATCH)},
    responses={
        201: {"model": PipelinePublic, "description": "A new pipeline, at version 1."},
        **p.responses(
            p.INVALID_PIPELINE,
            p.STATUSES_IN_USE,
            p.STALE_PIPELINE_VERSION,
            p.PIPELINE_NOT_FOUND,
            p.BAD_PRECONDITION,
            p.MALFORMED_BODY,
            p.VALIDATION,
        ),
    },
)
@requires(KeyScope.ADMIN)
async def put_pipeline(request: Request, name: PipelineName) -> Response:
    applied = await service.apply_pipeline(
        primary_pool(request),
        workflows_of(request),
        name=name,
        body=await _document(request),
        if_match=if_match(request),
        created_by=key_name(request),
    )
    status = 201 if applied.created_pipeline else 200
    return _json(_public(request, applied.record), status, ETag=etag(applied.record["version"]))


@router.post(
    "/{name:segment}:validate",
    response_model=PipelineReview,
    summary="Check a definition without applying it",
    description="A dry run of `PUT`: the violations (with JSON pointers), or the version it would "
    "make, what it changes and how many leads each remap would move. Always 200 for a JSON "
    "body; `valid` says whether a `PUT` would be accepted.",
    openapi_extra=_REVIEWED_BODY,
    responses=p.responses(p.MALFORMED_BODY, p.VALIDATION),
)
@requires(KeyScope.ADMIN)
async def validate_pipeline(request: Request, name: PipelineName) -> PipelineReview:
    review = await service.review_pipeline(
        primary_pool(request), name=name, body=await _document(request)
    )
    return PipelineReview(
        valid=review.valid,
        version=review.version,
        violations=[
            ViolationPublic(pointer=v.pointer, message=v.message) for v in review.violations
        ],
        changes=list(review.changes),
        remap=dict(review.remap),
        leads_to_remap=dict(review.leads_to_remap),
        stranded=dict(review.stranded),
    )


@router.get(
    "/{name:segment}/versions",
    response_model=list[PipelineVersionPublic],
    summary="A pipeline's versions",
    description="Oldest first: who made each (API key name), when, and what it changed.",
    responses=p.responses(p.PIPELINE_NOT_FOUND, p.VALIDATION),
)
@requires(KeyScope.LEADS_READ)
async def list_pipeline_versions(request: Request, name: PipelineName) -> Response:
    rows = await service.pipeline_versions(primary_pool(request), name=name)
    return _json([service.version_public(r) for r in rows])


@router.get(
    "/{name:segment}/versions/{version}",
    response_model=PipelinePublic,
    summary="One version of a pipeline",
    description="A past (or the current) version's definition and the workflow it made: what "
    "the changes recorded under that version were decided by.",
    responses=p.responses(p.PIPELINE_NOT_FOUND, p.VALIDATION),
)
@requires(KeyScope.LEADS_READ)
async def get_pipeline_version(request: Request, name: PipelineName, version: Version) -> Response:
    row = await service.get_pipeline(primary_pool(request), name=name, version=version)
    return _json(_public(request, row), ETag=etag(row["version"]))
