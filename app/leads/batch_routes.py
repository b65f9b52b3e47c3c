"""HTTP for bulk work: up to 1,000 leads created, or 1,000 status changes made, in one call,
each item validated and answered on its own.

A bad item is rejected with its problem while the others go through: an import or a pipeline
cleanup never fails whole because of one row, and never half-succeeds without saying which half.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from app.access.domain import KeyScope
from app.access.http import KeyedRoute, key_name, requires
from app.idempotency.http import IDEMPOTENCY_KEY, idempotent
from app.leads import service
from app.leads.domain import ChangeDetails, LeadRecord, StatusChange
from app.leads.schemas import (
    LeadCreate,
    LeadsBatchResult,
    LeadTransitionItem,
    TransitionBatchResult,
)
from app.pipelines.http import workflows_of
from app.platform.errors import InvalidPayload, MalformedBody, PipelineNotFound, ServiceError
from app.platform.http import problem_types as p
from app.platform.http.problem_types import problem_type_of
from app.platform.http.problems import problem_body, validation_errors
from app.platform.http.requests import documented_headers, strict_json
from app.platform.observability.metrics import instruments_of
from app.platform.wire import to_json

MAX_BATCH = 1000

router = APIRouter(
    tags=["leads"],
    route_class=KeyedRoute,
    responses=p.responses(*p.KEYED, p.UNAVAILABLE, p.QUERY_TIMEOUT, p.INTERNAL),
)


def _rejected(index: int, invalid: ValidationError) -> dict[str, Any]:
    detail, facts = validation_errors(invalid.errors())
    problem = problem_body(p.VALIDATION, detail, **facts)
    return {"index": index, "result": "rejected", "problem": problem}


async def _items(request: Request, member: str) -> list[Any]:
    # The body's size is bounded before it gets here (platform.http.limits: four times the usual).
    body = await request.body()
    try:
        document = strict_json(body)
    except json.JSONDecodeError:
        raise MalformedBody("The body is not valid JSON.") from None
    items = document.get(member) if isinstance(document, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise InvalidPayload(
            f'The body must be {{"{member}": [...]}} with 1 to {MAX_BATCH} {member}.',
            field=member,
        )
    return items


def _batch_body(
    title: str, member: str, item: dict[str, Any], example: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "title": title,
                    "type": "object",
                    "required": [member],
                    "properties": {
                        member: {
                            "type": "array",
                            # Each item is validated on its own: one that is not `item` is
                            # answered `rejected` with its problem, and the rest go through.
                            "items": {
                                "anyOf": [
                                    item,
                                    {
                                        "description": "Any other value is accepted into the "
                                        "batch and answered in `items` as `rejected`, with the "
                                        "problem it has; the other items go through."
                                    },
                                ]
                            },
                            "minItems": 1,
                            "maxItems": MAX_BATCH,
                        }
                    },
                },
                "example": {member: example},
            }
        },
    }


@router.post(
    "/v1/leads:batch",
    summary="Create up to 1,000 leads at once",
    description="Each lead is validated on its own, exactly as `POST /v1/leads` would: valid "
    "ones are created in one statement, the rest answered with their problem. A lead whose "
    "email has an open lead already (in the database or earlier in the same batch) is a "
    "`duplicate` naming that lead. `items` follow the input order.",
    openapi_extra={
        **documented_headers(IDEMPOTENCY_KEY),
        "requestBody": _batch_body(
            "LeadsBatch",
            "leads",
            {"$ref": "#/components/schemas/LeadCreate"},
            [
                {"email": "ann@initech.example", "company": "Initech"},
                {"email": "raj@globex.example", "owner": "sam.okafor"},
            ],
        ),
    },
    response_model=LeadsBatchResult,
    responses=p.responses(p.MALFORMED_BODY, p.INVALID_PAYLOAD, *p.IDEMPOTENCY),
)
@requires(KeyScope.LEADS_WRITE)
async def create_leads_batch(request: Request) -> Response:
    items = await _items(request, "leads")
    answers: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, LeadCreate.model_validate(item).model_dump()))
        except ValidationError as invalid:
            answers[index] = _rejected(index, invalid)

    workflows = workflows_of(request)

    async def work(db: asyncpg.Pool) -> Response:
        # One insert per pipeline named in the batch (usually one), answers in input order.
        by_pipeline: dict[str, list[int]] = {}
        for position, (_, lead) in enumerate(valid):
            by_pipeline.setdefault(lead["pipeline"], []).append(position)
        outcomes: list[tuple[str, int | None]] = [("conflict", None)] * len(valid)
        for pipeline, positions in by_pipeline.items():
            try:
                leads = [_without_pipeline(valid[i][1]) for i in positions]
                results = await service.create_leads(db, workflows, leads=leads, pipeline=pipeline)
            except PipelineNotFound:
                results = [("unknown_pipeline", None)] * len(positions)
            for i, result in zip(positions, results, strict=True):
                outcomes[i] = result
        return _answer(answers, valid, outcomes)

    return await idempotent(request, work)


def _without_pipeline(lead: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in lead.items() if name != "pipeline"}


def _answer(
    answers: list[dict[str, Any] | None],
    valid: list[tuple[int, dict[str, Any]]],
    outcomes: list[tuple[str, int | None]],
) -> Response:
    answers = list(answers)
    for (index, lead), (result, lead_id) in zip(valid, outcomes, strict=True):
        if result == "created":
            answers[index] = {"index": index, "result": "created", "id": lead_id}
        elif result == "duplicate":
            answers[index] = {"index": index, "result": "duplicate", "existing_lead_id": lead_id}
        elif result == "unknown_pipeline":
            pipeline = lead["pipeline"]
            problem = problem_body(
                p.PIPELINE_NOT_FOUND, f"No pipeline is named '{pipeline}'.", pipeline=pipeline
            )
            answers[index] = {"index": index, "result": "rejected", "problem": problem}
        else:
            answers[index] = {"index": index, "result": "rejected", "problem": _conflict()}
    tally = {"created": 0, "duplicate": 0, "rejected": 0}
    for answer in answers:
        assert answer is not None
        tally[answer["result"]] += 1
    content = {
        "created": tally["created"],
        "duplicates": tally["duplicate"],
        "rejected": tally["rejected"],
        "items": answers,
    }
    return Response(to_json(content), media_type="application/json")


def _conflict() -> dict[str, Any]:
    return problem_body(
        p.CONCURRENT_CHANGE, "Open leads with this email kept changing; send this lead again."
    )


@router.post(
    "/v1/leads:batch-transition",
    summary="Change the status of up to 1,000 leads at once",
    description="How a pipeline is cleaned up: each item is a move as `POST "
    "/v1/leads/{id}/transitions` takes it, plus the `lead_id` (and optionally the `version` it "
    "was read at). Items are decided one after another, each on its own, with the same rules and "
    "the same problems as a single move; a refused item changes nothing and the others go "
    "through. `items` follow the input order. The call is one transaction: should it fail as a "
    "whole (503, 500), no item was applied.",
    openapi_extra={
        **documented_headers(IDEMPOTENCY_KEY),
        "requestBody": _batch_body(
            "TransitionsBatch",
            "changes",
            LeadTransitionItem.model_json_schema(ref_template="#/components/schemas/{model}"),
            [
                {"lead_id": 1208, "to": "no_decision", "reason": "unresponsive"},
                {"lead_id": 977, "to": "lost", "reason": "competitor", "competitor": "Globex"},
            ],
        ),
    },
    response_model=TransitionBatchResult,
    responses=p.responses(p.MALFORMED_BODY, p.INVALID_PAYLOAD, *p.IDEMPOTENCY),
)
@requires(KeyScope.LEADS_WRITE)
async def transition_leads_batch(request: Request) -> Response:
    items = await _items(request, "changes")
    answers: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[tuple[int, service.RequestedTransition]] = []
    for index, item in enumerate(items):
        try:
            move = LeadTransitionItem.model_validate(item)
        except ValidationError as invalid:
            answers[index] = _rejected(index, invalid) | {"lead_id": _lead_id_of(item)}
            continue
        details = move.model_dump(exclude={"to", "reason", "lead_id", "version"})
        valid.append(
            (
                index,
                service.RequestedTransition(
                    move.lead_id, move.to, move.reason, ChangeDetails(**details), move.version
                ),
            )
        )
    workflows = workflows_of(request)
    api_key = key_name(request)
    recorded: list[StatusChange] = []

    async def work(db: asyncpg.Pool) -> Response:
        results = await service.transition_leads(
            db,
            workflows,
            requested=[move for _, move in valid],
            api_key=api_key,
            on_recorded=recorded.append,
        )
        for (index, move), result in zip(valid, results, strict=True):
            answers[index] = _moved(index, move.lead_id, result)
        return _tallied(answers)

    response = await idempotent(request, work)
    instruments = instruments_of(request)
    for change in recorded:
        instruments.count_status_change(change)
    return response


def _lead_id_of(item: object) -> int | None:
    lead_id = item.get("lead_id") if isinstance(item, dict) else None
    return lead_id if isinstance(lead_id, int) and not isinstance(lead_id, bool) else None


def _moved(index: int, lead_id: int, result: LeadRecord | ServiceError) -> dict[str, Any]:
    if isinstance(result, ServiceError):
        kind = problem_type_of(result)
        if kind is None:
            raise result
        problem = problem_body(kind, result.detail, **result.facts)
        return {"index": index, "result": "rejected", "lead_id": lead_id, "problem": problem}
    return {
        "index": index,
        "result": "changed",
        "lead_id": lead_id,
        "status": result["status"],
        "version": result["version"],
    }


def _tallied(answers: list[dict[str, Any] | None]) -> Response:
    tally = {"changed": 0, "rejected": 0}
    for answer in answers:
        assert answer is not None
        tally[answer["result"]] += 1
    content = {**tally, "items": answers}
    return Response(to_json(content), media_type="application/json")
