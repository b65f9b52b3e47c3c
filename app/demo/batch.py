"""A batch of demo leads: the unit a worker process generates and the loader COPYs.

A batch depends only on its order (the seed, its index in the run, the run's size and `now`) and
on the first lead id it is given, so the same run gives the same leads whichever worker makes
each batch, and a run into a non-empty database differs only in ids and emails.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from random import Random

from app.demo.calendar import WINDOW_DAYS, Calendar
from app.demo.journey import CHANGED_AT, WORKFLOW, ChangeRow, Deal, walk
from app.demo.market import REPS, SEGMENT_MIX, SEGMENTS, SOURCE_MIX, Team
from app.demo.people import COUNTRIES, contact
from app.leads.bulk import Row

BATCH_SIZE = 5_000
"""Leads per batch: big enough to amortize a COPY round trip, small enough to keep COPY busy."""

_SEGMENT_INDEX = {s: i for i, s in enumerate(SEGMENTS)}

CLOSE_WITHIN_DAYS = {"qualified": (21, 120), "negotiating": (5, 45)}
"""How far ahead a rep expects a deal in each late open stage to close (days, low and high)."""
JUDGED_SHARE = 0.6
"""The share of late-stage deals whose rep gave their own probability (the rest go by stage)."""
JUDGED_AROUND = {"qualified": 0.3, "negotiating": 0.6}


def forecast_fields(rng: Random, status: str, today: date) -> tuple[float | None, date | None]:
    """A late-stage open deal's probability (when its rep judged it) and expected close date,
    as reps set them: rounded to 5%, and a date ahead, sooner for deals in negotiation. Early
    and closed deals have neither."""
    window = CLOSE_WITHIN_DAYS.get(status)
    if window is None:
        return None, None
    close = today + timedelta(days=rng.randint(*window))
    if rng.random() >= JUDGED_SHARE:
        return None, close
    judged = min(0.95, max(0.05, rng.gauss(JUDGED_AROUND[status], 0.15)))
    return round(judged * 20) / 20, close


@dataclass(frozen=True, slots=True)
class BatchOrder:
    """`size` leads from rank `first_rank` of a run of `run_size`, ids from `first_lead_id`."""

    index: int
    first_rank: int
    size: int
    run_size: int
    first_lead_id: int
    seed: int
    now: datetime


@dataclass(frozen=True, slots=True)
class Batch:
    """Lead rows in `bulk.LEAD_COLUMNS` order; history rows in `CHANGE_COLUMNS` order minus id."""

    index: int
    leads: list[Row]
    changes: list[ChangeRow]


def plan_batches(
    *, leads: int, seed: int, now: datetime, first_lead_id: int, size: int = BATCH_SIZE
) -> Iterator[BatchOrder]:
    for index in range(math.ceil(leads / size)):
        first = index * size
        yield BatchOrder(
            index, first, min(size, leads - first), leads, first_lead_id + first, seed, now
        )


def make_batch(order: BatchOrder) -> Batch:
    """Generate one batch (in a worker process): each lead walked through the domain rules."""
    rng = Random(f"leadstatus-demo/{order.seed}/{order.index}")
    # A stream of its own, so the forecast fields leave every other draw as it was.
    forecast_rng = Random(f"leadstatus-demo/{order.seed}/{order.index}/forecast")
    calendar = Calendar(order.now, seed=order.seed)
    team = Team(REPS, WINDOW_DAYS)
    leads: list[Row] = []
    changes: list[ChangeRow] = []
    for offset in range(order.size):
        lead_id = order.first_lead_id + offset
        source = SOURCE_MIX.pick(rng)
        segment = SEGMENT_MIX.pick(rng)
        segment_index = _SEGMENT_INDEX[segment]
        country = COUNTRIES.pick(rng)
        created = calendar.created_day((order.first_rank + offset + rng.random()) / order.run_size)
        who = contact(rng, lead_id=lead_id, seed=order.seed, segment=segment_index, country=country)
        value_usd = segment.median_value_usd * rng.lognormvariate(0.0, segment.value_spread)
        value = round(value_usd * country.usd_rate, -2)
        owner = team.assign(rng, segment_index, created)
        journey = walk(
            rng,
            Deal(lead_id, source, segment, created),
            owner=owner,
            team=team,
            calendar=calendar,
        )
        lead = journey.lead
        created_at = calendar.at(created)
        probability, close = forecast_fields(forecast_rng, lead.status, order.now.date())
        last_change = journey.changes[-1][CHANGED_AT] if journey.changes else created_at
        leads.append(
            (
                lead_id,
                *who,
                source.name,
                journey.owner.handle,
                segment.name,
                country.code,
                int(value),
                country.currency,
                probability,
                close,
                lead.status,
                lead.status_reason,
                lead.closed_from,
                lead.version,
                lead.reopen_count,
                lead.revisit_at,
                lead.closed_at,
                created_at,
                last_change,
                last_change,
                WORKFLOW.outcome(lead.status).value,
            )
        )
        # The demo never edits a deal's money: every change records the lead's (its forecast
        # fields as they are at the end, a simplification the rollups do not see).
        money = (int(value), country.currency, probability, close)
        changes.extend((*change, *money) for change in journey.changes)
    return Batch(order.index, leads, changes)
