"""Where an event goes on NATS, as plain values: its subject and the id JetStream dedups by.

An event's subject is `<prefix>.<pipeline>.<type>`, say `leadstatus.default.lead.status_changed`,
so a consumer takes one pipeline (`leadstatus.partners.>`), one type in every pipeline
(`leadstatus.*.lead.status_changed`), or one of each. Every token is a plain NATS token:
pipeline names are `[a-z][a-z0-9_]*` (the database refuses others), and an event without a
pipeline goes under `_none`, which no pipeline can be called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.events.domain import event_id

NO_PIPELINE = "_none"
"""The subject token of an event that belongs to no pipeline."""
MESSAGE_ID = "Nats-Msg-Id"
"""The header JetStream drops repeats by, within the stream's duplicate window."""

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Message:
    subject: str
    message_id: str
    body: bytes


def subject(prefix: str, pipeline: str | None, event_type: str) -> str:
    """The subject of an event of `event_type` in `pipeline`; refuses a pipeline name that is no
    plain token rather than publish it where a consumer's filter would not expect it."""
    token = NO_PIPELINE if pipeline is None else pipeline
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"pipeline name {pipeline!r} is not a NATS subject token")
    return f"{prefix}.{token}.{event_type}"


def stream_subjects(prefix: str) -> list[str]:
    """What the stream takes: every subject under the prefix."""
    return [f"{prefix}.>"]


def message(
    prefix: str, number: int, pipeline: str | None, event_type: str, body: bytes
) -> Message:
    """Event `number` as a message: the envelope as its body, its public id as `Nats-Msg-Id`."""
    return Message(subject(prefix, pipeline, event_type), event_id(number), body)
