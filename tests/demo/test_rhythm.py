"""The demo history's rhythm, on the generator alone (no database): intake that varies as a real
business's does, closings in the working week, and a nurture queue the reps work.

These are the tells a manager spots on a dashboard of generated data, so each test states the
property as a bound the old, machine-made history broke (flat days, weekend closings as often as
weekday ones, a fifth of the leads overdue for a revisit, a straight growth line).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from random import Random

import pytest

from app.demo.batch import make_batch, plan_batches
from app.demo.calendar import OFFICE_HOURS, WINDOW_DAYS, Calendar
from app.demo.journey import ChangeRow
from app.demo.season import is_rest_day
from app.leads.bulk import CHANGE_COLUMNS, LEAD_COLUMNS, Row

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SEED = 7
ARRIVALS = 50_000
"""Leads placed on the calendar for the intake tests (placing them walks no history: cheap)."""
HISTORIES = 10_000
"""Leads walked through their whole history for the closing and nurture tests."""
CLOSINGS = ("won", "lost")


def _lead(name: str) -> int:
    return LEAD_COLUMNS.index(name)


def _change(name: str) -> int:
    """Where a generated history row holds `name` (the row has no id yet)."""
    return CHANGE_COLUMNS.index(name) - 1


@pytest.fixture(scope="module")
def intake() -> Counter[date]:
    """Leads created per date (UTC) in a run of `ARRIVALS`, whole days of the window only."""
    calendar = Calendar(NOW, seed=SEED)
    created = Counter(
        calendar.at(calendar.created_day((rank + 0.5) / ARRIVALS)).date()
        for rank in range(ARRIVALS)
    )
    first, last = min(created), max(created)
    return Counter({day: count for day, count in created.items() if first < day < last})


@pytest.fixture(scope="module")
def run() -> tuple[list[Row], list[ChangeRow]]:
    """The leads and histories of a run, batch by batch as the seeder's workers make them."""
    leads: list[Row] = []
    changes: list[ChangeRow] = []
    for order in plan_batches(leads=HISTORIES, seed=SEED, now=NOW, first_lead_id=1):
        batch = make_batch(order)
        leads += batch.leads
        changes += batch.changes
    return leads, changes


def _days(intake: Counter[date]) -> list[date]:
    first = min(intake)
    return [first + timedelta(n) for n in range((max(intake) - first).days + 1)]


def _per_day(counts: Counter[date], days: Sequence[date]) -> float:
    return sum(counts[d] for d in days) / len(days)


def test_intake_follows_the_working_week(intake: Counter[date]) -> None:
    days = _days(intake)
    weekdays = [d for d in days if d.weekday() < 5]
    weekends = [d for d in days if d.weekday() >= 5]
    ratio = _per_day(intake, weekdays) / _per_day(intake, weekends)
    # Busier on weekdays, but web forms still arrive on a Saturday.
    assert 2.5 < ratio < 8
    mondays = [d for d in days if d.weekday() == 0]
    fridays = [d for d in days if d.weekday() == 4]
    assert _per_day(intake, mondays) > 1.1 * _per_day(intake, fridays)


def test_intake_varies_from_day_to_day(intake: Counter[date]) -> None:
    """Each weekday against the same weekday of the three weeks around it: real days differ by
    more than a few percent (the machine-made ones were within 2%)."""
    days = _days(intake)
    deviations = [
        intake[d] / statistics.mean(intake[d + timedelta(7 * k)] for k in (-3, -2, -1, 1, 2, 3)) - 1
        for d in days[21:-21]
        if d.weekday() < 5
    ]
    assert 0.08 < statistics.median(abs(x) for x in deviations) < 0.3
    counts = [intake[d] for d in days if d.weekday() < 5]
    assert statistics.pstdev(counts) / statistics.mean(counts) > 0.2


def test_intake_follows_the_sales_year(intake: Counter[date]) -> None:
    """A summer dip and a December slowdown, then budgets back in September and January."""
    months: dict[tuple[int, int], list[date]] = {}
    for d in _days(intake):
        months.setdefault((d.year, d.month), []).append(d)

    def rate(year: int, month: int) -> float:
        return _per_day(intake, months[(year, month)])

    for year in (2024, 2025):
        assert rate(year, 8) < 0.9 * rate(year, 6)
        assert rate(year, 9) > 1.3 * rate(year, 8)
        assert rate(year, 12) < 0.85 * rate(year, 11)
        assert rate(year + 1, 1) > 1.3 * rate(year, 12)


