"""The metrics use cases: resolve the window, run the queries, turn counts into rates.

Every rate is `None` when its denominator is zero: an empty window is an answer, not an error.
Closings, rates and loss reasons are counted by outcome, so they span every pipeline unless the
scope names one; the funnel, the time in each status and the open pipeline by status are one
pipeline's (the scope's, else `default`), named by its current version's open statuses.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import asyncpg

from app.leads.domain import EARLIEST, LATEST
from app.metrics.domain import MetricsScope
from app.metrics.repository import (
    MetricsRepository,
    Stages,
    current_stages,
    pipeline_exists,
)
from app.metrics.rollups import PipelineRepository, RollupRepository, whole_days
from app.pipelines.default import DEFAULT_PIPELINE
from app.pipelines.workflow import CLOSING_OUTCOMES, Outcome
from app.platform.errors import InvalidWindow, PipelineNotFound

DEFAULT_WINDOW = timedelta(days=90)
MAX_WINDOW = timedelta(days=3 * 365 + 1)
"""Three years, a leap day included."""

Interval = Literal["day", "week", "month"]
SeriesMetric = Literal[
    "win_rate", "conversion_rate", "created", "won", "lost", "disqualified_rate", "dead_rate"
]
OwnerSort = Literal["owner", "leads", "won", "lost", "win_rate", "median_cycle_days"]


@asynccontextmanager
async def reading(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection for one metrics answer: its reads share one read-only snapshot, so the
    figures of a response agree with each other, and each is planned for the values it is given.

    A pooled connection keeps each statement prepared, and after five runs PostgreSQL may switch
    it to a generic plan, made without the window and filters. For the rollup reads that plan
    cannot drop the `($n IS NULL OR owner = $n)` filters and guesses a few dozen rows where
    there are tens of thousands, then sorts them instead of hashing: the owners' cycle times
    took 57 ms instead of 20 at a million leads. Planning each read costs under a millisecond.
    """
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield conn


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _instant(value: date | datetime, *, end: bool) -> datetime:
    """A date means the whole day (UTC): from its start, or up to the end of it."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    start = datetime.combine(value, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def window(
    start: date | datetime | None, end: date | datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """The window [start, end): by default the 90 days up to the end of today (UTC)."""
    # Outside these bounds a series of buckets could start at -infinity and never end.
    outside = f"A window lies between {EARLIEST.date()} and {LATEST.date()}."
    try:
        stop = _instant(end if end is not None else now.astimezone(UTC).date(), end=True)
        begin = _instant(start, end=False) if start is not None else stop - DEFAULT_WINDOW
    except OverflowError:
        raise InvalidWindow(outside) from None
    if begin < EARLIEST or stop > LATEST:
        raise InvalidWindow(outside)
    if begin > stop:
        raise InvalidWindow(f"'from' ({begin.isoformat()}) is after 'to' ({stop.isoformat()}).")
    if stop - begin > MAX_WINDOW:
        raise InvalidWindow(f"The window spans {(stop - begin).days} days; at most 3 years.")
    return begin, stop


async def stages_of(conn: asyncpg.Connection, scope: MetricsScope) -> Stages:
    """The funnel of the scope's pipeline (`default` when it names none)."""
    name = scope.pipeline or DEFAULT_PIPELINE
    stages = await current_stages(conn, name)
    if stages is None:
        raise PipelineNotFound(name)
    return stages


async def check_pipeline(conn: asyncpg.Connection, scope: MetricsScope) -> None:
    """A pipeline filter must name a pipeline: a typo is an error, not an empty answer."""
    if scope.pipeline is not None and not await pipeline_exists(conn, scope.pipeline):
        raise PipelineNotFound(scope.pipeline)


def reader_for(
    conn: asyncpg.Connection, scope: MetricsScope
) -> RollupRepository | MetricsRepository:
    """The rollups for windows of whole UTC days (the default), else the history itself."""
    days = whole_days(scope)
    return RollupRepository(conn, days) if days else MetricsRepository(conn)


