"""The money use cases: revenue won and lost, the open pipeline's value and its weighting, the
forecast by expected close date, and sales velocity.

Amounts are never summed across currencies: every figure is per currency. A deal counts at the
value it carries: a closed one at the value its closing recorded, an open one at its value now.
An open deal's probability is its own (`probability`, set by the rep) when it has one, else its
status's (the pipeline definition), else the status's historical rate of reaching won (of the
leads created over the trailing year that ever held the status, the share won now); each
figure says which it used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import asyncpg

from app.metrics.domain import MetricsScope
from app.metrics.repository import FUNNEL_STAGES, OpenStatus, open_statuses
from app.metrics.rollups import PipelineRepository, RollupRepository
from app.metrics.service import check_pipeline, rate, reader_for, reading, stages_of
from app.pipelines.workflow import ForecastCategory, Outcome

CENT = Decimal("0.01")
TRAILING_YEAR = timedelta(days=365)
Period = Literal["month", "quarter"]
Basis = Literal["pipeline", "history"]


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(slots=True)
class _Deals:
    """Deals counted together: how many, how many carried a value, the sum of the values."""

    deals: int = 0
    valued: int = 0
    amount: Decimal = Decimal(0)

    def add(self, n: int, valued: int, amount: Decimal) -> None:
        self.deals += n
        self.valued += valued
        self.amount += amount

    def public(self, *, average: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "deals": self.deals,
            "valued": self.valued,
            "revenue": _money(self.amount),
        }
        if average:
            out["average_deal"] = self.average
        return out

    @property
    def average(self) -> Decimal | None:
        return _money(self.amount / self.valued) if self.valued else None


_MONEY_OUTCOMES = (Outcome.WON.value, Outcome.LOST.value, Outcome.NO_DECISION.value)
_LOSS_DIMENSIONS = {"reason": "reason", "competitor": "competitor", "from_status": "status"}


def _by_currency(rows: Sequence[Mapping[str, Any]]) -> dict[str | None, dict[str, _Deals]]:
    """Latest closings (`closed_money` rows) as won / lost / no-decision deals per currency."""
    totals: dict[str | None, dict[str, _Deals]] = defaultdict(
        lambda: {o: _Deals() for o in _MONEY_OUTCOMES}
    )
    for r in rows:
        if r["outcome"] in _MONEY_OUTCOMES:
            totals[r["currency"]][r["outcome"]].add(r["n"], r["valued"], r["amount"])
    return totals


def _currencies(found: set[str | None], only: str | None) -> list[str | None]:
    """Currencies in answer order (alphabetical, none last), only `only` when given."""
    if only is not None:
        found &= {only}
    return sorted(found, key=lambda c: (c is None, c or ""))


async def revenue(
    pool: asyncpg.Pool, scope: MetricsScope, *, currency: str | None = None
) -> list[dict[str, Any]]:
    """Per currency: the deals won, lost and left without decision among the latest closings in
    the window, at the values the closings recorded; the average won deal; every loss in the
    window by reason, competitor and status lost from."""
    async with reading(pool) as conn:
        await check_pipeline(conn, scope)
        reader = reader_for(conn, scope)
        closed = await reader.closed_money(scope)
        lost = await reader.lost_money(scope)
    totals = _by_currency(closed)
    breakdown: dict[str | None, dict[str, dict[str, _Deals]]] = defaultdict(
        lambda: {d: defaultdict(_Deals) for d in _LOSS_DIMENSIONS}
    )
    for r in lost:
        for dimension in _LOSS_DIMENSIONS:
            if r[dimension] is not None:
                breakdown[r["currency"]][dimension][r[dimension]].add(r["n"], 0, r["amount"])

    def ranked(deals: dict[str, _Deals], key: str) -> list[dict[str, Any]]:
        order = sorted(deals.items(), key=lambda kv: (-kv[1].amount, -kv[1].deals, kv[0]))
        return [{key: k, "deals": d.deals, "revenue": _money(d.amount)} for k, d in order]

    answer = []
    for code in _currencies(set(totals) | set(breakdown), currency):
        money, lost_by = totals[code], breakdown[code]
        answer.append(
            {
                "currency": code,
                "won": money[Outcome.WON.value].public(average=True),
                "lost": money[Outcome.LOST.value].public(),
                "no_decision": money[Outcome.NO_DECISION.value].public(),
                **{
                    f"lost_by_{'stage' if d == 'from_status' else d}": ranked(lost_by[d], key)
                    for d, key in _LOSS_DIMENSIONS.items()
                },
            }
        )
    return answer


@dataclass(slots=True)
class _Open:
    """Open deals counted together, with what weighting them needs."""

    deals: int = 0
    valued: int = 0
    amount: Decimal = Decimal(0)
    own_amount: Decimal = Decimal(0)
    own_weighted: Decimal = Decimal(0)

    def add(self, r: Mapping[str, Any]) -> None:
        self.deals += r["n"]
        self.valued += r["valued"]
        self.amount += r["amount"]
        self.own_amount += r["own_amount"]
        self.own_weighted += r["own_weighted"]

    def include(self, other: _Open) -> None:
        self.deals += other.deals
        self.valued += other.valued
        self.amount += other.amount
        self.own_amount += other.own_amount
        self.own_weighted += other.own_weighted

    def weighted(self, probability: float | None) -> Decimal:
        """Value x probability: each deal's own, the rest at `probability` (none: left out)."""
        rest = self.amount - self.own_amount
        at = Decimal(str(probability)) if probability is not None else Decimal(0)
        return self.own_weighted + rest * at

    def public(self, probability: float | None) -> dict[str, Any]:
        return {
            "deals": self.deals,
            "valued": self.valued,
            "value": _money(self.amount),
            "own_probability_value": _money(self.own_amount),
            "weighted": _money(self.weighted(probability)),
        }


