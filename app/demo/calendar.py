"""The demo's two-year window: when leads arrive, when reps work, and how a day number becomes a
timestamp.

Times are kept as float days since the window opened while a history is made (cheap arithmetic)
and become aware datetimes only where the domain or the database needs them. Both the arrivals
and the office hours are tabulated per hour of the window once per calendar, so placing a lead or
a rep's step is a bisection or a lookup, not date arithmetic.
"""

from __future__ import annotations

from bisect import bisect
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from random import Random

from app.demo.season import WEEKDAY_HOURS, WEEKEND_HOURS, daily_intake, is_rest_day

WEEKS = 104
WINDOW_DAYS = WEEKS * 7.0
"""Two years, in whole weeks so that the weekly rhythm lines up with both ends."""
OFFICE_HOURS = (8, 18)
"""The hours (UTC, from and until) in which reps work their leads on a working day."""
AFTER_HOURS = 0.03
"""Share of a rep's steps taken when they fall outside office hours (an evening email, a
Saturday call) rather than on the next working morning."""
_NEVER = 1e9
"""Hours to the next office hour beyond the window's end: further than any step looks."""
_MARGIN_DAYS = 1e-6
"""Keeps float rounding from putting a change a microsecond past `now`."""


class Calendar:
    """Maps day numbers to datetimes, a lead's rank in a run to its creation day, and a rep's
    intended moment to one in office hours.

    The tables start at the whole hour before the window opens, so each of their entries is a
    clock hour (UTC) and weekends and office hours fall where a reader of the data expects.
    """

    def __init__(self, now: datetime, *, seed: int) -> None:
        if now.tzinfo is None:
            raise ValueError("now needs a time zone")
        self.opens = now - timedelta(days=WINDOW_DAYS)
        self.today = WINDOW_DAYS - _MARGIN_DAYS
        self._opens_ts = self.opens.timestamp()
        start = self.opens.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        # Hours between the tables' first hour and the window's opening.
        self._lead_in = (self.opens - start) / timedelta(hours=1)
        hours = int(WINDOW_DAYS * 24 + self._lead_in) + 1
        days = (start.hour + hours) // 24 + 1
        first = start.date()
        intake = daily_intake(first, days, seed=seed)
        arrivals: list[float] = []
        working: list[bool] = []
        office = range(*OFFICE_HOURS)
        weekday_hours, weekend_hours = _shares(WEEKDAY_HOURS), _shares(WEEKEND_HOURS)
        for n, level in enumerate(intake):
            day = first + timedelta(days=n)
            rest = is_rest_day(day)
            profile = weekend_hours if day.weekday() >= 5 else weekday_hours
            arrivals.extend(level * share for share in profile)
            working.extend(not rest and hour in office for hour in range(24))
        cut = slice(start.hour, start.hour + hours)
        arrivals, working = arrivals[cut], working[cut]
        total = sum(arrivals)
        self._arrived = [c / total for c in accumulate(arrivals)]
        self._to_office = _hours_to_office(working)

    def at(self, day: float) -> datetime:
        return datetime.fromtimestamp(self._opens_ts + day * 86_400.0, UTC)

    def created_day(self, quantile: float) -> float:
        """The creation day of the lead at `quantile` (0..1) of the run, increasing with it.

        The run's leads are spread over the window's hours in proportion to each hour's intake;
        the inversion preserves order, so lead ids (assigned in rank order) follow creation time.
        """
        hour = bisect(self._arrived, quantile)
        if hour >= len(self._arrived):
            return self.today
        below = self._arrived[hour - 1] if hour else 0.0
        span = self._arrived[hour] - below
        within = (quantile - below) / span if span else 0.0
        day = (hour + within - self._lead_in) / 24.0
        return min(max(day, 0.0), self.today)

    def office_time(self, day: float, rng: Random) -> float:
        """When a rep who meant to act on `day` does: then if it is office hours (or, now and
        then, after hours anyway), else at some moment of the next working day."""
        clock = day * 24.0 + self._lead_in
        hour = int(clock)
        if hour >= len(self._to_office):
            return day
        wait = self._to_office[hour]
        if wait == 0 or rng.random() < AFTER_HOURS:
            return day
        opening = OFFICE_HOURS[1] - OFFICE_HOURS[0]
        return (hour + wait + rng.random() * opening - self._lead_in) / 24.0


def _hours_to_office(working: list[bool]) -> list[float]:
    """For each hour, how many hours until the next office hour starts (0 during one)."""
    waits = [0.0] * len(working)
    ahead = _NEVER
    for hour in range(len(working) - 1, -1, -1):
        ahead = 0.0 if working[hour] else ahead + 1.0
        waits[hour] = ahead
    return waits


def _shares(weights: tuple[float, ...]) -> list[float]:
    """Hour weights as shares of their day, so a day's intake is what `daily_intake` says."""
    total = sum(weights)
    return [w / total for w in weights]
