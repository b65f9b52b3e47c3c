"""The events as the OpenAPI document describes them. Answers are built by `envelope`; these
models exist so a client (and its generated code) knows every field."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.events.domain import EventType
from app.leads.schemas import LeadPublic
from app.pipelines.workflow import Outcome
from app.platform.http.fields import Amount


class EventData(BaseModel):
    """What happened. Every lead event has `lead`; the rest depends on `type`."""

    model_config = ConfigDict(populate_by_name=True)

    lead: LeadPublic | None = Field(
        default=None, description="The lead as it stands right after the change (lead events)."
    )
    change_id: int | None = Field(
        default=None, description="lead.status_changed: the history row of the change."
    )
    from_status: str | None = Field(
        default=None,
        serialization_alias="from",
        validation_alias="from",
        description="lead.status_changed: the status the lead left.",
    )
    to_status: str | None = Field(
        default=None,
        serialization_alias="to",
        validation_alias="to",
        description="lead.status_changed: the status the lead entered.",
    )
    status: str | None = Field(default=None, description="lead.stale: the status it sits in.")
    status_since: datetime | None = Field(
        default=None, description="lead.stale: when it entered that status."
    )
    stale_after_days: int | None = Field(
        default=None, description="lead.stale: the status's staleness, in days."
    )
    stale_at: datetime | None = Field(
        default=None, description="lead.stale: when the stay passed it."
    )
    from_outcome: Outcome | None = None
    to_outcome: Outcome | None = None
    reason: str | None = Field(default=None, description="lead.status_changed: the reason code.")
    reopened: bool | None = Field(
        default=None, description="lead.status_changed: whether the change was a reopening."
    )
    note: str | None = None
    competitor: str | None = None
    revisit_at: datetime | None = Field(
        default=None,
        description="lead.status_changed: when to revisit; lead.revisit_due: the time that came.",
    )
    future_opportunity: bool | None = None
    actor: str | None = Field(default=None, description="Who made the change.")
    api_key: str | None = Field(default=None, description="The API key's name it was made with.")
    owner: str | None = None
    source: str | None = None
    segment: str | None = None
    estimated_value: Amount | None = Field(
        default=None,
        description="lead.status_changed: the deal's value when the change was made (what "
        "revenue counts it at), as a decimal string.",
    )
    currency: str | None = Field(
        default=None, description="lead.status_changed: the currency of `estimated_value`."
    )
    probability: float | None = Field(
        default=None, description="lead.status_changed: the deal's own probability then."
    )
    expected_close_date: date | None = Field(
        default=None, description="lead.status_changed: the deal's expected close date then."
    )
    at: datetime | None = Field(default=None, description="lead.status_changed: when it happened.")
    pipeline_version: int | None = Field(
        default=None, description="lead.status_changed: the version the change was decided under."
    )
    changed: list[str] | None = Field(
        default=None, description="lead.updated: the fields whose values changed."
    )
    previous: dict[str, Any] | None = Field(
        default=None, description="lead.updated: those fields' values before the change."
    )
    version: int | None = Field(default=None, description="pipeline.changed: the new version.")
    created_by: str | None = Field(default=None, description="pipeline.changed: who applied it.")
    changes: list[str] | None = Field(
        default=None, description="pipeline.changed: what the version changed, in words."
    )
    remap: dict[str, str] | None = Field(
        default=None, description="pipeline.changed: removed statuses and where leads moved."
    )


class Event(BaseModel):
    id: str = Field(
        description="Unique and stable: the Standard Webhooks `webhook-id` too.",
        examples=["evt_1042"],
    )
    type: EventType
    occurred_at: datetime = Field(description="When the change was recorded.")
    lead_id: int | None = Field(description="The lead (null for pipeline events).")
    sequence: int | None = Field(
        description="For lead events, the lead's version after the change: a lead's changes "
        "number 1, 2, 3, ... without gaps, so a consumer orders them and notices one missing "
        "(lead.revisit_due and lead.stale repeat the number of the change they follow). For "
        "pipeline.changed, "
        "the pipeline's version."
    )
    pipeline: str | None
    data: EventData


class EventsPage(BaseModel):
    events: list[Event] = Field(description="In the log's order.")
    next: str | None = Field(
        description="Pass as `after` to read on: the last event of this page, or the `after` "
        "you sent when nothing new has settled yet (null only when the log is empty)."
    )
    more: bool = Field(description="True when the page is full: read again at once.")
