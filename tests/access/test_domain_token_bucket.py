"""The per-key rate limit's arithmetic, on given times."""

from __future__ import annotations

import pytest

from app.access.rate_limit import TokenBucket, retry_after_seconds


def test_a_burst_then_the_steady_rate() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0  # one token back after half a second at 2/s
    assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(100.0) == 0.0 and bucket.tokens == pytest.approx(2)  # capped at the burst


def test_retry_after_is_whole_seconds_never_zero() -> None:
    assert [retry_after_seconds(w) for w in (0.01, 1.0, 1.2)] == [1, 1, 2]
