"""Webhook endpoints and deliveries as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.events.domain import EventType
from app.pipelines.schemas import PipelineName
from app.platform.http.fields import NO_NUL
from app.webhooks.domain import DeliveryState

Url = Annotated[
    str,
    StringConstraints(max_length=2000, pattern=NO_NUL),
    Field(
        description="Where events are POSTed: http(s) to a public address, or to a network "
        "listed in LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS. Redirects are not followed.",
        examples=["https://billing.example.com/hooks/leadstatus"],
    ),
]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://billing.example.com/hooks/leadstatus",
                    "event_types": ["lead.status_changed"],
                    "description": "Provision accounts for won deals",
                }
            ]
        },
    )

    url: Url
    event_types: list[EventType] = Field(
        default_factory=list, description="The types it receives; empty: every type."
    )
    pipeline: PipelineName | None = Field(
        default=None, description="Only this pipeline's events; null: every pipeline."
    )
    description: str | None = Field(default=None, max_length=500, pattern=NO_NUL)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": True}]})

    url: Url | None = None
    event_types: list[EventType] | None = None
    pipeline: PipelineName | None = None
    description: str | None = Field(default=None, max_length=500, pattern=NO_NUL)
    enabled: bool | None = Field(
        default=None,
        description="false pauses deliveries (events keep being queued); true resumes them "
        "and delivers everything missed meanwhile.",
    )


class WebhookPublic(BaseModel):
    id: int
    url: str
    event_types: list[EventType] = Field(description="Empty: every type.")
    pipeline: str | None
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(description="Why it was disabled (410, failing, API).")
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="The first failed attempt since the last success; after 5 days of failing "
        "the endpoint is disabled."
    )
    previous_secret_until: datetime | None = Field(
        description="Until when the secret a rotation replaced still signs beside the new one."
    )
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookPublic):
    secret: str = Field(
        description="The Standard Webhooks signing secret (`whsec_...`): shown only now.",
    )


class AttemptPublic(BaseModel):
    at: datetime
    status: int | None = Field(description="The HTTP status answered; null: no answer.")
    duration_ms: int
    error: str | None


class DeliveryPublic(BaseModel):
    id: int
    event_id: str
    event_type: EventType | None = Field(description="Null once the log no longer keeps it.")
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None = Field(description="While pending: the next try.")
    created_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None
    last_duration_ms: int | None
    tries: list[AttemptPublic] = Field(description="Every attempt, oldest first.")


class DeliveriesPage(BaseModel):
    items: list[DeliveryPublic] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` for older ones; null: done.")


class ResendRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"event_id": "evt_1042"}]}
    )

    event_id: str = Field(max_length=30, examples=["evt_1042"])


class Queued(BaseModel):
    queued: int = Field(description="Deliveries queued.")


class Resent(BaseModel):
    delivery_id: int
