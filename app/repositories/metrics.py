"""The sales metrics as SQL over the status history, the source of truth.

Attribution, the same in every query:
* a status change counts for the owner, source and segment recorded on it: the lead's as of the
  move, so a reassigned deal counts for the rep who closed it;
* a creation counts for the lead's current owner, source and segment.

"Closed" means a lead's latest closing change: a change into a closing status with no later
closing change of the same lead. A deal lost, reopened and then won is closed once, as won, on
the day it was won; the loss still counts in loss reasons for the window it happened in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg

from app.domain.workflow import CLOSING_OUTCOMES
from app.repositories.sql import sql_list


class Stage(StrEnum):
    """The funnel as the rollups count it: `metrics_daily`'s stage columns (migration 0003) are
    named after the `default` pipeline's open statuses and its won status."""

    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    NEGOTIATING = "negotiating"
    WON = "won"


CLOSING_SQL = sql_list(CLOSING_OUTCOMES)
FUNNEL: tuple[Stage, ...] = tuple(Stage)
"""Stages in the order a deal advances; a lead may skip stages (new straight to qualified)."""
OPEN_STAGES: tuple[Stage, ...] = FUNNEL[:-1]
_OPEN = frozenset(s.value for s in OPEN_STAGES)
OPEN_STAGES_SQL = sql_list(OPEN_STAGES)


@dataclass(frozen=True, slots=True)
class Scope:
    """A window [start, end) and optional filters; None means every value."""

    start: datetime
    end: datetime
    owner: str | None = None
    source: str | None = None
    segment: str | None = None

    def args(self) -> tuple[Any, ...]:
        return (self.start, self.end, self.owner, self.source, self.segment)


def _filters(alias: str) -> str:
    """Filters on $3 (owner), $4 (source), $5 (segment) of a change (`c`) or a lead (`l`)."""
    return (
        f"($3::text IS NULL OR {alias}.owner = $3) "
        f"AND ($4::text IS NULL OR {alias}.source = $4) "
        f"AND ($5::text IS NULL OR {alias}.segment = $5)"
    )


DAYS = "metrics_days({0}, {1})"
"""Whole days from {0} to {1}, floored: the unit every duration is counted in."""
CYCLE_DAYS = DAYS.format("created_at", "at")

# Latest closing changes that fall in the window, with the lead's creation time.
_CLOSINGS = f"""
SELECT c.lead_id, c.to_status, c.at, c.owner, c.source, l.created_at
  FROM lead_status_changes c
  JOIN leads l ON l.id = c.lead_id
 WHERE c.at >= $1 AND c.at < $2
   AND c.to_status IN ({CLOSING_SQL})
   AND {_filters("c")}
   AND NOT EXISTS (
        SELECT 1 FROM lead_status_changes later
         WHERE later.lead_id = c.lead_id AND later.id > c.id
           AND later.to_status IN ({CLOSING_SQL}))
"""

_CREATED = f"""
SELECT l.id, l.status, l.owner, l.source, l.created_at
  FROM leads l
 WHERE l.created_at >= $1 AND l.created_at < $2 AND {_filters("l")}
"""


class MetricsRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def closed_by_status(self, scope: Scope) -> dict[str, Mapping[str, Any]]:
        """Per closing status: how many leads closed so, and their median days from creation."""
        rows = await self.conn.fetch(
            f"""
            SELECT to_status, count(*) AS n,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY {CYCLE_DAYS})
                     AS median_days
              FROM ({_CLOSINGS}) x GROUP BY to_status
            """,
            *scope.args(),
        )
        return {r["to_status"]: r for r in rows}

    async def summary_figures(self, scope: Scope) -> Mapping[str, Any]:
        row: Mapping[str, Any] = await self.conn.fetchrow(
            f"""
            WITH created AS ({_CREATED}),
            reopenings AS (
                SELECT c.lead_id, l.status,
                       NOT EXISTS (SELECT 1 FROM lead_status_changes n
                                    WHERE n.lead_id = c.lead_id AND n.id > c.id AND n.reopened)
                       AS last_reopening
                  FROM lead_status_changes c JOIN leads l ON l.id = c.lead_id
                 WHERE c.reopened AND c.at >= $1 AND c.at < $2 AND {_filters("c")}
            )
            SELECT
              (SELECT count(*) FROM created) AS created,
              (SELECT count(*) FROM created WHERE status = 'won') AS created_won,
              (SELECT count(*) FROM reopenings) AS reopened,
              (SELECT count(*) FROM reopenings WHERE status = 'won' AND last_reopening)
                AS reopened_won
            """,
            *scope.args(),
        )
        return row

    async def losses(self, scope: Scope) -> list[Mapping[str, Any]]:
        """Every loss and no-decision change in the window (not only the latest closing)."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT c.to_status, c.reason, c.competitor, c.from_status, count(*) AS n
              FROM lead_status_changes c
             WHERE c.to_status IN ('lost', 'no_decision') AND c.at >= $1 AND c.at < $2
               AND {_filters("c")}
             GROUP BY 1, 2, 3, 4
            """,
            *scope.args(),
        )
        return rows

    async def by_owner(self, scope: Scope) -> list[Mapping[str, Any]]:
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            WITH closings AS ({_CLOSINGS}), created AS ({_CREATED}),
            closed AS (
                SELECT owner,
                       count(*) FILTER (WHERE to_status = 'won') AS won,
                       count(*) FILTER (WHERE to_status = 'lost') AS lost,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY {CYCLE_DAYS})
                         FILTER (WHERE to_status = 'won') AS median_cycle_days
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

    async def by_source(self, scope: Scope) -> list[Mapping[str, Any]]:
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            WITH closings AS ({_CLOSINGS}), created AS ({_CREATED}),
            closed AS (
                SELECT source, count(*) AS closed,
                       count(*) FILTER (WHERE to_status = 'disqualified') AS disqualified,
                       count(*) FILTER (WHERE to_status = 'dead') AS dead
                  FROM closings GROUP BY source
            ),
            leads_created AS (
                SELECT source, count(*) AS leads, count(*) FILTER (WHERE status = 'won') AS won
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

    async def funnel(self, scope: Scope) -> Mapping[str, Any]:
        """Of the leads created in the window: how many reached each stage, and went further."""
        rank = " ".join(f"WHEN '{s.value}' THEN {i}" for i, s in enumerate(FUNNEL))
        columns = []
        for i, stage in enumerate(FUNNEL):
            held = "true" if i == 0 else f"'{stage.value}' = ANY(statuses)"
            columns.append(f"count(*) FILTER (WHERE {held}) AS reached_{stage.value}")
            columns.append(
                f"count(*) FILTER (WHERE {held} AND top_rank > {i}) AS advanced_{stage.value}"
            )
        row: Mapping[str, Any] = await self.conn.fetchrow(
            f"""
            WITH created AS ({_CREATED}),
            reach AS (
                SELECT n.id,
                       coalesce(array_agg(c.to_status) FILTER (WHERE c.id IS NOT NULL), '{{}}')
                         AS statuses,
                       coalesce(max(CASE c.to_status {rank} END), 0) AS top_rank
                  FROM created n LEFT JOIN lead_status_changes c ON c.lead_id = n.id
                 GROUP BY n.id
            )
            SELECT {", ".join(columns)} FROM reach
            """,
            *scope.args(),
        )
        return row

    async def time_in_status(self, scope: Scope) -> list[Mapping[str, Any]]:
        """Stays in each open status that ended in the window, in days: median and p90."""
        rows: list[Mapping[str, Any]] = await self.conn.fetch(
            f"""
            SELECT c.from_status AS status, count(*) AS stays,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY {DAYS.format("entered", "c.at")})
                     AS median_days,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY {DAYS.format("entered", "c.at")})
                     AS p90_days
              FROM lead_status_changes c
              JOIN leads l ON l.id = c.lead_id
              CROSS JOIN LATERAL (
                    SELECT coalesce(
                             (SELECT p.at FROM lead_status_changes p
                               WHERE p.lead_id = c.lead_id AND p.id < c.id
                               ORDER BY p.id DESC LIMIT 1),
                             l.created_at) AS entered) e
             WHERE c.at >= $1 AND c.at < $2 AND c.from_status IN ({OPEN_STAGES_SQL})
               AND {_filters("c")}
             GROUP BY c.from_status
            """,
            *scope.args(),
        )
        return rows

    async def series(self, scope: Scope, interval: str) -> list[Mapping[str, Any]]:
        """Per bucket: created, created-and-won-now, and latest closings by status."""
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
                       count(*) FILTER (WHERE to_status = 'won') AS won,
                       count(*) FILTER (WHERE to_status = 'lost') AS lost,
                       count(*) FILTER (WHERE to_status = 'disqualified') AS disqualified,
                       count(*) FILTER (WHERE to_status = 'dead') AS dead
                  FROM closings GROUP BY 1
            ),
            n AS (
                SELECT date_trunc('{interval}', created_at, 'UTC') AS bucket,
                       count(*) AS created, count(*) FILTER (WHERE status = 'won') AS created_won
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
