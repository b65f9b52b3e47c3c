"""An event's public id: what the log hands out reads back, nothing else does."""

from __future__ import annotations

import pytest

from app.events.domain import MAX_NUMBER, event_id, event_number


@pytest.mark.parametrize("number", [1, 42, MAX_NUMBER])
def test_an_event_id_reads_back_as_its_number(number: int) -> None:
    assert event_number(event_id(number)) == number


@pytest.mark.parametrize(
    "text",
    ["", "evt_", "42", "evt_0", "evt_-1", "evt_1.5", "evt_ 1", "EVT_1", "evt_١٢", f"evt_{2**63}"],
)
def test_anything_else_is_no_event_id(text: str) -> None:
    assert event_number(text) is None
