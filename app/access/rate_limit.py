"""Token buckets: a steady rate with room for short bursts.

Pure arithmetic on the times it is given, so it is tested without a clock. The API keeps one
bucket per key in each process for its requests, and one per client address for its failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    rate: float
    """Requests per second allowed on average."""
    burst: float
    """Requests allowed at once after a quiet spell."""
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate=rate, burst=burst, tokens=burst, updated=now)

    def take(self, now: float) -> float:
        """0 when a request may go now (and counts it), else the seconds until one may."""
        left = self.wait(now)
        if not left:
            self.tokens -= 1
        return left

    def wait(self, now: float) -> float:
        """0 when a request may go now, else the seconds until one may; counts nothing."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def full_by(self, now: float) -> bool:
        return self.tokens + (now - self.updated) * self.rate >= self.burst


@dataclass(slots=True)
class FailureBudget:
    """Failures (bad keys, refused deliveries) each client address may cause: a bucket per
    address that only failures spend. An address past its budget is refused before the costly
    part (looking up a key it presents, a source and a signature), so a flood of made-up keys
    cannot crowd out real callers' work; what succeeds costs nothing."""

    rate: float
    burst: float
    max_addresses: int = 10_000
    """Addresses remembered at most: past it, those whose buckets refilled are forgotten first."""
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def wait(self, address: str, now: float) -> float:
        """0 while `address` may still fail, else the seconds until it may again."""
        bucket = self._buckets.get(address)
        return 0.0 if bucket is None else bucket.wait(now)

    def spend(self, address: str, now: float) -> None:
        """Count one failure of `address`."""
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= self.max_addresses:
                self._forget(now)
            bucket = self._buckets[address] = TokenBucket.full(self.rate, self.burst, now)
        bucket.take(now)

    def remembered(self) -> set[str]:
        return set(self._buckets)

    def _forget(self, now: float) -> None:
        for address in [a for a, b in self._buckets.items() if b.full_by(now)]:
            del self._buckets[address]
        while len(self._buckets) >= self.max_addresses:  # the oldest first
            del self._buckets[next(iter(self._buckets))]


def retry_after_seconds(wait: float) -> int:
    """Whole seconds for a Retry-After header: never 0 for a refused request."""
    return max(1, math.ceil(wait))
