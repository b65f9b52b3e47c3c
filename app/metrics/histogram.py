"""Exact percentiles of whole-day durations kept as counts per number of days.

A histogram answers the same median and p90 as sorting every duration would, in the time it
takes to walk its distinct values: that is what lets the metrics read a window's durations from
daily rollups instead of from each status change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


class Histogram:
    """Counts of durations by whole days (zero and negative counts are ignored)."""

    __slots__ = ("_counts", "total")

    def __init__(self, counts: Mapping[int, int]) -> None:
        self._counts = sorted((days, n) for days, n in counts.items() if n > 0)
        self.total = sum(n for _, n in self._counts)

    def __bool__(self) -> bool:
        return self.total > 0

    def _value_at(self, rank: int) -> int:
        """The duration at 0-based position `rank` of the sorted durations."""
        seen = 0
        for days, n in self._counts:
            seen += n
            if rank < seen:
                return days
        raise IndexError(rank)

    def percentile(self, fraction: float) -> float | None:
        """Continuous percentile, interpolating between neighbours as SQL `percentile_cont`."""
        if not self.total:
            return None
        position = fraction * (self.total - 1)
        lower = math.floor(position)
        first = self._value_at(lower)
        if position == lower:
            return float(first)
        second = self._value_at(math.ceil(position))
        return first + (second - first) * (position - lower)
