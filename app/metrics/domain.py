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
