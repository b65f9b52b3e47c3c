"""What an event is, as plain values: its types, its public id and what a reader asks for.

An event's public id is `evt_` and its number in the log; the number says nothing about order
(the log is ordered by the writing transaction first, see migration 0017), only the log's
order and a lead's `sequence` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventType(StrEnum):
    LEAD_CREATED = "lead.created"
    LEAD_STATUS_CHANGED = "lead.status_changed"
    LEAD_UPDATED = "lead.updated"
    LEAD_REVISIT_DUE = "lead.revisit_due"
    LEAD_STALE = "lead.stale"
    PIPELINE_CHANGED = "pipeline.changed"


MEANING: dict[EventType, str] = {
    EventType.LEAD_CREATED: "a lead was created (through the API, a batch import or intake)",
    EventType.LEAD_STATUS_CHANGED: "a lead's status changed: a transition, a reopening, or a "
    "pipeline edit's remap",
    EventType.LEAD_UPDATED: "a lead's descriptive fields were edited; `changed` names them",
    EventType.LEAD_REVISIT_DUE: "a recycled or lost lead's `revisit_at` has come",
    EventType.LEAD_STALE: "an open lead has sat in its status longer than the status's "
    "`stale_after_days` (once per stay)",
    EventType.PIPELINE_CHANGED: "a new version of a pipeline was applied",
}


ID_PREFIX = "evt_"
MAX_NUMBER = 2**63 - 1


def event_id(number: int) -> str:
    return f"{ID_PREFIX}{number}"


def event_number(public_id: str) -> int | None:
    """The log number of `public_id`, or None when it is not an id the log hands out."""
    digits = public_id.removeprefix(ID_PREFIX)
    if digits == public_id or not digits.isascii() or not digits.isdigit():
        return None
    number = int(digits)
    return number if 1 <= number <= MAX_NUMBER else None


@dataclass(frozen=True)
class EventFilter:
    """Which events a reader wants; empty fields filter nothing."""

    types: tuple[EventType, ...] = ()
    lead_id: int | None = None
    pipeline: str | None = None
