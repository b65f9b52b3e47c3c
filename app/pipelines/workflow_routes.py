"""The `default` pipeline's current workflow, for apps that render the status and reason dropdowns.

Kept as it was before pipelines existed (apps use it); `GET /v1/pipelines/{name}` serves any
pipeline's definition with its version.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.access.domain import KeyScope
from app.access.http import KeyedRoute, requires
from app.pipelines.default import DEFAULT_PIPELINE
from app.pipelines.http import workflows_of
from app.pipelines.schemas import ReasonPublic, StatusPublic, TargetPublic, WorkflowPublic
from app.pipelines.workflow import ForecastCategory, TargetRule, Workflow
from app.platform.http.problem_types import INTERNAL, KEYED, responses

router = APIRouter(
    tags=["workflow"],
    route_class=KeyedRoute,
    responses=responses(*KEYED, INTERNAL),
)


def _target(rule: TargetRule) -> TargetPublic:
    return TargetPublic(
        reasons=[
            ReasonPublic(code=r.code, label=r.label, requires=sorted(r.requires))
            for r in rule.reasons
        ],
        accepts=sorted(rule.accepted),
    )


def workflow_public(workflow: Workflow) -> WorkflowPublic:
    return WorkflowPublic(
        pipeline=workflow.pipeline,
        version=workflow.version,
        initial_status=workflow.initial,
        statuses=[
            StatusPublic(
                name=s.key,
                label=s.label,
                outcome=s.outcome,
                category=s.category,
                description=s.description,
                probability=s.probability,
                stale_after_days=s.stale_after_days,
                forecast_category=(
                    s.forecast_category or ForecastCategory.PIPELINE if s.is_open else None
                ),
                auto_close_after_days=s.auto_close_after_days,
                auto_close_to=workflow.auto_close_target(s.key),
                archived=s.archived,
                allowed_targets=list(workflow.allowed_targets(s.key)),
                reopen_targets=list(workflow.open_reopen_targets)
                if workflow.reopenable(s.key)
                else [],
            )
            for s in workflow.statuses
        ],
        targets={to: _target(rule) for to, rule in workflow.reasons.items()},
        reopen=_target(workflow.reopen) if workflow.reopen is not None else None,
    )


@router.get(
    "/v1/workflow",
    response_model=WorkflowPublic,
    summary="Read the default pipeline's workflow",
    description="The default pipeline's statuses, the moves allowed between them with the "
    "reason codes each accepts, and how a closed lead is reopened: what `POST "
    "/v1/leads/{id}/transitions` checks a change against. Other pipelines: `GET "
    "/v1/pipelines/{name}`.",
)
@requires(KeyScope.LEADS_READ)
async def get_workflow(request: Request) -> WorkflowPublic:
    """The default pipeline's statuses, allowed moves and reason codes."""
    return workflow_public(await workflows_of(request).refresh(DEFAULT_PIPELINE))
