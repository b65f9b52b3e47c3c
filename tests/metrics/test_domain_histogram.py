"""Percentiles from whole-day histograms equal those of the expanded durations."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.metrics.histogram import Histogram


def percentile_cont(values: list[int], fraction: float) -> float:
    """The SQL definition, over the sorted durations themselves."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


counts = st.dictionaries(st.integers(0, 400), st.integers(1, 50), min_size=1, max_size=30)


@given(counts, st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
def test_percentiles_match_the_expanded_durations(hist: dict[int, int], fraction: float) -> None:
    values = [days for days, n in hist.items() for _ in range(n)]
    assert Histogram(hist).percentile(fraction) == pytest.approx(
        percentile_cont(values, fraction), abs=1e-12
    )


def test_median_interpolates_between_the_middle_durations() -> None:
    assert Histogram({1: 1, 4: 1}).percentile(0.5) == 2.5
    assert Histogram({2: 3, 9: 1}).percentile(0.5) == 2.0


def test_withdrawn_counts_are_not_durations() -> None:
    histogram = Histogram({3: 0, 5: -1, 7: 2})
    assert histogram.total == 2
    assert histogram.percentile(0.9) == 7.0


def test_empty_histogram_has_no_percentile() -> None:
    assert not Histogram({})
    assert Histogram({4: 0}).percentile(0.5) is None