def test_growth_speeds_up_instead_of_running_in_a_straight_line(intake: Counter[date]) -> None:
    """Half-years a year apart cover the same weeks of the sales year, so their ratio is growth
    alone: on a straight line it shrinks from the first pair to the second, here it grows."""
    opens = (NOW - timedelta(days=WINDOW_DAYS)).date()
    halves = [0, 0, 0, 0]
    for day, count in intake.items():
        halves[min((day - opens).days // 182, 3)] += count
    first_year_on_year = halves[2] / halves[0]
    second_year_on_year = halves[3] / halves[1]
    assert first_year_on_year > 1.3
    assert second_year_on_year > 1.03 * first_year_on_year


def test_the_seed_decides_the_days(intake: Counter[date]) -> None:
    calendar = Calendar(NOW, seed=SEED)
    again = Calendar(NOW, seed=SEED)
    other = Calendar(NOW, seed=SEED + 1)
    quantiles = [(rank + 0.5) / 1000 for rank in range(1000)]
    placed = [calendar.created_day(q) for q in quantiles]
    assert placed == sorted(placed), "lead ids follow creation time"
    assert placed == [again.created_day(q) for q in quantiles]
    assert placed != [other.created_day(q) for q in quantiles]


def test_reps_act_in_office_hours_or_on_the_next_working_day() -> None:
    calendar = Calendar(NOW, seed=SEED)
    rng = Random(1)
    moved = 0
    for _ in range(5_000):
        meant = rng.uniform(0.0, WINDOW_DAYS - 7)
        done = calendar.office_time(meant, rng)
        assert meant <= done < meant + 6, "a step waits at most over a long weekend"
        at = calendar.at(done)
        in_office = not is_rest_day(at.date()) and OFFICE_HOURS[0] <= at.hour < OFFICE_HOURS[1]
        if done != meant:
            moved += 1
            assert in_office
    assert 0.5 < moved / 5_000 < 0.8, "most of the week is outside office hours"


def test_deals_close_on_weekdays_in_office_hours(run: tuple[list[Row], list[ChangeRow]]) -> None:
    _, changes = run
    at, to = _change("at"), _change("to_status")
    closed = [c[at] for c in changes if c[to] in CLOSINGS]
    assert len(closed) > 1_000
    opens = (NOW - timedelta(days=WINDOW_DAYS)).date()
    days = [opens + timedelta(n) for n in range(int(WINDOW_DAYS))]
    weekdays = sum(d.weekday() < 5 for d in days)
    on_weekdays = sum(t.weekday() < 5 for t in closed)
    per_weekday = on_weekdays / weekdays
    per_weekend_day = (len(closed) - on_weekdays) / (len(days) - weekdays)
    assert per_weekday > 3 * per_weekend_day
    in_office = sum(t.weekday() < 5 and OFFICE_HOURS[0] <= t.hour < OFFICE_HOURS[1] for t in closed)
    assert in_office / len(closed) > 0.75


def test_reps_work_their_nurture_queue(run: tuple[list[Row], list[ChangeRow]]) -> None:
    """Revisit dates are acted on, mostly soon after they come; what is overdue now is a small
    share of the leads, and mostly recent."""
    leads, changes = run
    outcome, revisit = _lead("outcome"), _lead("revisit_at")
    overdue = [
        lead
        for lead in leads
        if lead[outcome] != "open" and lead[revisit] is not None and lead[revisit] <= NOW
    ]
    assert 0.003 < len(overdue) / len(leads) < 0.05
    assert statistics.median((NOW - lead[revisit]).days for lead in overdue) < 45
    lead_id, at, revisit_at = _change("lead_id"), _change("at"), _change("revisit_at")
    lateness = [
        (after[at] - before[revisit_at]) / timedelta(days=1)
        for before, after in pairwise(changes)
        if before[revisit_at] is not None and after[lead_id] == before[lead_id]
    ]
    assert len(lateness) > 1_000
    assert min(lateness) > 0, "nobody works a revisit before its date"
    assert statistics.median(lateness) < 7
    assert statistics.quantiles(lateness, n=10)[-1] < 90
