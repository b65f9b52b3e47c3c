"""The sales metrics as SQL over the status history, the source of truth.

Every figure is defined over **outcomes** (won, lost, ...: each history row records the outcomes
of both its statuses as they were), never over a pipeline's status names, so closings and rates
compare across pipelines; only the funnel and the time in each status speak of one pipeline's
statuses.

Attribution, the same in every query:
* a status change counts for the pipeline, owner, source and segment recorded on it: the lead's
  as of the move, so a reassigned deal counts for the rep who closed it;
* a creation counts for the lead's current owner, source and segment (and its pipeline).

"Closed" means a lead's latest closing change: a change into a closed outcome with no later
closing change of the same lead. A deal lost, reopened and then won is closed once, as won, on
the day it was won; the loss still counts in loss reasons for the window it happened in. A
change a pipeline edit made (reason `pipeline_remap`) only relabels the status a lead holds: it
is no closing, loss or reopening, but it ends the stay in the status it leaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.metrics.domain import MetricsScope
from app.pipelines.workflow import REMAP_REASON, Outcome
from app.platform.sql import sql_list

FUNNEL_STAGES = 12
"""Open statuses (by position) of a pipeline version that the funnel counts as stages; the won
outcome is one more stage after them (a stage mask's bit `1 << FUNNEL_STAGES`)."""
WON_STAGE_BIT = 1 << FUNNEL_STAGES
"""The bit of the won stage in a stage mask; bit i - 1 is open stage i."""


def lit(outcome: Outcome) -> str:
    """An outcome as an SQL literal (our own vocabulary, never user input)."""
    return f"'{outcome.value}'"


OPEN = lit(Outcome.OPEN)
WON = lit(Outcome.WON)
LOSS_OUTCOMES_SQL = sql_list((Outcome.LOST, Outcome.NO_DECISION))
"""The outcomes loss reasons count: a definitive no, and a stall."""


def closes(alias: str) -> str:
    """History row `alias` closes its lead (anew): into a closed outcome, not a remap."""
    return f"{alias}.to_outcome <> {OPEN} AND {alias}.reason <> '{REMAP_REASON}'"


def stage_bit(change: str, stage: str) -> str:
    """The stage bit of history row `change`, joined to its open status's `metrics_stages` row
    as `stage` (see `stage_join`)."""
    won = f"{change}.to_outcome = {WON}"
    return f"CASE WHEN {won} THEN {WON_STAGE_BIT} ELSE coalesce({stage}.bit, 0) END"


def stage_join(change: str, stage: str) -> str:
    """Each open status's stage in the pipeline version `change` was decided under."""
    return (
        f"LEFT JOIN metrics_stages {stage} ON {stage}.pipeline = {change}.pipeline"
        f" AND {stage}.version = {change}.pipeline_version AND {stage}.status = {change}.to_status"
    )


def created_counts(mask: str, *, count: str = "count(*)") -> list[str]:
    """Leads created (`created`), and of them those that reached the won stage (`won_now`), over
    rows with stage mask `mask`; `count` as in `stage_counts`."""
    return [
        f"{count} AS created",
        f"{count} FILTER (WHERE {mask} & {WON_STAGE_BIT} <> 0) AS won_now",
    ]


def stage_counts(mask: str, stages: int, *, count: str = "count(*)") -> list[str]:
    """The funnel's counts of the first `stages` stages over rows with stage mask `mask`: a
    stage is reached where its bit is set, gone on from where a later stage (a higher bit) is
    set too; the won stage is its own bit.

    One definition for both readers: the history counts leads (`count(*)` over each lead's
    mask), the rollups count cohorts (`sum(n)` over `metrics_cohorts.stages`)."""

    def held(i: int) -> str:
        return f"{mask} & {1 << (i - 1)} <> 0"

    columns = created_counts(mask, count=count)
    columns += [f"{count} FILTER (WHERE {held(i)}) AS reached_{i}" for i in range(2, stages + 1)]
    columns += [
        f"{count} FILTER (WHERE {held(i)} AND {mask} >= {1 << i}) AS went_on_{i}"
        for i in range(1, stages + 1)
    ]
    return columns


@dataclass(frozen=True, slots=True)
class Stages:
    """A pipeline's funnel as its current version names it: the open statuses in stage order."""

    pipeline: str
    version: int
    open: tuple[str, ...]

    @property
    def funnel(self) -> tuple[str, ...]:
        """The open statuses counted as stages (the first `FUNNEL_STAGES`)."""
        return self.open[:FUNNEL_STAGES]


async def current_stages(conn: asyncpg.Connection, pipeline: str) -> Stages | None:
    """The open statuses of `pipeline`'s current version, in stage order; None if no such
    pipeline."""
    rows = await conn.fetch(
        "SELECT s.version, s.status FROM metrics_stages s"
        " JOIN pipelines p ON p.name = s.pipeline AND p.current_version = s.version"
        " WHERE s.pipeline = $1 ORDER BY s.stage",
        pipeline,
    )
    if not rows:
        return None
    return Stages(pipeline, rows[0]["version"], tuple(r["status"] for r in rows))


@dataclass(frozen=True, slots=True)
class OpenStatus:
    """An open status of a pipeline's current version, with what the forecast reads of it."""

    key: str
    probability: float | None
    forecast_category: str | None
    stale_after_days: int | None


async def open_statuses(conn: asyncpg.Connection, pipeline: str) -> list[OpenStatus]:
    """The open statuses of `pipeline`'s current version in order, with their probability and
    forecast category as the definition gives them."""
    rows = await conn.fetch(
        "SELECT s.key, s.probability, s.forecast_category, s.stale_after_days"
        " FROM pipeline_statuses s"
        " JOIN pipelines p ON p.name = s.pipeline AND p.current_version = s.version"
        f" WHERE s.pipeline = $1 AND s.outcome = {OPEN} ORDER BY s.position",
        pipeline,
    )
    return [
        OpenStatus(r["key"], r["probability"], r["forecast_category"], r["stale_after_days"])
        for r in rows
    ]


async def pipeline_exists(conn: asyncpg.Connection, pipeline: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pipelines WHERE name = $1)", pipeline
    )
    return found


