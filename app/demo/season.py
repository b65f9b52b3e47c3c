"""How busy each day of the demo window is: a growing business with a sales year's seasons, a
working week, holidays, and the unevenness of real days.

A smooth intake is what gives generated data away on a dashboard: a manager expects budgets to
reopen in January and September, summer and the last weeks of December to go quiet, Mondays to
be busier than Fridays, a campaign to make a spike, and growth that compounds, not a ruler line.
The noise is drawn from the run's seed alone, so every batch of a run sees the same days.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from random import Random

GROWTH = 2.5
"""Leads arriving per day at the end of the window, relative to its start."""
GROWTH_MIDPOINT = 0.75
"""Where in the window growth is fastest (as a fraction of it): late, so the two years show the
lower half of an S-curve, a business whose growth is still speeding up, not a straight line."""
GROWTH_STEEPNESS = 5.0

MONTHS: tuple[float, ...] = (1.12, 1.04, 1.08, 1.0, 0.98, 0.92, 0.8, 0.72, 1.14, 1.1, 1.02, 0.84)
"""Intake per month, January first: new budgets in January and after the summer, a summer dip
and a December slowdown."""
WEEKDAYS: tuple[float, ...] = (1.1, 1.07, 1.04, 1.0, 0.84, 0.3, 0.24)
"""Intake per weekday, Monday first: forms and imports pile up over the weekend and land on
Monday; a weekend still brings web forms and checkouts, at about a quarter of a weekday."""
HOLIDAYS: dict[tuple[int, int], float] = {
    (1, 1): 0.2,
    (12, 24): 0.3,
    (12, 25): 0.15,
    (12, 26): 0.3,
    (12, 27): 0.6,
    (12, 28): 0.6,
    (12, 29): 0.6,
    (12, 30): 0.6,
    (12, 31): 0.35,
}
"""Days the market all but stops, by (month, day), on top of the month's factor."""
REST_DAYS = frozenset({(1, 1), (12, 24), (12, 25), (12, 26), (12, 31)})
"""Days the sales team is off, besides weekends."""

DAY_NOISE = 0.12
"""Sigma of a day's log intake around its expected level: no two Tuesdays alike."""
WEEK_NOISE = 0.06
"""Sigma of a week's log level: some weeks the whole pipeline is busier."""
CAMPAIGN = 0.02
"""Chance that a weekday carries a campaign, webinar or trade-show upload (a spike)."""
CAMPAIGN_LIFT = (1.3, 2.2)

WEEKDAY_HOURS: tuple[float, ...] = (
    0.08, 0.06, 0.05, 0.05, 0.06, 0.1, 0.2, 0.45, 0.9, 1.0, 1.0, 1.0,
    0.8, 0.9, 1.0, 1.0, 0.9, 0.7, 0.45, 0.35, 0.3, 0.25, 0.18, 0.12,
)  # fmt: skip
"""When on a weekday leads arrive, by hour (UTC), as relative weights: the working day, with a
lunch dip. The day's total comes from `daily_intake`; this only spreads it."""
WEEKEND_HOURS: tuple[float, ...] = (
    0.1, 0.08, 0.06, 0.05, 0.05, 0.06, 0.1, 0.2, 0.35, 0.5, 0.7, 0.8,
    0.8, 0.8, 0.8, 0.8, 0.8, 0.75, 0.7, 0.65, 0.55, 0.45, 0.3, 0.18,
)  # fmt: skip
"""When on a weekend day leads arrive: late mornings and afternoons, from people browsing."""


def growth(progress: float) -> float:
    """The trend at `progress` (0..1) through the window: 1 at the start, `GROWTH` at the end."""

    def curve(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-GROWTH_STEEPNESS * (x - GROWTH_MIDPOINT)))

    low, high = curve(0.0), curve(1.0)
    return 1.0 + (GROWTH - 1.0) * (curve(progress) - low) / (high - low)


def daily_intake(first: date, days: int, *, seed: int) -> list[float]:
    """The relative number of leads arriving on each of `days` days from `first`."""
    rng = Random(f"leadstatus-demo/{seed}/season")
    week_level = 0.0
    intake = []
    for n in range(days):
        day = first + timedelta(days=n)
        weekday = day.weekday()
        if weekday == 0 or n == 0:
            week_level = rng.gauss(0.0, WEEK_NOISE)
        level = math.exp(week_level + rng.gauss(0.0, DAY_NOISE))
        campaign = rng.random() < CAMPAIGN and weekday < 5
        lift = rng.uniform(*CAMPAIGN_LIFT) if campaign else 1.0
        intake.append(
            growth(n / max(days - 1, 1))
            * MONTHS[day.month - 1]
            * WEEKDAYS[weekday]
            * HOLIDAYS.get((day.month, day.day), 1.0)
            * level
            * lift
        )
    return intake


def is_rest_day(day: date) -> bool:
    """A day no rep works: weekends and the year-end holidays."""
    return day.weekday() >= 5 or (day.month, day.day) in REST_DAYS
