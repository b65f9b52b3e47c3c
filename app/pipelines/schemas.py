"""Request and response models of the pipelines and the workflow they make, and the forms of
the keys (statuses, reasons, pipeline names) every request model that names one uses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from app.pipelines.definition import KEY_PATTERN
from app.pipelines.workflow import Category, ExtraField, ForecastCategory, Outcome

KEY = KEY_PATTERN.pattern
StatusKey = Annotated[
    str,
    StringConstraints(max_length=63, pattern=KEY),
    Field(
        description="A status key of the lead's pipeline (`GET /v1/pipelines/{name}` lists them; "
        "the `default` pipeline's are new, contacted, qualified, negotiating, won, lost, "
        "no_decision, recycled, disqualified, dead).",
        examples=["qualified"],
    ),
]
"""Statuses are the customer's, defined per pipeline: the document describes the key's form and
gives the default pipeline's as examples instead of an enum it could not keep true."""
ReasonCode = Annotated[str, StringConstraints(max_length=63, pattern=KEY)]
PipelineName = Annotated[
    str,
    StringConstraints(max_length=63, pattern=KEY),
    Field(description="A pipeline's name (`GET /v1/pipelines` lists them).", examples=["default"]),
]


class ReasonPublic(BaseModel):
    code: str
    label: str
    requires: list[ExtraField]


class TargetPublic(BaseModel):
    reasons: list[ReasonPublic]
    accepts: list[ExtraField] = Field(description="Extra fields a change to this target takes.")


class StatusPublic(BaseModel):
    name: str = Field(description="The status key.")
    label: str
    outcome: Outcome
    category: Category = Field(description="open, closed (reopenable) or terminal.")
    description: str | None
    probability: float | None = Field(
        description="Chance of winning from here, 0..1, as the pipeline sets it (null: the "
        "forecast uses the rate measured from the history)."
    )
    stale_after_days: int | None = Field(
        description="A lead here longer than this many days is stale (null: never)."
    )
    forecast_category: ForecastCategory | None = Field(
        description="Open statuses: where their deals go in the forecast (`pipeline` unless "
        "the definition says otherwise); null for closed statuses."
    )
    auto_close_after_days: int | None = Field(
        description="A lead here this many days is closed to `auto_close_to` with reason "
        "`stale` by the service (null: never)."
    )
    auto_close_to: str | None = Field(description="Where automatic closings go.")
    archived: bool = Field(description="Kept for the leads in it; no move leads into it.")
    allowed_targets: list[str]
    reopen_targets: list[str] = Field(description="Non-empty for reopenable statuses.")


class WorkflowPublic(BaseModel):
    pipeline: str
    version: int
    initial_status: str
    statuses: list[StatusPublic]
    targets: dict[str, TargetPublic] = Field(description="Reason codes per target status.")
    reopen: TargetPublic | None


class PipelineVersionPublic(BaseModel):
    name: str
    version: int
    current_version: int
    created_at: datetime
    created_by: str | None = Field(description="The API key (or `cli`) that made the version.")
    changes: list[str] = Field(description="What this version changed from the one before.")
    remap: dict[str, str] = Field(description="Removed status -> where its leads were moved.")


class PipelinePublic(PipelineVersionPublic):
    definition: dict[str, Any] = Field(
        description="The definition document (statuses, transitions, reopen_targets, reasons)."
    )
    workflow: WorkflowPublic = Field(description="The definition as the workflow it makes.")


class PipelineSummary(BaseModel):
    name: str
    version: int = Field(description="The current version.")
    label: str | None
    statuses: list[str]
    leads: int = Field(description="Leads in this pipeline.")
    updated_at: datetime = Field(description="When the current version was made.")


class ViolationPublic(BaseModel):
    pointer: str = Field(description="A JSON pointer (RFC 6901) into the submitted document.")
    message: str


class PipelineReview(BaseModel):
    valid: bool
    version: int | None = Field(description="The version applying would create.")
    violations: list[ViolationPublic]
    changes: list[str]
    remap: dict[str, str]
    leads_to_remap: dict[str, int] = Field(description="Leads each remap would move.")
    stranded: dict[str, int] = Field(
        description="Removed statuses holding leads without a remap (applying would be 409)."
    )
