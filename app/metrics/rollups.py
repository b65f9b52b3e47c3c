"""The sales metrics read from the daily rollups that triggers keep in step with the history.

Same answers as `MetricsRepository` (which reads the history itself), for windows made of whole
UTC days: a rollup row covers one day, so a window starting or ending mid-day cannot be cut from
it and goes to the history instead (see `app.metrics.service`). Attribution is the history's:
a creation counts for the lead's pipeline and current owner, source and segment, a change for
those recorded on it; closings count by outcome, the funnel by stage number. Durations are whole
days in histograms kept overall and per single dimension; a request filtering on two or more
dimensions reads those figures from the history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import asyncpg

from app.metrics.domain import MetricsScope, grain_for
from app.metrics.histogram import Histogram
from app.metrics.repository import (
    FUNNEL_STAGES,
    WON_STAGE_BIT,
    MetricsRepository,
    created_counts,
    stage_counts,
)
from app.pipelines.workflow import CLOSING_OUTCOMES, Outcome
from app.platform.sql import IS_CLOSED

_DAYS = "day >= $1 AND day < $2"
_FILTERS = (
    "($3::text IS NULL OR owner = $3) AND ($4::text IS NULL OR source = $4)"
    " AND ($5::text IS NULL OR segment = $5) AND ($6::text IS NULL OR pipeline = $6)"
)
_WHERE = f"WHERE grain = $7 AND {_DAYS} AND {_FILTERS}"
"""Rows of the per-day rollups at one grain (`grain_for`), in the window, under the filters."""
_CREATED = ", ".join(created_counts("stages", count="sum(n)"))
"""Leads created (`created`), and of them those won now (`won_now`), from `metrics_cohorts`."""


def _closed(outcomes: Sequence[Outcome] = CLOSING_OUTCOMES) -> str:
    """Latest closings by outcome, one column each, from `metrics_closings`."""
    return ", ".join(
        f"coalesce(sum(n) FILTER (WHERE outcome = '{o.value}'), 0) AS {o.value}" for o in outcomes
    )


def whole_days(scope: MetricsScope) -> tuple[date, date] | None:
    """The window as [first day, day after the last) when it starts and ends at UTC midnight."""
    bounds = []
    for instant in (scope.start, scope.end):
        utc = instant.astimezone(UTC)
        if utc.time() != time.min:
            return None
        bounds.append(utc.date())
    return bounds[0], bounds[1]


def _stays(histograms: Mapping[str | None, Histogram], name: str) -> list[Mapping[str, Any]]:
    """Stays as the history's reads answer them: per `name` (a status, or a dimension's value),
    how many, and the median and p90 whole days."""
    return [
        {
            name: key,
            "stays": h.total,
            "median_days": h.percentile(0.5),
            "p90_days": h.percentile(0.9),
        }
        for key, h in histograms.items()
        if h.total
    ]


class RollupRepository:
    """Reads for a window of whole days; `history` answers what the rollups cannot."""

    def __init__(self, conn: asyncpg.Connection, days: tuple[date, date]) -> None:
        self.conn = conn
        self.days = days
        self.history = MetricsRepository(conn)

    def _args(self, scope: MetricsScope) -> tuple[Any, ...]:
        return (*self.days, scope.owner, scope.source, scope.segment, scope.pipeline)

    def _at_grain(self, scope: MetricsScope, by: str | None = None) -> tuple[Any, ...]:
        """`_args`, then the grain that holds the filters (and the `by` dimension)."""
        return (*self._args(scope), grain_for(scope, by))

    async def totals(self, scope: MetricsScope) -> Mapping[str, Any]:
        """Created, created-and-won-now, latest closings by outcome, reopenings in the window."""
        row: Mapping[str, Any] = await self.conn.fetchrow(
            f"""
            SELECT coalesce(c.created, 0) AS created, coalesce(c.won_now, 0) AS created_won,
                   r.reopened, r.reopened_won, k.*
              FROM (SELECT {_CREATED} FROM metrics_cohorts_now {_WHERE}) c,
                   (SELECT coalesce(sum(n), 0) AS reopened, coalesce(sum(won), 0) AS reopened_won
                      FROM metrics_reopenings_now {_WHERE}) r,
                   (SELECT {_closed()} FROM metrics_closings_now {_WHERE}) k
            """,
            *self._at_grain(scope),
        )
        return row

    async def durations(
        self, measure: str, statuses: tuple[str, ...], scope: MetricsScope, *, by: str | None = None
    ) -> dict[tuple[str, str | None], Histogram] | None:
        """Whole-day histograms per status (and per `by` dimension value when grouped): stays
        by open status key, cycle times under the outcome `won`.

        None when the filters name two dimensions, or one and a different `by`: the histograms
        are kept overall and per single dimension only.
        """
        filters = {
            name: value
            for name, value in (
                ("owner", scope.owner),
                ("source", scope.source),
                ("segment", scope.segment),
            )
            if value is not None
        }
        if len(filters) > 1 or (by is not None and filters and by not in filters):
            return None
        dimension = by or next(iter(filters), "all")
        value = filters.get(dimension)
        rows = await self.conn.fetch(
            """
            SELECT status, value, days, sum(n)::bigint AS n
              FROM metrics_durations_now
             WHERE measure = $1 AND dimension = $2 AND status = ANY($3::text[])
               AND day >= $4 AND day < $5 AND ($6::text IS NULL OR value = $6)
               AND ($7::text IS NULL OR pipeline = $7)
             GROUP BY status, value, days
            HAVING sum(n) <> 0
            """,
            measure,
            dimension,
            list(statuses),
            *self.days,
            value,
            scope.pipeline,
        )
        grouped: dict[tuple[str, str | None], dict[int, int]] = defaultdict(dict)
        for r in rows:
            grouped[(r["status"], r["value"] if by else None)][r["days"]] = r["n"]
        return {key: Histogram(counts) for key, counts in grouped.items()}

    async def median_days_to_won(self, scope: MetricsScope) -> float | None:
        won = Outcome.WON.value
        histograms = await self.durations("cycle", (won,), scope)
        if histograms is None:
            by_outcome = await self.history.closed_by_outcome(scope)
            return by_outcome[won]["median_days"] if won in by_outcome else None
        histogram = histograms.get((won, None))
        return histogram.percentile(0.5) if histogram else None

    async def losses(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        """Every loss and no-decision in the window; unfiltered, from the per-day totals."""
        overall = scope.owner is None and scope.source is None and scope.segment is None
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT status AS to_outcome, reason, competitor, from_status, sum(n)::bigint AS n
              FROM metrics_losses_now WHERE overall = {overall} AND {_DAYS} AND {_FILTERS}
             GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
            """,
            *self._args(scope),
        )
        return rows

    async def conversion(self, scope: MetricsScope, stages: int) -> Mapping[str, Any]:
        """Of the leads created in the window, per funnel stage i up to `stages`: how many ever
        held it (`held_i`; stage 1 is every lead) and how many of those are won now (`won_i`)."""

        def held(i: int) -> str:
            return f"stages & {1 << (i - 1)} <> 0"

        won = f"stages & {WON_STAGE_BIT} <> 0"
        columns = [
            f"coalesce(sum(n) FILTER (WHERE {held(i)}), 0)::bigint AS held_{i},"
            f" coalesce(sum(n) FILTER (WHERE {held(i)} AND {won}), 0)::bigint AS won_{i}"
            for i in range(1, stages + 1)
        ]
        row: Mapping[str, Any] = await self.conn.fetchrow(
            f"SELECT {', '.join(columns)} FROM metrics_cohorts_now {_WHERE}",
            *self._at_grain(scope),
        )
        return row

    async def closed_money(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        """As `MetricsRepository.closed_money` (for won, lost and no-decision), from the revenue
        rollup."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT outcome, currency, sum(n)::bigint AS n, sum(valued)::bigint AS valued,
                   sum(amount) AS amount
              FROM metrics_revenue_now {_WHERE}
             GROUP BY 1, 2 HAVING sum(n) <> 0
            """,
            *self._at_grain(scope),
        )
        return rows

    async def won_by_period(self, scope: MetricsScope, period: str) -> list[Mapping[str, Any]]:
        """Latest closings won in the window per month or quarter (`period`, by the UTC day of
        the closing) and currency: how many, how many had a value, the sum of the values."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT date_trunc('{period}', day::timestamp)::date AS start, currency,
                   sum(n)::bigint AS n, sum(valued)::bigint AS valued, sum(amount) AS amount
              FROM metrics_revenue_now {_WHERE} AND outcome = '{Outcome.WON.value}'
             GROUP BY 1, 2 HAVING sum(n) <> 0
            """,
            *self._at_grain(scope),
        )
        return rows

    async def lost_money(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        """As `MetricsRepository.lost_money`, from the losses rollup."""
        overall = scope.owner is None and scope.source is None and scope.segment is None
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT currency, reason, competitor, from_status, sum(n)::bigint AS n,
                   sum(amount) AS amount
              FROM metrics_losses_now
             WHERE overall = {overall} AND status = '{Outcome.LOST.value}' AND {_DAYS}
               AND {_FILTERS}
             GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
            """,
            *self._args(scope),
        )
        return rows

    async def _by(self, dimension: str, scope: MetricsScope) -> list[Mapping[str, Any]]:
        """Per value of `dimension` (a missing value is one of them): leads created (and won
        now), latest closings by outcome; a value with neither is left out."""
        outcomes = [o.value for o in CLOSING_OUTCOMES]
        # Each rollup summed per value first; a UNION, since a join would not match the
        # missing value with itself.
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT {dimension}, coalesce(sum(created), 0)::bigint AS leads,
                   coalesce(sum(won_now), 0)::bigint AS won_now,
                   {", ".join(f"sum({o})::bigint AS {o}" for o in outcomes)}
              FROM (SELECT {dimension}, {_CREATED}, {", ".join(f"0 AS {o}" for o in outcomes)}
                      FROM metrics_cohorts_now {_WHERE} GROUP BY {dimension}
                    UNION ALL
                    SELECT {dimension}, 0, 0, {_closed()}
                      FROM metrics_closings_now {_WHERE} GROUP BY {dimension}) x
             GROUP BY {dimension}
            """,
            *self._at_grain(scope, dimension),
        )
        return [r for r in rows if r["leads"] or any(r[o] for o in outcomes)]

    async def by_owner(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        won = Outcome.WON.value
        rows = await self._by("owner", scope)
        histograms = await self.durations("cycle", (won,), scope, by="owner")
        if histograms is None:
            medians = {
                r["owner"]: r["median_cycle_days"] for r in await self.history.by_owner(scope)
            }
        else:
            medians = {owner: h.percentile(0.5) for (_, owner), h in histograms.items()}
        return [
            {
                "owner": r["owner"],
                "leads": r["leads"],
                "won": r[won],
                "lost": r[Outcome.LOST.value],
                "median_cycle_days": medians.get(r["owner"]),
            }
            for r in rows
        ]

    async def by_source(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        return [
            {
                "source": r["source"],
                "leads": r["leads"],
                "won": r["won_now"],
                "closed": sum(r[o.value] for o in CLOSING_OUTCOMES),
                "disqualified": r[Outcome.DISQUALIFIED.value],
                "dead": r[Outcome.DEAD.value],
            }
            for r in await self._by("source", scope)
        ]

    async def funnel(self, scope: MetricsScope, stages: int) -> Mapping[str, Any]:
        """Of the leads created in the window: how many held each of the first `stages` stages,
        and went further, by stage number (`scope.pipeline` names the pipeline)."""
        assert 1 <= stages <= FUNNEL_STAGES
        counts = ", ".join(stage_counts("stages", stages, count="sum(n)"))
        row = await self.conn.fetchrow(
            f"SELECT {counts} FROM metrics_cohorts_now {_WHERE}", *self._at_grain(scope)
        )
        return {key: value or 0 for key, value in row.items()}

    async def time_in_status(
        self, scope: MetricsScope, statuses: Sequence[str]
    ) -> list[Mapping[str, Any]]:
        """Stays in each of the open `statuses` that ended in the window, in whole days: median
        and p90 (`scope.pipeline` names the pipeline they are statuses of)."""
        histograms = await self.durations("stay", tuple(statuses), scope)
        if histograms is None:
            return await self.history.time_in_status(scope, statuses)
        return _stays({status: h for (status, _), h in histograms.items()}, "status")

    async def stays_by(self, scope: MetricsScope, status: str, by: str) -> list[Mapping[str, Any]]:
        """As `MetricsRepository.stays_by`, from the duration histograms (or from the history
        when the filters name another dimension)."""
        histograms = await self.durations("stay", (status,), scope, by=by)
        if histograms is None:
            return await self.history.stays_by(scope, status, by)
        return _stays({value: h for (_, value), h in histograms.items()}, "value")

    async def series(self, scope: MetricsScope, interval: str) -> list[Mapping[str, Any]]:
        """Per bucket: created, created-and-won-now, and latest closings by outcome."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            WITH buckets AS (
                SELECT generate_series(date_trunc('{interval}', $1::timestamp),
                                       $2::timestamp - interval '1 day',
                                       interval '1 {interval}') AS bucket
            ),
            cohorts AS (
                SELECT date_trunc('{interval}', day::timestamp) AS bucket, {_CREATED}
                  FROM metrics_cohorts_now {_WHERE} GROUP BY 1
            ),
            closings AS (
                SELECT date_trunc('{interval}', day::timestamp) AS bucket, sum(n) AS closed,
                       {_closed((Outcome.WON, Outcome.LOST, Outcome.DISQUALIFIED, Outcome.DEAD))}
                  FROM metrics_closings_now {_WHERE} GROUP BY 1
            ),
            totals AS (
                SELECT bucket, c.created, c.won_now AS created_won, k.closed, k.won, k.lost,
                       k.disqualified, k.dead
                  FROM cohorts c FULL JOIN closings k USING (bucket)
            )
            SELECT b.bucket AT TIME ZONE 'UTC' AS bucket,
                   coalesce(t.created, 0)::bigint AS created,
                   coalesce(t.created_won, 0)::bigint AS created_won,
                   coalesce(t.closed, 0)::bigint AS closed, coalesce(t.won, 0)::bigint AS won,
                   coalesce(t.lost, 0)::bigint AS lost,
                   coalesce(t.disqualified, 0)::bigint AS disqualified,
                   coalesce(t.dead, 0)::bigint AS dead
              FROM buckets b LEFT JOIN totals t ON t.bucket = b.bucket
             ORDER BY b.bucket
            """,
            *self._at_grain(scope),
        )
        return rows


class PipelineRepository:
    """Where leads stand now, from `metrics_pipeline`: not windowed, the same for every window."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def now(
        self, scope: MetricsScope, now: datetime, *, pipeline: str
    ) -> tuple[dict[str, int], int]:
        """How many leads of `pipeline` stand in each of its statuses now, and how many closed
        leads in the scope (every pipeline, unless it names one) are due for a revisit now.

        Closed leads are counted by revisit month: every month before this one is due whole,
        and this month's are counted from the leads themselves, up to now.
        """
        month = now.date().replace(day=1)
        rows = await self.conn.fetch(
            """
            SELECT pipeline, status, revisit_month < $1 AS due, sum(n)::bigint AS n
              FROM metrics_pipeline_now
             WHERE ($2::text IS NULL OR owner = $2) AND ($3::text IS NULL OR source = $3)
               AND ($4::text IS NULL OR segment = $4)
               AND ($5::text IS NULL OR pipeline = $5 OR pipeline = $6)
             GROUP BY 1, 2, 3
            """,
            month,
            scope.owner,
            scope.source,
            scope.segment,
            scope.pipeline,
            pipeline,
        )
        due_this_month: int = await self.conn.fetchval(
            f"""
            SELECT count(*) FROM leads
             WHERE revisit_at >= $1 AND revisit_at <= $2 AND {IS_CLOSED}
               AND ($3::text IS NULL OR owner = $3) AND ($4::text IS NULL OR source = $4)
               AND ($5::text IS NULL OR segment = $5) AND ($6::text IS NULL OR pipeline = $6)
            """,
            datetime.combine(month, time.min, tzinfo=now.tzinfo),
            now,
            scope.owner,
            scope.source,
            scope.segment,
            scope.pipeline,
        )
        standing: dict[str, int] = defaultdict(int)
        due = due_this_month
        for r in rows:
            if r["pipeline"] == pipeline:
                standing[r["status"]] += r["n"]
            if r["due"] and (scope.pipeline is None or r["pipeline"] == scope.pipeline):
                due += r["n"]
        return dict(standing), due

    async def money(
        self, scope: MetricsScope, *, pipeline: str, statuses: Sequence[str]
    ) -> list[Mapping[str, Any]]:
        """The open deals of `pipeline` now in `statuses`, per status, currency and month of
        expected close: how many (`n`), how many carry a value (`valued`), the sum of their
        values (`amount`), and of the deals with their own probability the values
        (`own_amount`) and value x probability (`own_weighted`)."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            """
            SELECT status, currency, close_month, sum(n)::bigint AS n,
                   sum(valued)::bigint AS valued, sum(amount) AS amount,
                   sum(own_amount) AS own_amount, sum(own_weighted) AS own_weighted
              FROM metrics_open_money_now
             WHERE pipeline = $1 AND status = ANY($2::text[])
               AND ($3::text IS NULL OR owner = $3) AND ($4::text IS NULL OR source = $4)
               AND ($5::text IS NULL OR segment = $5)
             GROUP BY 1, 2, 3 HAVING sum(n) <> 0
            """,
            pipeline,
            list(statuses),
            scope.owner,
            scope.source,
            scope.segment,
        )
        return rows

    async def stale(
        self, scope: MetricsScope, now: datetime, *, pipeline: str
    ) -> list[Mapping[str, Any]]:
        """The open leads of `pipeline` now that have sat in their status longer than its
        `stale_after_days` (current version), per owner and status. Per status, one range of
        `ix_leads_open_since`: only the stale leads are read."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            """
            SELECT l.owner, s.key AS status, count(*) AS stale
              FROM pipeline_statuses s
              JOIN pipelines p ON p.name = s.pipeline AND p.current_version = s.version
              JOIN LATERAL (
                    SELECT l.owner FROM leads l
                     WHERE l.pipeline = s.pipeline AND l.status = s.key AND l.outcome = 'open'
                       AND l.status_since < $2::timestamptz
                                            - make_interval(days => s.stale_after_days)
                       AND ($3::text IS NULL OR l.owner = $3)
                       AND ($4::text IS NULL OR l.source = $4)
                       AND ($5::text IS NULL OR l.segment = $5)) l ON true
             WHERE s.pipeline = $1 AND s.outcome = 'open' AND s.stale_after_days IS NOT NULL
             GROUP BY 1, 2
            """,
            pipeline,
            now,
            scope.owner,
            scope.source,
            scope.segment,
        )
        return rows

    async def open_by_owner(
        self, scope: MetricsScope, *, pipeline: str, statuses: Sequence[str]
    ) -> list[Mapping[str, Any]]:
        """The open leads of `pipeline` now per owner and status, from the standing rollup."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            """
            SELECT owner, status, sum(n)::bigint AS open
              FROM metrics_pipeline_now
             WHERE pipeline = $1 AND status = ANY($2::text[])
               AND ($3::text IS NULL OR owner = $3) AND ($4::text IS NULL OR source = $4)
               AND ($5::text IS NULL OR segment = $5)
             GROUP BY 1, 2 HAVING sum(n) <> 0
            """,
            pipeline,
            list(statuses),
            scope.owner,
            scope.source,
            scope.segment,
        )
        return rows


async def fold(conn: asyncpg.Connection) -> int:
    """Move committed pending deltas into the rollups; how many rollup rows that touched."""
    touched: int = await conn.fetchval("SELECT metrics_fold()")
    return touched


CHURNING_TABLES = (
    "metrics_pending",
    "metrics_pending_changes",
    "metrics_pending_leads",
    "metrics_cohorts",
    "metrics_closings",
    "metrics_reopenings",
    "metrics_pipeline",
    "metrics_durations",
    "metrics_losses",
    "metrics_revenue",
    "metrics_open_money",
)
"""Tables that hold few live rows and leave a dead one per write or per fold: the pending
queues (a row per write, deleted by the next fold) and the rollups (a handful of rows, each
rewritten by every fold that touches it). Every table `metrics_fold()` writes belongs here (a
test reads the function's text to hold the list to it)."""


async def vacuum_churning_tables(conn: asyncpg.Connection) -> None:
    """Reclaim the dead rows of `CHURNING_TABLES` (outside any transaction: VACUUM runs alone).

    Left to autovacuum, which looks once a minute by default (and not at all where it is off),
    they grew to tens of thousands of dead rows for a few hundred live ones under load, and
    every fold scanned them all, and PostgreSQL's CPU per transition grew over minutes
    (docs/performance.md has the figures). A table another VACUUM holds (autovacuum,
    another service process) is skipped, not waited for.
    """
    await conn.execute(f"VACUUM (SKIP_LOCKED) {', '.join(CHURNING_TABLES)}")
