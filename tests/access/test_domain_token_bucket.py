"""The rate limits' arithmetic, on given times: per key, and failures per client address."""

from __future__ import annotations

import pytest

from app.access.rate_limit import FailureBudget, TokenBucket, retry_after_seconds


def test_a_burst_then_the_steady_rate() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0  # one token back after half a second at 2/s
    assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(100.0) == 0.0 and bucket.tokens == pytest.approx(2)  # capped at the burst


def test_retry_after_is_whole_seconds_never_zero() -> None:
    assert [retry_after_seconds(w) for w in (0.01, 1.0, 1.2)] == [1, 1, 2]


def test_only_failures_spend_an_address_budget_and_each_address_has_its_own() -> None:
    budget = FailureBudget(rate=1.0, burst=3)
    assert budget.wait("10.0.0.1", 0.0) == 0.0  # never failed: nothing to wait for
    for _ in range(3):
        budget.spend("10.0.0.1", 0.0)
    assert budget.wait("10.0.0.1", 0.0) == pytest.approx(1.0)
    assert budget.wait("10.0.0.1", 0.0) == pytest.approx(1.0)  # asking spends nothing
    assert budget.wait("10.0.0.2", 0.0) == 0.0
    assert budget.wait("10.0.0.1", 1.0) == 0.0  # one failure allowed again a second later


def test_a_full_memory_forgets_refilled_addresses_first_then_the_oldest() -> None:
    budget = FailureBudget(rate=1.0, burst=2, max_addresses=3)
    budget.spend("old", 0.0)
    budget.spend("busy", 9.0)
    budget.spend("busy", 9.0)
    budget.spend("mid", 9.5)
    budget.spend("new", 10.0)  # "old" has refilled by now: forgotten, the others kept
    assert budget.wait("busy", 10.0) == pytest.approx(0.0)  # one token back after a second
    assert budget.remembered() == {"busy", "mid", "new"}
    budget.spend("newer", 10.0)  # none refilled: the oldest goes
    assert budget.remembered() == {"mid", "new", "newer"}
