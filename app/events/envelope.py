"""An event as a consumer reads it, in the log (`GET /v1/events`) and in a webhook's body alike.

The log keeps the lead as the row it was; the query reading it makes it JSON (`events_lead()`),
with times in whatever time zone the reading session has, so they are read back and written as
every answer writes them.
The rest is shaped here too, once, for every way an event leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from app.events.domain import EventType, event_id

CHANGE_FIELDS: Mapping[str, str] = {
    "change_id": "change_id",
    "from_status": "from",
    "to_status": "to",
    "from_outcome": "from_outcome",
    "to_outcome": "to_outcome",
    "reason": "reason",
    "reopened": "reopened",
    "note": "note",
    "competitor": "competitor",
    "revisit_at": "revisit_at",
    "future_opportunity": "future_opportunity",
    "actor": "actor",
    "api_key": "api_key",
    "owner": "owner",
    "source": "source",
    "segment": "segment",
    "change_estimated_value": "estimated_value",
    "change_currency": "currency",
    "change_probability": "probability",
    "change_close_date": "expected_close_date",
    "at": "at",
    "change_pipeline_version": "pipeline_version",
}
"""A status change's columns (as the log's query names them) and their names in `data`: the
history's own names (`GET /v1/leads/{id}/history`)."""


LEAD_TIMES = ("revisit_at", "closed_at", "status_since", "created_at", "updated_at")
"""The lead's time columns (a test holds this to the table)."""


def _lead_times(values: dict[str, Any]) -> dict[str, Any]:
    for name in LEAD_TIMES:
        if isinstance(values.get(name), str):
            values[name] = datetime.fromisoformat(values[name]).astimezone(UTC)
    return values


def envelope(row: Mapping[str, Any]) -> dict[str, Any]:
    """The event of one row of the log's query (`EventRepository.page`)."""
    data: dict[str, Any] = orjson.loads(row["details"]) if row["details"] else {}
    if row["type"] == EventType.LEAD_STATUS_CHANGED:
        data.update({name: row[column] for column, name in CHANGE_FIELDS.items()})
    _lead_times(data)
    if "previous" in data:
        _lead_times(data["previous"])
    if row["lead"] is not None:
        data["lead"] = _lead_times(orjson.loads(row["lead"]))
    return {
        "id": event_id(row["id"]),
        "type": row["type"],
        "occurred_at": row["occurred_at"],
        "lead_id": row["lead_id"],
        "sequence": row["sequence"],
        "pipeline": row["pipeline"],
        "data": data,
    }
