"""HTTP for bulk imports: up to 1,000 leads in one call, each validated and answered on its own.

A bad item is rejected with its problem while the others are created: an import never fails
whole because of one row, and never half-succeeds without saying which half.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from app.access.domain import KeyScope
from app.access.http import KeyedRoute, requires
from app.idempotency.http import IDEMPOTENCY_KEY, idempotent
from app.leads import service
from app.leads.schemas import LeadCreate, LeadsBatchResult
from app.pipelines.http import workflows_of
from app.platform.errors import InvalidPayload, MalformedBody, PipelineNotFound
from app.platform.http import problem_types as p
from app.platform.http.problems import problem_body, validation_errors
from app.platform.http.requests import documented_headers

MAX_BATCH = 1000

router = APIRouter(
    tags=["leads"],
    route_class=KeyedRoute,
    responses=p.responses(*p.KEYED, p.UNAVAILABLE, p.QUERY_TIMEOUT, p.INTERNAL),
)


def _rejected(index: int, invalid: ValidationError) -> dict[str, Any]:
    detail, errors = validation_errors(invalid.errors())
    problem = problem_body(p.VALIDATION, detail, errors=errors)
    return {"index": index, "result": "rejected", "problem": problem}


async def _items(request: Request) -> list[Any]:
    # The body's size is bounded before it gets here (platform.http.limits: four times the usual).
    body = await request.body()
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedBody("The body is not valid JSON.") from None
    leads = document.get("leads") if isinstance(document, dict) else None
    if not isinstance(leads, list) or not 1 <= len(leads) <= MAX_BATCH:
        raise InvalidPayload(
            f'The body must be {{"leads": [...]}} with 1 to {MAX_BATCH} leads.', field="leads"
        )
    return leads


@router.post(
    "/v1/leads:batch",
    summary="Create up to 1,000 leads at once",
    description="Each lead is validated on its own, exactly as `POST /v1/leads` would: valid "
    "ones are created in one statement, the rest answered with their problem. A lead whose "
    "email has an open lead already (in the database or earlier in the same batch) is a "
    "`duplicate` naming that lead. `items` follow the input order.",
    openapi_extra={
        **documented_headers(IDEMPOTENCY_KEY),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["leads"],
                        "properties": {
                            "leads": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/LeadCreate"},
                                "minItems": 1,
                                "maxItems": MAX_BATCH,
                            }
                        },
                    },
                    "example": {
                        "leads": [
                            {"email": "ann@initech.example", "company": "Initech"},
                            {"email": "raj@globex.example", "owner": "sam.okafor"},
                        ]
                    },
                }
            },
        },
    },
    response_model=LeadsBatchResult,
    responses=p.responses(p.MALFORMED_BODY, p.INVALID_PAYLOAD, *p.IDEMPOTENCY),
)
@requires(KeyScope.LEADS_WRITE)
async def create_leads_batch(request: Request) -> Response:
    items = await _items(request)
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
    return Response(orjson.dumps(content), media_type="application/json")


def _conflict() -> dict[str, Any]:
    return problem_body(
        p.CONCURRENT_CHANGE, "Open leads with this email kept changing; send this lead again."
    )
