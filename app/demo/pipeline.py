"""The default pipeline as a demo's sales-ops admin tunes it: win probabilities, staleness and
forecast categories per open status, so a new user sees a weighted pipeline, a forecast and
stale deals on the seeded history. Automatic closing stays off (it is a customer's choice)."""

from __future__ import annotations

import copy
from typing import Any

from app.pipelines.default import DEFAULT_DOCUMENT

DEMO_PROPERTIES: dict[str, dict[str, Any]] = {
    # A new lead should hear from a rep within a week; a deal in negotiation moves monthly.
    "new": {"probability": 0.05, "stale_after_days": 7, "forecast_category": "omitted"},
    "contacted": {"probability": 0.1, "stale_after_days": 14, "forecast_category": "pipeline"},
    "qualified": {"probability": 0.3, "stale_after_days": 30, "forecast_category": "best_case"},
    "negotiating": {"probability": 0.6, "stale_after_days": 30, "forecast_category": "commit"},
}


def demo_document() -> dict[str, Any]:
    """The shipped default definition with the demo's status properties."""
    document = copy.deepcopy(DEFAULT_DOCUMENT)
    for status in document["statuses"]:
        status.update(DEMO_PROPERTIES.get(status["key"], {}))
    return document