@dataclass(frozen=True, slots=True)
class _Odds:
    """What weighs the deals of one open status that have no probability of their own."""

    probability: float | None
    basis: Basis | None
    historical_rate: float | None


def _trailing_year(now: datetime) -> tuple[date, date]:
    """The 365 whole UTC days up to the end of today."""
    end = now.astimezone(UTC).date() + timedelta(days=1)
    return end - TRAILING_YEAR, end


async def _odds(
    conn: asyncpg.Connection, scope: MetricsScope, statuses: Sequence[OpenStatus], now: datetime
) -> dict[str, _Odds]:
    """Per open status: the probability its deals without their own are weighted at."""
    start, end = _trailing_year(now)
    year = replace(
        scope,
        start=datetime.combine(start, time.min, tzinfo=UTC),
        end=datetime.combine(end, time.min, tzinfo=UTC),
    )
    stages = min(len(statuses), FUNNEL_STAGES)
    reach = await RollupRepository(conn, (start, end)).conversion(year, stages)
    odds = {}
    for number, status in enumerate(statuses, start=1):
        # Past the funnel's stages no rollup tells a status's leads apart: no rate.
        historical = (
            rate(reach[f"won_{number}"], reach[f"held_{number}"]) if number <= stages else None
        )
        if status.probability is not None:
            odds[status.key] = _Odds(status.probability, "pipeline", historical)
        elif historical is not None:
            odds[status.key] = _Odds(historical, "history", historical)
        else:
            odds[status.key] = _Odds(None, None, None)
    return odds


async def _standing(
    conn: asyncpg.Connection, scope: MetricsScope, now: datetime
) -> tuple[str, int, list[OpenStatus], dict[str, _Odds], list[Mapping[str, Any]]]:
    stages = await stages_of(conn, scope)
    statuses = await open_statuses(conn, stages.pipeline)
    scoped = replace(scope, pipeline=stages.pipeline)
    odds = await _odds(conn, scoped, statuses, now)
    rows = await PipelineRepository(conn).money(
        scoped, pipeline=stages.pipeline, statuses=[s.key for s in statuses]
    )
    return stages.pipeline, stages.version, statuses, odds, rows


