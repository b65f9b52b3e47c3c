"""Response models of the metrics API; each field's description is its exact definition."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

Rate = Annotated[float | None, Field(ge=0, le=1)]


class WindowPublic(BaseModel):
    start: datetime = Field(alias="from", description="Inclusive start of the window (UTC).")
    end: datetime = Field(alias="to", description="Exclusive end of the window (UTC).")
    owner: str | None
    source: str | None
    segment: str | None
    pipeline: str | None = Field(
        default=None, description="The pipeline filter; null: every pipeline."
    )

    model_config = {"populate_by_name": True}


class SummaryPublic(BaseModel):
    window: WindowPublic
    created: int = Field(description="Leads created in the window (their current owner).")
    closed: int = Field(
        description="Leads whose latest closing change falls in the window, each counted once, "
        "by the outcome of that change: a deal lost, reopened and won counts as won. A change "
        "a pipeline edit made (reason `pipeline_remap`) is no closing."
    )
    closed_by_status: dict[str, int] = Field(
        description="`closed`, per closing outcome (won, lost, no_decision, recycled, "
        "disqualified, dead), whatever each pipeline calls its statuses."
    )
    win_rate: Rate = Field(description="won / (won + lost) among `closed`; null if both are 0.")
    no_decision_rate: Rate = Field(description="no_decision / (won + lost + no_decision).")
    conversion_rate: Rate = Field(
        description="Of the leads created in the window, the share won now."
    )
    disqualified_rate: Rate = Field(description="disqualified / closed.")
    dead_rate: Rate = Field(description="dead / closed.")
    recycle_rate: Rate = Field(description="recycled / closed.")
    reopened: int = Field(description="Reopenings in the window.")
    reopened_won_rate: Rate = Field(
        description="Of the reopenings in the window, the share whose deal was won afterwards."
    )
    median_days_to_won: float | None = Field(
        description="Median whole days (elapsed, rounded down) from creation to the won"
        " outcome, over the leads won in the window."
    )
    pipeline: dict[str, int] = Field(
        description="Open leads by status now (not windowed), for each open status of the"
        " current version of `pipeline_name`."
    )
    pipeline_name: str = Field(
        description="The pipeline `pipeline` counts the leads of: the `pipeline` filter, else"
        " `default`."
    )
    nurture_due: int = Field(
        description="Closed leads whose `revisit_at` has come (not windowed): the nurture queue."
    )


class Ranked(BaseModel):
    count: int


class ReasonCount(Ranked):
    reason: str


class CompetitorCount(Ranked):
    competitor: str


class StatusCount(Ranked):
    status: str


class LossReasonsPublic(BaseModel):
    window: WindowPublic
    lost: int = Field(
        description="Every change to the lost outcome in the window, reopened ones included."
    )
    by_reason: list[ReasonCount] = Field(description="Losses by reason code, most frequent first.")
    by_competitor: list[CompetitorCount] = Field(description="Losses naming a competitor.")
    by_from_status: list[StatusCount] = Field(
        description="Losses by the open status they were lost from: early losses point at "
        "qualification, late ones at positioning or price."
    )
    no_decision: int = Field(description="Every change to the no_decision outcome in the window.")
    no_decision_by_reason: list[ReasonCount]


class OwnerPublic(BaseModel):
    owner: str | None = Field(description="The rep; null for unassigned leads.")
    leads: int = Field(description="Leads created in the window that this rep owns now.")
    won: int = Field(description="Latest closings as won in the window, made by this rep.")
    lost: int = Field(description="Latest closings as lost in the window, made by this rep.")
    win_rate: Rate = Field(description="won / (won + lost).")
    median_cycle_days: float | None = Field(
        description="Median whole days from creation to the won outcome (the sales cycle), over"
        " the deals this rep won in the window; null when none."
    )


class OwnersPage(BaseModel):
    window: WindowPublic
    items: list[OwnerPublic]
    total: int = Field(description="Owners in all pages.")


class SourcePublic(BaseModel):
    source: str | None
    leads: int = Field(description="Leads from this source created in the window.")
    conversion_rate: Rate = Field(description="Of those, the share won now.")
    closed: int = Field(description="Latest closings in the window of leads from this source.")
    disqualified_rate: Rate = Field(description="disqualified / closed.")
    dead_rate: Rate = Field(description="dead / closed.")


class SourcesPublic(BaseModel):
    window: WindowPublic
    items: list[SourcePublic]


class StagePublic(BaseModel):
    status: str = Field(
        description="An open status of the pipeline's current version, or `won` (any status"
        " with the won outcome) for the last stage."
    )
    outcome: str = Field(description="`open`, or `won` for the last stage.")
    reached: int = Field(
        description="Leads created in the window that ever held this stage: the open status at"
        " this position of the version each change was decided under (the first stage: every"
        " lead)."
    )
    went_on: int | None = Field(description="Of those, how many reached a later stage.")
    went_on_rate: Rate = Field(description="went_on / reached.")
    stays_ended: int = Field(description="Stays in this status that ended in the window.")
    median_days_in_status: float | None
    p90_days_in_status: float | None


class FunnelPublic(BaseModel):
    window: WindowPublic
    pipeline: str = Field(description="The pipeline: the `pipeline` filter, else `default`.")
    version: int = Field(description="Its current version, whose open statuses name the stages.")
    stages: list[StagePublic] = Field(
        description="The pipeline's open statuses in position order (at most 12), then won; for"
        " `default`: new, contacted, qualified, negotiating, won."
    )


class PointPublic(BaseModel):
    start: datetime = Field(description="Start of the bucket (UTC).")
    value: int | float | None = Field(
        description="The metric over the part of the bucket in the window: a whole number for the "
        "counts (`created`, `won`, `lost`), a fraction from 0 to 1 for the rates, null for a rate "
        "of nothing."
    )


class SeriesPublic(BaseModel):
    window: WindowPublic
    metric: str
    interval: str
    points: list[PointPublic]


class DealsPublic(BaseModel):
    deals: int = Field(
        description="Latest closings in the window with this outcome, in this currency (as "
        "`closed_by_status` counts them)."
    )
    valued: int = Field(description="Of those, the deals that carried a value.")
    revenue: Decimal = Field(
        description="The sum of their values, each as the closing recorded it: the value the "
        "deal had when it closed (a later edit of a closed deal does not rewrite it)."
    )


class WonDealsPublic(DealsPublic):
    average_deal: Decimal | None = Field(
        description="revenue / valued: the average won deal; null when none carried a value."
    )


class LossMoney(BaseModel):
    deals: int = Field(description="Losses (every loss in the window, as loss reasons count).")
    revenue: Decimal = Field(description="The sum of their values when they were lost.")


class ReasonMoney(LossMoney):
    reason: str


class CompetitorMoney(LossMoney):
    competitor: str


class StageMoney(LossMoney):
    status: str = Field(description="The open status the deals were lost from.")


class CurrencyRevenuePublic(BaseModel):
    currency: str | None = Field(
        description="ISO 4217 code; null for deals without a currency. Amounts are never "
        "summed across currencies."
    )
    won: WonDealsPublic
    lost: DealsPublic
    no_decision: DealsPublic
    lost_by_reason: list[ReasonMoney] = Field(description="Largest lost revenue first.")
    lost_by_competitor: list[CompetitorMoney] = Field(
        description="Losses naming a competitor, largest lost revenue first."
    )
    lost_by_stage: list[StageMoney] = Field(
        description="By the open status lost from, largest lost revenue first."
    )


class RevenuePublic(BaseModel):
    window: WindowPublic
    currency: str | None = Field(description="The currency filter; null: every currency.")
    currencies: list[CurrencyRevenuePublic] = Field(
        description="One entry per currency seen in the window (alphabetical, null last)."
    )


class OpenValue(BaseModel):
    deals: int = Field(description="Open deals (now).")
    valued: int = Field(description="Of those, the deals that carry a value.")
    value: Decimal = Field(description="The sum of their values now.")
    own_probability_value: Decimal = Field(
        description="The part of `value` carried by deals with their own `probability`, "
        "which weighs them (the rest is weighted at `probability`)."
    )
    weighted: Decimal = Field(
        description="Sum of value x probability: each deal's own probability when it has "
        "one, else `probability` (deals left unweighted when that is null)."
    )


class ProbabilityBasis(StrEnum):
    """Where a status's win probability comes from."""

    PIPELINE = "pipeline"
    """The status's `probability` in the pipeline definition."""
    HISTORY = "history"
    """The status's historical rate of reaching won."""


