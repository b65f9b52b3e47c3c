"""One way to write a time and an amount, wherever a value leaves the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.platform.wire import to_json


def test_times_are_written_in_utc_with_z() -> None:
    at = datetime(2026, 3, 1, 9, 0, 0, 250000, tzinfo=UTC)
    assert to_json({"at": at}) == b'{"at":"2026-03-01T09:00:00.250000Z"}'


def test_a_time_with_another_offset_keeps_it() -> None:
    """The service reads its times in UTC; another offset is not silently relabelled."""
    at = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert to_json(at) == b'"2026-03-01T10:00:00+01:00"'


def test_amounts_are_exact_text() -> None:
    assert to_json({"value": Decimal("18000.10")}) == b'{"value":"18000.10"}'


def test_an_unknown_value_is_refused_not_guessed() -> None:
    with pytest.raises(TypeError):
        to_json({"x": object()})