async def pipeline_value(
    pool: asyncpg.Pool, scope: MetricsScope, *, now: datetime, currency: str | None = None
) -> dict[str, Any]:
    """The open pipeline now, per currency and open status: its value and weighted value, the
    probability the weighting used and where it came from; each status's historical rate of
    reaching won; and sales velocity per currency, with each of its terms."""
    async with reading(pool) as conn:
        pipeline, version, statuses, odds, rows = await _standing(conn, scope, now)
        scoped = replace(scope, pipeline=pipeline)
        reader = reader_for(conn, scoped)
        won_lost = _by_currency(await reader.closed_money(scoped))
        cycle = await reader.median_days_to_won(scoped)
    by_status: dict[str | None, dict[str, _Open]] = defaultdict(lambda: defaultdict(_Open))
    for r in rows:
        by_status[r["currency"]][r["status"]].add(r)
    won_n = sum(m[Outcome.WON.value].deals for m in won_lost.values())
    lost_n = sum(m[Outcome.LOST.value].deals for m in won_lost.values())
    win_rate = rate(won_n, won_n + lost_n)
    answer = []
    for code in _currencies(set(by_status), currency):
        deals = by_status[code]
        total = _Open()
        weighted = Decimal(0)  # each status weighted at its own odds, then summed
        items = []
        for status in statuses:
            counted = deals.get(status.key, _Open())
            chance = odds[status.key]
            items.append(
                {
                    "status": status.key,
                    **counted.public(chance.probability),
                    "probability": chance.probability,
                    "probability_basis": chance.basis,
                }
            )
            total.include(counted)
            weighted += counted.weighted(chance.probability)
        average = won_lost[code][Outcome.WON.value].average if code in won_lost else None
        velocity = None
        if win_rate is not None and average is not None and cycle:
            velocity = _money(
                Decimal(total.valued) * Decimal(str(win_rate)) * average / Decimal(str(cycle))
            )
        answer.append(
            {
                "currency": code,
                "statuses": items,
                "deals": total.deals,
                "valued": total.valued,
                "value": _money(total.amount),
                "weighted": _money(weighted),
                "velocity": {
                    "open_deals": total.valued,
                    "win_rate": win_rate,
                    "average_deal": average,
                    "median_cycle_days": cycle,
                    "per_day": velocity,
                },
            }
        )
    conversion = [
        {"status": s.key, "historical_rate": odds[s.key].historical_rate} for s in statuses
    ]
    return {
        "pipeline": pipeline,
        "version": version,
        "conversion": conversion,
        "currencies": answer,
    }


@dataclass(slots=True)
class _Cell:
    """The deals of one forecast cell, weighted each at its own status's odds."""

    counted: _Open = field(default_factory=_Open)
    weighted: Decimal = Decimal(0)

    def add(self, r: Mapping[str, Any], probability: float | None) -> None:
        row = _Open()
        row.add(r)
        self.counted.include(row)
        self.weighted += row.weighted(probability)