class StatusValue(OpenValue):
    status: str
    probability: float | None = Field(
        description="What the deals without their own probability are weighted at."
    )
    probability_basis: ProbabilityBasis | None = Field(
        description="Where `probability` comes from: the status's `probability` in the "
        "pipeline definition, else `history` (its historical rate of reaching won); null when "
        "neither is known."
    )


class VelocityPublic(BaseModel):
    open_deals: int = Field(description="Open deals with a value in this currency.")
    win_rate: Rate = Field(
        description="won / (won + lost) among the latest closings in the window."
    )
    average_deal: Decimal | None = Field(
        description="The average won deal in this currency in the window."
    )
    median_cycle_days: float | None = Field(
        description="Median whole days from creation to won, over the deals won in the window."
    )
    per_day: Decimal | None = Field(
        description="open_deals x win_rate x average_deal / median_cycle_days: the revenue the "
        "pipeline moves per day; null when a term is unknown or the cycle is 0."
    )


class CurrencyPipelinePublic(BaseModel):
    currency: str | None
    statuses: list[StatusValue] = Field(description="Each open status of the pipeline, in order.")
    deals: int
    valued: int
    value: Decimal
    weighted: Decimal
    velocity: VelocityPublic


class ConversionPublic(BaseModel):
    status: str
    historical_rate: Rate = Field(
        description="Of the leads created over the trailing year (365 days to the end of today) "
        "that ever held this status (its stage), the share won now; null when none did, or "
        "past the funnel's first 12 stages."
    )