def _closed_rates(closed: Mapping[str, int]) -> dict[str, Any]:
    """Rates of the latest closings, by outcome."""
    won, lost, nd, disqualified, dead, recycled = (
        closed.get(o.value, 0)
        for o in (
            Outcome.WON,
            Outcome.LOST,
            Outcome.NO_DECISION,
            Outcome.DISQUALIFIED,
            Outcome.DEAD,
            Outcome.RECYCLED,
        )
    )
    total = sum(closed.values())
    return {
        "closed": total,
        "closed_by_status": {o.value: closed.get(o.value, 0) for o in CLOSING_OUTCOMES},
        "win_rate": rate(won, won + lost),
        "no_decision_rate": rate(nd, won + lost + nd),
        "disqualified_rate": rate(disqualified, total),
        "dead_rate": rate(dead, total),
        "recycle_rate": rate(recycled, total),
    }


async def summary(pool: asyncpg.Pool, scope: MetricsScope, *, now: datetime) -> dict[str, Any]:
    async with reading(pool) as conn:
        stages = await stages_of(conn, scope)
        days = whole_days(scope)
        if days:
            rollups = RollupRepository(conn, days)
            figures = await rollups.totals(scope)
            closed = {o.value: figures[o.value] or 0 for o in CLOSING_OUTCOMES}
            median_days_to_won = await rollups.median_days_to_won(scope)
        else:
            history = MetricsRepository(conn)
            by_outcome = await history.closed_by_outcome(scope)
            figures = await history.summary_figures(scope)
            closed = {outcome: row["n"] for outcome, row in by_outcome.items()}
            won = by_outcome.get(Outcome.WON.value)
            median_days_to_won = won["median_days"] if won else None
        standing, due = await PipelineRepository(conn).now(scope, now, pipeline=stages.pipeline)
    return {
        "created": figures["created"],
        **_closed_rates(closed),
        "conversion_rate": rate(figures["created_won"], figures["created"]),
        "reopened": figures["reopened"],
        "reopened_won_rate": rate(figures["reopened_won"], figures["reopened"]),
        "median_days_to_won": median_days_to_won,
        "pipeline": {status: standing.get(status, 0) for status in stages.open},
        "pipeline_name": stages.pipeline,
        "nurture_due": due,
    }


