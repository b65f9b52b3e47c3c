"""HTTP for the sales metrics: window and filters in, the figures with their definitions out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BeforeValidator

from app.access.domain import KeyScope
from app.access.http import KeyedRoute, requires
from app.leads.service import utc_now
from app.metrics import hygiene, money, service
from app.metrics.domain import MetricsScope
from app.metrics.schemas import (
    ForecastPublic,
    FunnelPublic,
    HygienePublic,
    LossReasonsPublic,
    OwnersPage,
    PipelineValuePublic,
    RevenuePublic,
    SeriesPublic,
    SourcesPublic,
    SummaryPublic,
)
from app.pipelines.definition import KEY_PATTERN
from app.platform.http import problem_types as p
from app.platform.http.fields import NO_NUL
from app.platform.http.requests import read_pool

router = APIRouter(
    prefix="/v1/metrics",
    tags=["metrics"],
    route_class=KeyedRoute,
    responses=p.responses(
        p.INVALID_WINDOW,
        p.PIPELINE_NOT_FOUND,
        p.VALIDATION,
        *p.KEYED,
        p.UNAVAILABLE,
        p.QUERY_TIMEOUT,
        p.INTERNAL,
    ),
)


def _date_or_instant(value: Any) -> Any:
    """`2026-03-01` is a whole day; anything longer is an instant (UTC when no offset)."""
    if isinstance(value, str):
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    return value


When = Annotated[datetime | date, BeforeValidator(_date_or_instant)]
Filter = Annotated[str | None, Query(max_length=200, pattern=NO_NUL)]


def scope(
    start: Annotated[
        When | None,
        Query(
            alias="from",
            description="Date or timestamp; default: 90 days before `to`.",
            examples=["2026-09-01"],
        ),
    ] = None,
    end: Annotated[
        When | None,
        Query(
            alias="to",
            description="Date (inclusive) or timestamp (exclusive); default: the end of today"
            " (UTC). Windows of whole UTC days are answered from rollups; a window cut mid-day"
            " is computed from the history (same figures, slower).",
        ),
    ] = None,
    owner: Filter = None,
    source: Filter = None,
    segment: Filter = None,
    pipeline: Annotated[
        str | None,
        Query(
            max_length=63,
            pattern=KEY_PATTERN.pattern,
            description="Only this pipeline's leads and changes. Without it, closings, rates and"
            " loss reasons span every pipeline (they count outcomes); the funnel, the time in"
            " each status and the open pipeline by status are `default`'s.",
            examples=["default"],
        ),
    ] = None,
) -> MetricsScope:
    begin, stop = service.window(start, end, now=utc_now())
    return MetricsScope(begin, stop, owner=owner, source=source, segment=segment, pipeline=pipeline)


Window = Annotated[MetricsScope, Depends(scope)]


def _window(s: MetricsScope) -> dict[str, Any]:
    return {
        "from": s.start,
        "to": s.end,
        "owner": s.owner,
        "source": s.source,
        "segment": s.segment,
        "pipeline": s.pipeline,
    }


@router.get(
    "/summary",
    response_model=SummaryPublic,
    summary="Sales summary",
    description="Created, closed by outcome, win / no-decision / conversion / disqualified / "
    "dead / recycle rates, reopenings, cycle time, the open pipeline by status and the nurture "
    "queue.",
)
@requires(KeyScope.METRICS_READ)
async def metrics_summary(request: Request, where: Window) -> dict[str, Any]:
    figures = await service.summary(read_pool(request), where, now=utc_now())
    return {"window": _window(where), **figures}


@router.get(
    "/loss-reasons",
    response_model=LossReasonsPublic,
    summary="Why deals were lost",
    description="Every loss in the window by reason code, competitor and the open status it "
    "was lost from; no-decision reasons alongside.",
)
@requires(KeyScope.METRICS_READ)
async def metrics_loss_reasons(request: Request, where: Window) -> dict[str, Any]:
    return {"window": _window(where), **await service.loss_reasons(read_pool(request), where)}


Currency = Annotated[
    str | None,
    Query(pattern="^[A-Z]{3}$", description="Only this currency (ISO 4217).", examples=["EUR"]),
]


@router.get(
    "/revenue",
    response_model=RevenuePublic,
    summary="Revenue won and lost",
    description="Per currency (amounts are never summed across currencies): the deals won, "
    "lost and left without decision among the latest closings in the window, at the value each "
    "had when it closed, with the average won deal; and every loss in the window by reason, "
    "competitor and status lost from, with its value.",
)
@requires(KeyScope.METRICS_READ)
async def metrics_revenue(
    request: Request,
    where: Window,
    currency: Currency = None,
) -> dict[str, Any]:
    currencies = await money.revenue(read_pool(request), where, currency=currency)
    return {"window": _window(where), "currency": currency, "currencies": currencies}


@router.get(
    "/pipeline-value",
    response_model=PipelineValuePublic,
    summary="Open pipeline value, weighted, and sales velocity",
    description="The open deals of the pipeline now, per currency and open status: value and "
    "weighted value (each deal's own probability, else its status's from the pipeline, else "
    "the status's historical rate of reaching won, saying which), each status's historical "
    "rate, and sales velocity with its terms (win rate, average deal and cycle from the "
    "window). Owner, source and segment filter the deals.",
)
@requires(KeyScope.METRICS_READ)
async def metrics_pipeline_value(request: Request, where: Window, currency: Currency = None) -> Any:
    figures = await money.pipeline_value(
        read_pool(request), where, now=utc_now(), currency=currency
    )
    return {"window": _window(where), "currency": currency, **figures}


@router.get(
    "/forecast",
    response_model=ForecastPublic,
    summary="Forecast by expected close date",
    description="The open deals now by the month or quarter of their expected close date, per "
    "currency and forecast category (their status's), with value and weighted value; the deals "
    "won in each period; and the cumulative rollups (closed, commit, best case, open pipeline); "
    "open deals without a close date apart.",
)
@requires(KeyScope.METRICS_READ)
async def metrics_forecast(
    request: Request,
    where: Window,
    period: Annotated[
        money.Period, Query(description="Group close dates by month or quarter.")
    ] = "month",
    currency: Currency = None,
) -> Any:
    figures = await money.forecast(
        read_pool(request), where, now=utc_now(), period=period, currency=currency
    )
    return {"window": _window(where), "currency": currency, **figures}


@router.get(
    "/hygiene",
    response_model=HygienePublic,
    summary="Stale deals and first-contact time",
    description="The pipeline's open deals now that have sat in their status longer than its "
    "`stale_after_days`, per status and per owner; and how long new leads waited for their "
    "first contact (their stay in the initial status, ended in the window): median and p90 "
    "days overall, per owner and per source, with the leads still waiting.",
)
@requires(KeyScope.METRICS_READ)
async def metrics_hygiene(request: Request, where: Window) -> Any:
    figures = await hygiene.hygiene(read_pool(request), where, now=utc_now())
    return {"window": _window(where), **figures}


@router.get(
    "/owners",
    response_model=OwnersPage,
    summary="Rep performance",
    description="Per owner: leads, won, lost, win rate and median cycle days; sortable, paged.",
)
@requires(KeyScope.METRICS_READ)
async def metrics_owners(
    request: Request,
    where: Window,
    sort: Annotated[service.OwnerSort, Query(description="Field to sort by.")] = "won",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    items, total = await service.owners(
        read_pool(request), where, sort=sort, descending=order == "desc", limit=limit, offset=offset
    )
    return {"window": _window(where), "items": items, "total": total}


@router.get(
    "/sources",
    response_model=SourcesPublic,
    summary="Lead-source quality",
    description="Per source: leads, conversion rate, disqualified and dead rates.",
)
@requires(KeyScope.METRICS_READ)
async def metrics_sources(request: Request, where: Window) -> dict[str, Any]:
    return {"window": _window(where), "items": await service.sources(read_pool(request), where)}


@router.get(
    "/funnel",
    response_model=FunnelPublic,
    summary="Funnel and time in status",
    description="For the leads created in the window: how many reached each stage of the "
    "pipeline (its current version's open statuses, then won) and went on; and the median and "
    "p90 days spent in each open status, over stays that ended in the window.",
)
@requires(KeyScope.METRICS_READ)
async def metrics_funnel(request: Request, where: Window) -> dict[str, Any]:
    return {"window": _window(where), **await service.funnel(read_pool(request), where)}


@router.get(
    "/timeseries",
    response_model=SeriesPublic,
    summary="A metric over time",
    description="One metric per day, week or month, with explicit bucket starts; empty buckets "
    "are included (counts 0, rates null).",
)
@requires(KeyScope.METRICS_READ)
async def metrics_timeseries(
    request: Request,
    where: Window,
    metric: service.SeriesMetric,
    interval: service.Interval = "week",
) -> dict[str, Any]:
    points = await service.timeseries(read_pool(request), where, metric=metric, interval=interval)
    return {"window": _window(where), "metric": metric, "interval": interval, "points": points}
