"""What a sender is answered, as the OpenAPI document describes it.

Answers are written straight from the delivery's stored answer (a redelivery gets those very
bytes back); these models exist so that a client, and its generated code, knows every field.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.intake.domain import IntakeOutcome


class IntakeAnswer(BaseModel):
    """What became of one event of a delivery."""

    event_id: str = Field(
        description="The event's id: the sender's own where it gives one (`webhook-id`, "
        "HubSpot's `eventId`), else a hash of the body. A redelivery is answered the same.",
        examples=["msg_2mS9zZqYcXhR6sYw"],
    )
    delivery_id: int = Field(
        description="The delivery as stored, kept so `leadstatus intake replay` can read it again."
    )
    outcome: IntakeOutcome
    lead_id: int | None = Field(
        description="The lead created, touched, reopened or linked; null when the event "
        "created none (`awaiting_email`, `ignored`)."
    )
    previous_lead_id: int | None = Field(
        default=None,
        description="For `linked`: the same person's earlier lead (won, disqualified or dead).",
    )


class IntakeBatchAnswer(BaseModel):
    """A batched delivery's answer (HubSpot posts a list of events): one answer per event."""

    events: list[IntakeAnswer]


class IntakeUrlCheck(BaseModel):
    """A sender's URL check passed (Mailchimp checks a webhook URL before saving it)."""

    source: str = Field(examples=["mailchimp-news"])