def _filters(alias: str) -> str:
    """Filters on $3 (owner), $4 (source), $5 (segment), $6 (pipeline) of a change (`c`) or a
    lead (`l`)."""
    return (
        f"($3::text IS NULL OR {alias}.owner = $3) "
        f"AND ($4::text IS NULL OR {alias}.source = $4) "
        f"AND ($5::text IS NULL OR {alias}.segment = $5) "
        f"AND ($6::text IS NULL OR {alias}.pipeline = $6)"
    )


DAYS = "metrics_days({0}, {1})"
"""Whole days from {0} to {1}, floored: the unit every duration is counted in."""
CYCLE_DAYS = DAYS.format("created_at", "at")

# Latest closing changes that fall in the window, with the lead's creation time.
_CLOSINGS = f"""
SELECT c.lead_id, c.to_outcome, c.at, c.owner, c.source, l.created_at, c.currency,
       c.estimated_value
  FROM lead_status_changes c
  JOIN leads l ON l.id = c.lead_id
 WHERE c.at >= $1 AND c.at < $2
   AND {closes("c")}
   AND {_filters("c")}
   AND NOT EXISTS (
        SELECT 1 FROM lead_status_changes later
         WHERE later.lead_id = c.lead_id AND later.id > c.id AND {closes("later")})
"""

_CREATED = f"""
SELECT l.id, l.outcome, l.owner, l.source, l.created_at
  FROM leads l
 WHERE l.created_at >= $1 AND l.created_at < $2 AND {_filters("l")}
"""


class MetricsRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def closed_by_outcome(self, scope: MetricsScope) -> dict[str, Mapping[str, Any]]:
        """Per closed outcome: how many leads closed so, and their median days from creation."""
        rows = await self.conn.fetch(
            f"""
            SELECT to_outcome, count(*) AS n,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY {CYCLE_DAYS})
                     AS median_days
              FROM ({_CLOSINGS}) x GROUP BY to_outcome
            """,
            *scope.args(),
        )
        return {r["to_outcome"]: r for r in rows}

    async def median_days_to_won(self, scope: MetricsScope) -> float | None:
        """Median whole days from creation to won, over the leads won in the window."""
        won = (await self.closed_by_outcome(scope)).get(Outcome.WON.value)
        return won["median_days"] if won else None

    async def summary_figures(self, scope: MetricsScope) -> Mapping[str, Any]:
        row: Mapping[str, Any] = await self.conn.fetchrow(
            f"""
            WITH created AS ({_CREATED}),
            reopenings AS (
                SELECT c.lead_id, l.outcome,
                       NOT EXISTS (SELECT 1 FROM lead_status_changes n
                                    WHERE n.lead_id = c.lead_id AND n.id > c.id AND n.reopened)
                       AS last_reopening
                  FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
                 WHERE c.reopened AND c.at >= $1 AND c.at < $2 AND {_filters("c")}
            )
            SELECT
              (SELECT count(*) FROM created) AS created,
              (SELECT count(*) FROM created WHERE outcome = {WON}) AS created_won,
              (SELECT count(*) FROM reopenings) AS reopened,
              (SELECT count(*) FROM reopenings WHERE outcome = {WON} AND last_reopening)
                AS reopened_won
            """,
            *scope.args(),
        )
        return row

    async def losses(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        """Every loss and no-decision change in the window (not only the latest closing)."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT c.to_outcome, c.reason, c.competitor, c.from_status, count(*) AS n
              FROM lead_status_changes c
             WHERE {closes("c")} AND c.to_outcome IN ({LOSS_OUTCOMES_SQL})
               AND c.at >= $1 AND c.at < $2 AND {_filters("c")}
             GROUP BY 1, 2, 3, 4
            """,
            *scope.args(),
        )
        return rows

    async def closed_money(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        """Latest closings in the window per outcome and currency: how many (`n`), how many had
        a value (`valued`), and the sum of the values (`amount`) the closings recorded."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT to_outcome AS outcome, currency, count(*) AS n,
                   count(estimated_value) AS valued, coalesce(sum(estimated_value), 0) AS amount
              FROM ({_CLOSINGS}) x GROUP BY 1, 2
            """,
            *scope.args(),
        )
        return rows

    async def lost_money(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        """Every loss in the window (as loss reasons count them) per currency, reason,
        competitor and status lost from: how many, and the sum of their values."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT c.currency, c.reason, c.competitor, c.from_status, count(*) AS n,
                   coalesce(sum(c.estimated_value), 0) AS amount
              FROM lead_status_changes c
             WHERE {closes("c")} AND c.to_outcome = {lit(Outcome.LOST)}
               AND c.at >= $1 AND c.at < $2 AND {_filters("c")}
             GROUP BY 1, 2, 3, 4
            """,
            *scope.args(),
        )
        return rows

    async def by_owner(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            WITH closings AS ({_CLOSINGS}), created AS ({_CREATED}),
            closed AS (
                SELECT owner,
                       count(*) FILTER (WHERE to_outcome = {WON}) AS won,
                       count(*) FILTER (WHERE to_outcome = {lit(Outcome.LOST)}) AS lost,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY {CYCLE_DAYS})
                         FILTER (WHERE to_outcome = {WON}) AS median_cycle_days
                  FROM closings GROUP BY owner
            ),
            leads_created AS (SELECT owner, count(*) AS leads FROM created GROUP BY owner)
            SELECT owner, sum(leads)::int AS leads, sum(won)::int AS won,
                   sum(lost)::int AS lost, max(median_cycle_days) AS median_cycle_days
              FROM (SELECT owner, 0 AS leads, won, lost, median_cycle_days FROM closed
                    UNION ALL
                    SELECT owner, leads, 0, 0, NULL FROM leads_created) x
             GROUP BY owner
            """,
            *scope.args(),
        )
        return rows

    async def by_source(self, scope: MetricsScope) -> list[Mapping[str, Any]]:
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            WITH closings AS ({_CLOSINGS}), created AS ({_CREATED}),
            closed AS (
                SELECT source, count(*) AS closed,
                       count(*) FILTER (WHERE to_outcome = {lit(Outcome.DISQUALIFIED)})
                         AS disqualified,
                       count(*) FILTER (WHERE to_outcome = {lit(Outcome.DEAD)}) AS dead
                  FROM closings GROUP BY source
            ),
            leads_created AS (
                SELECT source, count(*) AS leads, count(*) FILTER (WHERE outcome = {WON}) AS won
                  FROM created GROUP BY source
            )
            SELECT source, sum(leads)::int AS leads, sum(won)::int AS won,
                   sum(closed)::int AS closed, sum(disqualified)::int AS disqualified,
                   sum(dead)::int AS dead
              FROM (SELECT source, 0 AS leads, 0 AS won, closed, disqualified, dead FROM closed
                    UNION ALL
                    SELECT source, leads, won, 0, 0, 0 FROM leads_created) x
             GROUP BY source
            """,
            *scope.args(),
        )
        return rows

    async def funnel(self, scope: MetricsScope, stages: int) -> Mapping[str, Any]:
        """Of the leads created in the window: how many held each of the first `stages` stages,
        and went further (what `metrics_cohorts` counts, by stage number). `scope.pipeline`
        names the pipeline."""
        row: Mapping[str, Any] = await self.conn.fetchrow(
            f"""
            WITH created AS ({_CREATED}),
            reach AS (
                SELECT n.id, 1 | coalesce(bit_or({stage_bit("c", "s")}), 0) AS mask
                  FROM created n
                  LEFT JOIN lead_status_changes c ON c.lead_id = n.id
                  {stage_join("c", "s")}
                 GROUP BY n.id
            )
            SELECT {", ".join(stage_counts("mask", stages))} FROM reach
            """,
            *scope.args(),
        )
        return row

    async def time_in_status(
        self, scope: MetricsScope, statuses: Sequence[str]
    ) -> list[Mapping[str, Any]]:
        """Stays in each of the open `statuses` that ended in the window, in days: median and
        p90 (`scope.pipeline` names the pipeline they are statuses of)."""
        return await self._stays(scope, statuses, "c.from_status", "status")

    async def stays_by(self, scope: MetricsScope, status: str, by: str) -> list[Mapping[str, Any]]:
        """Stays in `status` that ended in the window, per value of `by` (owner or source, as
        recorded on the change that ended them): how many, median and p90 whole days."""
        return await self._stays(scope, [status], f"c.{by}", "value")

    async def _stays(
        self, scope: MetricsScope, statuses: Sequence[str], group: str, name: str
    ) -> list[Mapping[str, Any]]:
        days = DAYS.format("e.entered", "c.at")
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT {group} AS {name}, count(*) AS stays,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY {days}) AS median_days,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY {days}) AS p90_days
              FROM lead_status_changes c
              JOIN leads l ON l.id = c.lead_id
              CROSS JOIN LATERAL (
                    SELECT coalesce(
                             (SELECT p.at FROM lead_status_changes p
                               WHERE p.lead_id = c.lead_id AND p.id < c.id
                               ORDER BY p.id DESC LIMIT 1),
                             l.created_at) AS entered) e
             WHERE c.at >= $1 AND c.at < $2 AND c.from_outcome = {OPEN}
               AND c.from_status = ANY($7::text[]) AND {_filters("c")}
             GROUP BY {group}
            """,
            *scope.args(),
            list(statuses),
        )
        return rows

    async def series(self, scope: MetricsScope, interval: str) -> list[Mapping[str, Any]]:
        """Per bucket: created, created-and-won-now, and latest closings by outcome."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            WITH buckets AS (
                SELECT generate_series(date_trunc('{interval}', $1::timestamptz, 'UTC'),
                                       $2::timestamptz - interval '1 microsecond',
                                       interval '1 {interval}') AS bucket
            ),
            closings AS ({_CLOSINGS}), created AS ({_CREATED}),
            c AS (
                SELECT date_trunc('{interval}', at, 'UTC') AS bucket,
                       count(*) AS closed,
                       count(*) FILTER (WHERE to_outcome = {WON}) AS won,
                       count(*) FILTER (WHERE to_outcome = {lit(Outcome.LOST)}) AS lost,
                       count(*) FILTER (WHERE to_outcome = {lit(Outcome.DISQUALIFIED)})
                         AS disqualified,
                       count(*) FILTER (WHERE to_outcome = {lit(Outcome.DEAD)}) AS dead
                  FROM closings GROUP BY 1
            ),
            n AS (
                SELECT date_trunc('{interval}', created_at, 'UTC') AS bucket,
                       count(*) AS created, count(*) FILTER (WHERE outcome = {WON}) AS created_won
                  FROM created GROUP BY 1
            )
            SELECT b.bucket, coalesce(n.created, 0) AS created,
                   coalesce(n.created_won, 0) AS created_won, coalesce(c.closed, 0) AS closed,
                   coalesce(c.won, 0) AS won, coalesce(c.lost, 0) AS lost,
                   coalesce(c.disqualified, 0) AS disqualified, coalesce(c.dead, 0) AS dead
              FROM buckets b
              LEFT JOIN c ON c.bucket = b.bucket
              LEFT JOIN n ON n.bucket = b.bucket
             ORDER BY b.bucket
            """,
            *scope.args(),
        )
        return rows
