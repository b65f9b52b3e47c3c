"""The demo's two-year window: when leads arrive, and how a day number becomes a timestamp.

Times are kept as float days since the window opened while a history is made (cheap arithmetic)
and become aware datetimes only where the domain or the database needs them.
"""

from __future__ import annotations

import math
from bisect import bisect
from datetime import UTC, datetime, timedelta
from itertools import accumulate

WEEKS = 104
WINDOW_DAYS = WEEKS * 7.0
"""Two years, in whole weeks so that the weekly rhythm lines up with both ends."""
GROWTH = 2.5
"""Leads arriving per day at the end of the window, relative to its start: a growing pipeline."""
_MARGIN_DAYS = 1e-6
"""Keeps float rounding from putting a change a microsecond past `now`."""


def _hour_weights(first_hour_of_week: int) -> list[float]:
    """Arrival intensity per hour of the window's weeks: office hours on weekdays, little else."""
    weights = []
    for hour in range(first_hour_of_week, first_hour_of_week + 168):
        weekday, hour_of_day = divmod(hour % 168, 24)
        if weekday >= 5:
            weights.append(0.08)
        elif 7 <= hour_of_day < 20:
            weights.append(1.0)
        else:
            weights.append(0.15)
    return weights


class Calendar:
    """Maps day numbers to datetimes, and a lead's rank in a run to its creation day."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now needs a time zone")
        self.opens = now - timedelta(days=WINDOW_DAYS)
        self.today = WINDOW_DAYS - _MARGIN_DAYS
        self._opens_ts = self.opens.timestamp()
        opening = self.opens.astimezone(UTC)
        weights = _hour_weights(opening.weekday() * 24 + opening.hour)
        total = sum(weights)
        self._week_cumulative = [c / total for c in accumulate(weights)]

    def at(self, day: float) -> datetime:
        return datetime.fromtimestamp(self._opens_ts + day * 86_400.0, UTC)

    def created_day(self, quantile: float) -> float:
        """The creation day of the lead at `quantile` (0..1) of the run, increasing with it.

        The trend is inverted analytically, then each week is warped towards office hours; both
        steps preserve order, so lead ids (assigned in rank order) follow creation time.
        """
        g = GROWTH - 1.0
        share = quantile * (1.0 + g / 2.0)
        x = (math.sqrt(1.0 + 2.0 * g * share) - 1.0) / g
        day = min(x, 1.0) * WINDOW_DAYS
        week, into = divmod(day, 7.0)
        fraction = into / 7.0
        hour = bisect(self._week_cumulative, fraction)
        if hour >= 168:
            return min(day, self.today)
        below = self._week_cumulative[hour - 1] if hour else 0.0
        span = self._week_cumulative[hour] - below
        within = (fraction - below) / span if span else 0.0
        return min(week * 7.0 + (hour + within) / 24.0, self.today)