async def loss_reasons(pool: asyncpg.Pool, scope: MetricsScope) -> dict[str, Any]:
    async with reading(pool) as conn:
        await check_pipeline(conn, scope)
        rows = await reader_for(conn, scope).losses(scope)
    lost: dict[str, Counter[str]] = defaultdict(Counter)
    no_decision: Counter[str] = Counter()
    for r in rows:
        if r["to_outcome"] == Outcome.NO_DECISION:
            no_decision[r["reason"]] += r["n"]
            continue
        lost["reason"][r["reason"]] += r["n"]
        lost["from"][r["from_status"]] += r["n"]
        if r["competitor"]:
            lost["competitor"][r["competitor"]] += r["n"]

    def ranked(counts: Counter[str], key: str) -> list[dict[str, Any]]:
        return [
            {key: k, "count": n} for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    return {
        "lost": sum(lost["reason"].values()),
        "by_reason": ranked(lost["reason"], "reason"),
        "by_competitor": ranked(lost["competitor"], "competitor"),
        "by_from_status": ranked(lost["from"], "status"),
        "no_decision": sum(no_decision.values()),
        "no_decision_by_reason": ranked(no_decision, "reason"),
    }


async def owners(
    pool: asyncpg.Pool,
    scope: MetricsScope,
    *,
    sort: OwnerSort,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Per owner, sorted (ties by owner name, absent values last) and paged; and the total."""
    async with reading(pool) as conn:
        await check_pipeline(conn, scope)
        rows = await reader_for(conn, scope).by_owner(scope)
    items = [
        {
            "owner": r["owner"],
            "leads": r["leads"],
            "won": r["won"],
            "lost": r["lost"],
            "win_rate": rate(r["won"], r["won"] + r["lost"]),
            "median_cycle_days": r["median_cycle_days"],
        }
        for r in rows
    ]
    items.sort(key=lambda i: i["owner"] or "")
    present = [i for i in items if i[sort] is not None]
    absent = [i for i in items if i[sort] is None]
    present.sort(key=lambda i: i[sort], reverse=descending)
    ordered = present + absent
    return ordered[offset : offset + limit], len(ordered)


async def sources(pool: asyncpg.Pool, scope: MetricsScope) -> list[dict[str, Any]]:
    async with reading(pool) as conn:
        await check_pipeline(conn, scope)
        rows = await reader_for(conn, scope).by_source(scope)
    items = [
        {
            "source": r["source"],
            "leads": r["leads"],
            "conversion_rate": rate(r["won"], r["leads"]),
            "closed": r["closed"],
            "disqualified_rate": rate(r["disqualified"], r["closed"]),
            "dead_rate": rate(r["dead"], r["closed"]),
        }
        for r in rows
    ]
    return sorted(items, key=lambda i: (-i["leads"], i["source"] or ""))


async def funnel(pool: asyncpg.Pool, scope: MetricsScope) -> dict[str, Any]:
    """The scope's pipeline's stages (its current version's open statuses, then won): of the
    leads created in the window, how many held each and went on; stays that ended in the
    window."""
    async with reading(pool) as conn:
        stages = await stages_of(conn, scope)
        scoped = replace(scope, pipeline=stages.pipeline)
        repo = reader_for(conn, scoped)
        reach = await repo.funnel(scoped, len(stages.funnel))
        stays = {r["status"]: r for r in await repo.time_in_status(scoped, stages.funnel)}
    rows = []
    for number, status in enumerate(stages.funnel, start=1):
        reached = reach["created"] if number == 1 else reach[f"reached_{number}"]
        advanced = reach[f"went_on_{number}"]
        stay = stays.get(status)
        rows.append(
            {
                "status": status,
                "outcome": Outcome.OPEN.value,
                "reached": reached,
                "went_on": advanced,
                "went_on_rate": rate(advanced, reached),
                "stays_ended": stay["stays"] if stay else 0,
                "median_days_in_status": stay["median_days"] if stay else None,
                "p90_days_in_status": stay["p90_days"] if stay else None,
            }
        )
    rows.append(
        {
            "status": Outcome.WON.value,
            "outcome": Outcome.WON.value,
            "reached": reach["won_now"],
            "went_on": None,
            "went_on_rate": None,
            "stays_ended": 0,
            "median_days_in_status": None,
            "p90_days_in_status": None,
        }
    )
    return {"pipeline": stages.pipeline, "version": stages.version, "stages": rows}


async def timeseries(
    pool: asyncpg.Pool, scope: MetricsScope, *, metric: SeriesMetric, interval: Interval
) -> list[dict[str, Any]]:
    async with reading(pool) as conn:
        await check_pipeline(conn, scope)
        rows = await reader_for(conn, scope).series(scope, interval)
    value: Callable[[Mapping[str, Any]], int | float | None] = {
        "created": lambda r: r["created"],
        "won": lambda r: r["won"],
        "lost": lambda r: r["lost"],
        "win_rate": lambda r: rate(r["won"], r["won"] + r["lost"]),
        "conversion_rate": lambda r: rate(r["created_won"], r["created"]),
        "disqualified_rate": lambda r: rate(r["disqualified"], r["closed"]),
        "dead_rate": lambda r: rate(r["dead"], r["closed"]),
    }[metric]
    return [{"start": r["bucket"], "value": value(r)} for r in rows]
