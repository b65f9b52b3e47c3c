"""Every time a client reads is written one way: RFC 3339 in UTC, ending in `Z`."""

from __future__ import annotations

import re
from typing import Any

import httpx

ONE_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
TIME_NAMES = ("_at", "status_since", "occurred_at")


def _times(value: Any, found: list[str]) -> list[str]:
    if isinstance(value, dict):
        for name, inner in value.items():
            if isinstance(inner, str) and name.endswith(TIME_NAMES):
                found.append(inner)
            else:
                _times(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _times(inner, found)
    return found


async def test_leads_history_and_events_write_times_alike(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/leads", json={"email": "times@example.com"})
    lead_id = created.json()["id"]
    moved = await client.post(
        f"/v1/leads/{lead_id}/transitions",
        json={"to": "recycled", "reason": "timing", "revisit_at": "2031-01-01T10:00:00+02:00"},
    )
    assert moved.status_code == 200, moved.text
    answers = [
        created.json(),
        moved.json(),
        (await client.get(f"/v1/leads/{lead_id}")).json(),
        (await client.get("/v1/leads")).json(),
        (await client.get(f"/v1/leads/{lead_id}/history")).json(),
        (await client.get("/v1/events")).json(),
    ]
    times = _times(answers, [])
    # created_at, updated_at, status_since, closed_at and revisit_at on each lead; the
    # history's `at`; the events' `occurred_at` and their leads' times
    assert len(times) >= 20
    assert [t for t in times if not ONE_FORMAT.fullmatch(t)] == []
    assert moved.json()["revisit_at"] == "2031-01-01T08:00:00Z"
