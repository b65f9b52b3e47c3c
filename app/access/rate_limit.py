"""A token bucket per API key: a steady rate with room for short bursts.

Pure arithmetic on the times it is given, so it is tested without a clock; the API keeps one
bucket per key in each process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def retry_after_seconds(wait: float) -> int:
    """Whole seconds for a Retry-After header: never 0 for a refused request."""
    return max(1, math.ceil(wait))