def _period_start(day: date, period: Period) -> date:
    month = day.replace(day=1)
    if period == "month":
        return month
    return month.replace(month=3 * ((month.month - 1) // 3) + 1)


def _period_after(start: date, period: Period) -> date:
    months = start.year * 12 + start.month - 1 + (1 if period == "month" else 3)
    return date(months // 12, months % 12 + 1, 1)


_CATEGORIES = [c.value for c in ForecastCategory]
CLOSED = "closed"
"""The won deals of a period, beside the open deals' categories (Salesforce's "Closed")."""
_CUMULATIVE = {
    CLOSED: (CLOSED,),
    ForecastCategory.COMMIT.value: (CLOSED, ForecastCategory.COMMIT.value),
    ForecastCategory.BEST_CASE.value: (
        CLOSED,
        ForecastCategory.COMMIT.value,
        ForecastCategory.BEST_CASE.value,
    ),
    ForecastCategory.PIPELINE.value: (
        ForecastCategory.COMMIT.value,
        ForecastCategory.BEST_CASE.value,
        ForecastCategory.PIPELINE.value,
    ),
}
"""Each forecast rollup and what it adds up, as Salesforce's forecast rollups do: closed; commit
(closed + commit); best case (closed + commit + best case); and the open pipeline (commit + best
case + pipeline). Omitted counts in none."""


async def forecast(
    pool: asyncpg.Pool,
    scope: MetricsScope,
    *,
    now: datetime,
    period: Period,
    currency: str | None = None,
) -> dict[str, Any]:
    """The open deals now by the month or quarter of their expected close date, per currency
    and forecast category (their status's), with value and weighted value; the deals won in
    each period; and the cumulative rollups. Deals without a close date apart.

    A period is listed when it holds an open deal, or a deal won since the earliest of the open
    deals' periods (an overdue deal's may be past) or the current one; the current period
    always is."""
    current = _period_start(now.astimezone(UTC).date(), period)
    async with reading(pool) as conn:
        pipeline, version, statuses, odds, rows = await _standing(conn, scope, now)
        starts = {_period_start(r["close_month"], period) for r in rows if r["close_month"]}
        # Deals are won up to now: the span ends with the current period, however far ahead a
        # deal is expected to close (any date is accepted, up to the last one there is).
        span = (min(starts | {current}), _period_after(current, period))
        won_rows = await RollupRepository(conn, span).won_by_period(
            replace(scope, pipeline=pipeline), period
        )
    category = {s.key: s.forecast_category or ForecastCategory.PIPELINE.value for s in statuses}
    # currency -> period start (None: no close date) -> category -> its deals
    grid: dict[str | None, dict[date | None, dict[str, _Cell]]] = defaultdict(
        lambda: defaultdict(lambda: {c: _Cell() for c in _CATEGORIES})
    )
    for r in rows:
        start = _period_start(r["close_month"], period) if r["close_month"] else None
        grid[r["currency"]][start][category[r["status"]]].add(r, odds[r["status"]].probability)
    won: dict[str | None, dict[date, _Deals]] = defaultdict(lambda: defaultdict(_Deals))
    for r in won_rows:
        won[r["currency"]][r["start"]].add(r["n"], r["valued"], r["amount"])

    def categories(cells: dict[str, _Cell]) -> dict[str, Any]:
        return {
            c: {
                "deals": cell.counted.deals,
                "value": _money(cell.counted.amount),
                "weighted": _money(cell.weighted),
            }
            for c, cell in cells.items()
        }

    def cumulative(cells: dict[str, _Cell], closed: _Deals) -> dict[str, Decimal]:
        amounts = {c: cell.counted.amount for c, cell in cells.items()} | {CLOSED: closed.amount}
        return {
            rollup: _money(sum((amounts[c] for c in parts), Decimal(0)))
            for rollup, parts in _CUMULATIVE.items()
        }

    answer = []
    for code in _currencies(set(grid) | set(won), currency):
        periods, closed = grid[code], won[code]
        listed = sorted({p for p in periods if p is not None} | set(closed) | {current})
        answer.append(
            {
                "currency": code,
                "periods": [
                    {
                        "start": start,
                        "categories": categories(periods[start]),
                        "closed": {
                            "deals": closed[start].deals,
                            "value": _money(closed[start].amount),
                        },
                        "cumulative": cumulative(periods[start], closed[start]),
                    }
                    for start in listed
                ],
                "unscheduled": categories(periods[None]) if None in periods else None,
            }
        )
    return {"pipeline": pipeline, "version": version, "period": period, "currencies": answer}