class PipelineValuePublic(BaseModel):
    window: WindowPublic
    pipeline: str = Field(description="The `pipeline` filter, else `default`.")
    version: int = Field(description="Its current version, whose open statuses are listed.")
    currency: str | None = Field(description="The currency filter; null: every currency.")
    conversion: list[ConversionPublic]
    currencies: list[CurrencyPipelinePublic]


class ForecastCell(BaseModel):
    deals: int
    value: Decimal
    weighted: Decimal


class ForecastClosed(BaseModel):
    deals: int = Field(description="Deals whose latest closing, in this period, is won.")
    value: Decimal = Field(description="The sum of the values those closings recorded.")


class ForecastPeriod(BaseModel):
    start: date = Field(
        description="First day of the month or quarter (of expected close for open deals, of "
        "closing for won ones)."
    )
    categories: dict[str, ForecastCell] = Field(
        description="commit, best_case, pipeline and omitted: the open deals whose status has "
        "that `forecast_category` (`pipeline` when it names none)."
    )
    closed: ForecastClosed = Field(description="The deals won in this period.")
    cumulative: dict[str, Decimal] = Field(
        description="The forecast's rollups of `value`: closed; commit = closed + commit; "
        "best_case = closed + commit + best case; pipeline = commit + best case + pipeline, the "
        "open pipeline (omitted counts in none)."
    )


class CurrencyForecastPublic(BaseModel):
    currency: str | None
    periods: list[ForecastPeriod] = Field(
        description="Earliest first: from the earliest expected close of an open deal (or the "
        "current period, if earlier) to the latest, each period with an open or a won deal, "
        "and the current period always."
    )
    unscheduled: dict[str, ForecastCell] | None = Field(
        description="Open deals without an expected close date, by category."
    )


class ForecastPublic(BaseModel):
    window: WindowPublic
    pipeline: str
    version: int
    period: Literal["month", "quarter"]
    currency: str | None
    currencies: list[CurrencyForecastPublic]


class StaleStatus(BaseModel):
    status: str
    stale_after_days: int | None = Field(description="The status's staleness (null: never).")
    open: int = Field(description="Open leads in this status now.")
    stale: int = Field(description="Of those, the ones in it longer than `stale_after_days`.")


class StaleOwner(BaseModel):
    owner: str | None
    open: int
    stale: int


class StalePublic(BaseModel):
    open: int = Field(description="Open leads of the pipeline now (under the filters).")
    stale: int = Field(
        description="Of those, the ones that have sat in their status (since `status_since`) "
        "longer than its `stale_after_days` in the pipeline's current version."
    )
    by_status: list[StaleStatus] = Field(description="Each open status, in order.")
    by_owner: list[StaleOwner] = Field(description="Most stale first.")


class FirstContactBy(BaseModel):
    contacted: int = Field(description="Stays in the initial status that ended in the window.")
    median_days: float | None
    p90_days: float | None


class FirstContactOwner(FirstContactBy):
    owner: str | None = Field(description="The owner recorded on the first move.")


class FirstContactSource(FirstContactBy):
    source: str | None


class FirstContactPublic(BaseModel):
    status: str = Field(description="The pipeline's initial status.")
    waiting: int = Field(description="Leads in it now: not contacted yet.")
    contacted: int = Field(
        description="Leads whose stay in it ended in the window (their first status change)."
    )
    median_days: float | None = Field(
        description="Median whole days from creation to that first change."
    )
    p90_days: float | None = Field(description="p90 of the same.")
    by_owner: list[FirstContactOwner] = Field(description="Most contacted first.")
    by_source: list[FirstContactSource] = Field(description="Most contacted first.")


class HygienePublic(BaseModel):
    window: WindowPublic
    pipeline: str
    version: int
    stale: StalePublic = Field(description="Now, not windowed.")
    first_contact: FirstContactPublic
