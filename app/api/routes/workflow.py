"""The workflow as data, for apps that render the standardized status and reason dropdowns."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.auth import KeyedRoute, requires
from app.api.problems import INTERNAL, KEYED, responses
from app.api.schemas import ReasonPublic, StatusPublic, TargetPublic, WorkflowPublic
from app.domain.access import Scope
from app.domain.status import (
    CATEGORY,
    DESCRIPTION,
    REASONS,
    REOPEN_RULE,
    REOPEN_TARGETS,
    REOPENABLE,
    TRANSITIONS,
    LeadStatus,
    TargetRule,
)

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


WORKFLOW = WorkflowPublic(
    initial_status=LeadStatus.NEW,
    statuses=[
        StatusPublic(
            name=s,
            category=CATEGORY[s],
            description=DESCRIPTION[s],
            allowed_targets=sorted(TRANSITIONS[s], key=list(LeadStatus).index),
            reopen_targets=sorted(REOPEN_TARGETS, key=list(LeadStatus).index)
            if s in REOPENABLE
            else [],
        )
        for s in LeadStatus
    ],
    targets={to: _target(rule) for to, rule in REASONS.items()},
    reopen=_target(REOPEN_RULE),
)


@router.get("/v1/workflow", response_model=WorkflowPublic)
@requires(Scope.LEADS_READ)
async def get_workflow() -> WorkflowPublic:
    """The statuses, allowed moves and reason codes."""
    return WORKFLOW
