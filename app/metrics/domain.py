"""What a metrics question is about: a window and its filters, as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class MetricsScope:
    """A window [start, end) and optional filters; None means every value."""

    start: datetime
    end: datetime
    owner: str | None = None
    source: str | None = None
    segment: str | None = None
    pipeline: str | None = None

    def args(self) -> tuple[Any, ...]:
        """The window and filters in the order every metrics query takes them."""
        return (self.start, self.end, self.owner, self.source, self.segment, self.pipeline)


DIMENSIONS = ("owner", "source", "segment")
"""The dimensions a lead and each of its changes are counted under."""
FULL_GRAIN, OVERALL_GRAIN = "full", "all"
GRAINS = (FULL_GRAIN, *DIMENSIONS, OVERALL_GRAIN)
"""The grains the per-day rollups keep each count at: under all three dimensions, under one
(the other two left out), and overall."""


def grain_for(scope: MetricsScope, by: str | None = None) -> str:
    """The coarsest grain that holds the dimensions `scope` filters on and `by` groups by: the
    fewer rows a read sums, the faster it is (overall, a 90-day window is a few thousand)."""
    named = {d for d in DIMENSIONS if getattr(scope, d) is not None}
    if by is not None:
        named.add(by)
    if not named:
        return OVERALL_GRAIN
    if len(named) == 1:
        return named.pop()
    return FULL_GRAIN
