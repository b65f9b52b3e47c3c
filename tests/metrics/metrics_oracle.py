"""The metric definitions of domain.md, computed in plain Python over raw rows.

Written apart from the SQL on purpose: the tests compare the API's figures with these, so a
wrong join, a missed filter or a double count in the queries shows up as a difference. Every
figure is defined over the outcomes recorded on the history rows; only the funnel and the time in
status speak of one pipeline's statuses, by their position among the open statuses of the
version each change was decided under (`stages`, read from the definition documents).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

CLOSING = ("won", "lost", "no_decision", "recycled", "disqualified", "dead")
REMAP = "pipeline_remap"
FUNNEL_STAGES = 12
WON_STAGE = FUNNEL_STAGES + 1
DEFAULT = "default"

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Filters:
    start: datetime
    end: datetime
    owner: str | None = None
    source: str | None = None
    segment: str | None = None
    pipeline: str | None = None

    def lead_ok(self, lead: Row, owner: str | None) -> bool:
        return (
            (self.owner is None or owner == self.owner)
            and (self.source is None or lead["source"] == self.source)
            and (self.segment is None or lead["segment"] == self.segment)
            and (self.pipeline is None or lead["pipeline"] == self.pipeline)
        )

    def change_ok(self, change: Row) -> bool:
        """Changes count for the pipeline, owner, source and segment recorded on them."""
        return self.inside(change["at"]) and self.lead_ok(change, change["owner"])

    def inside(self, at: datetime) -> bool:
        return self.start <= at < self.end


def _rate(n: int, d: int) -> float | None:
    return n / d if d else None


def _days(a: datetime, b: datetime) -> int:
    """Whole days from b to a, floored: the metrics' unit of duration."""
    return (a - b) // timedelta(days=1)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def closes(change: Row) -> bool:
    """A closing change: into a closed outcome, and not a pipeline edit's relabelling."""
    outcome: str = change["to_outcome"]
    reason: str | None = change["reason"]
    return outcome != "open" and reason != REMAP


class Oracle:
    def __init__(
        self,
        leads: Iterable[Row],
        changes: Iterable[Row],
        stages: Mapping[tuple[str, int], Sequence[str]],
        current: Mapping[str, int],
    ) -> None:
        """`stages`: each pipeline version's open statuses in order; `current`: each pipeline's
        current version."""
        self.leads = {lead["id"]: lead for lead in leads}
        self.history: dict[int, list[Row]] = defaultdict(list)
        for change in sorted(changes, key=lambda c: c["id"]):
            self.history[change["lead_id"]].append(change)
        self.stages = stages
        self.current = current

    def open_statuses(self, pipeline: str) -> Sequence[str]:
        return self.stages[(pipeline, self.current[pipeline])]

    def stage(self, change: Row) -> int | None:
        """The funnel stage the change's target is: its open status's number in the version it
        was decided under, or the won stage."""
        if change["to_outcome"] == "won":
            return WON_STAGE
        if change["to_outcome"] != "open":
            return None
        number = (
            list(self.stages[(change["pipeline"], change["pipeline_version"])]).index(
                change["to_status"]
            )
            + 1
        )
        return number if number <= FUNNEL_STAGES else None

    def latest_closings(self, f: Filters) -> list[Row]:
        found = []
        for changes in self.history.values():
            closings = [c for c in changes if closes(c)]
            if closings:
                last = closings[-1]
                if f.change_ok(last):
                    found.append(last)
        return found

    def created(self, f: Filters) -> list[Row]:
        return [
            lead
            for lead in self.leads.values()
            if f.inside(lead["created_at"]) and f.lead_ok(lead, lead["owner"])
        ]

    def summary(self, f: Filters, now: datetime) -> dict[str, Any]:
        closings = self.latest_closings(f)
        by = Counter(c["to_outcome"] for c in closings)
        won, lost, nd = by["won"], by["lost"], by["no_decision"]
        created = self.created(f)
        reopenings = [
            (c, i, changes)
            for changes in self.history.values()
            for i, c in enumerate(changes)
            if c["reopened"] and f.change_ok(c)
        ]
        reopened_won = sum(
            1
            for c, i, changes in reopenings
            if next((n["to_outcome"] for n in changes[i + 1 :] if closes(n)), None) == "won"
        )
        scoped = [lead for lead in self.leads.values() if f.lead_ok(lead, lead["owner"])]
        pipeline = f.pipeline or DEFAULT
        return {
            "created": len(created),
            "closed": len(closings),
            "closed_by_status": {o: by[o] for o in sorted(CLOSING)},
            "win_rate": _rate(won, won + lost),
            "no_decision_rate": _rate(nd, won + lost + nd),
            "conversion_rate": _rate(
                sum(1 for x in created if x["outcome"] == "won"), len(created)
            ),
            "disqualified_rate": _rate(by["disqualified"], len(closings)),
            "dead_rate": _rate(by["dead"], len(closings)),
            "recycle_rate": _rate(by["recycled"], len(closings)),
            "reopened": len(reopenings),
            "reopened_won_rate": _rate(reopened_won, len(reopenings)),
            "median_days_to_won": _median(
                [
                    _days(c["at"], self.leads[c["lead_id"]]["created_at"])
                    for c in closings
                    if c["to_outcome"] == "won"
                ]
            ),
            "pipeline": {
                s: sum(1 for x in scoped if x["pipeline"] == pipeline and x["status"] == s)
                for s in self.open_statuses(pipeline)
            },
            "pipeline_name": pipeline,
            "nurture_due": sum(
                1
                for x in scoped
                if x["outcome"] != "open" and x["revisit_at"] is not None and x["revisit_at"] <= now
            ),
        }

    def loss_reasons(self, f: Filters) -> dict[str, Any]:
        changes = [c for cs in self.history.values() for c in cs if f.change_ok(c) and closes(c)]
        losses = [c for c in changes if c["to_outcome"] == "lost"]
        stalls = [c for c in changes if c["to_outcome"] == "no_decision"]
        return {
            "lost": len(losses),
            "by_reason": dict(Counter(c["reason"] for c in losses)),
            "by_competitor": dict(Counter(c["competitor"] for c in losses if c["competitor"])),
            "by_from_status": dict(Counter(c["from_status"] for c in losses)),
            "no_decision": len(stalls),
            "no_decision_by_reason": dict(Counter(c["reason"] for c in stalls)),
        }

    def owners(self, f: Filters) -> dict[str | None, dict[str, Any]]:
        out: dict[str | None, dict[str, Any]] = defaultdict(
            lambda: {"leads": 0, "won": 0, "lost": 0, "cycles": []}
        )
        for lead in self.created(f):
            out[lead["owner"]]["leads"] += 1
        for c in self.latest_closings(f):
            entry = out[c["owner"]]
            entry["won"] += c["to_outcome"] == "won"
            entry["lost"] += c["to_outcome"] == "lost"
            if c["to_outcome"] == "won":
                entry["cycles"].append(_days(c["at"], self.leads[c["lead_id"]]["created_at"]))
        return {
            owner: {
                "leads": e["leads"],
                "won": e["won"],
                "lost": e["lost"],
                "win_rate": _rate(e["won"], e["won"] + e["lost"]),
                "median_cycle_days": _median(e["cycles"]),
            }
            for owner, e in out.items()
        }

    def sources(self, f: Filters) -> dict[str | None, dict[str, Any]]:
        created: dict[str | None, list[Row]] = defaultdict(list)
        closed: dict[str | None, list[Row]] = defaultdict(list)
        for lead in self.created(f):
            created[lead["source"]].append(lead)
        for c in self.latest_closings(f):
            closed[c["source"]].append(c)
        out = {}
        for source in set(created) | set(closed):
            made, done = created[source], closed[source]
            out[source] = {
                "leads": len(made),
                "conversion_rate": _rate(sum(1 for x in made if x["outcome"] == "won"), len(made)),
                "closed": len(done),
                "disqualified_rate": _rate(
                    sum(1 for c in done if c["to_outcome"] == "disqualified"), len(done)
                ),
                "dead_rate": _rate(sum(1 for c in done if c["to_outcome"] == "dead"), len(done)),
            }
        return out

    def funnel(self, f: Filters) -> list[dict[str, Any]]:
        """The stages of the filter's pipeline (default's when it names none)."""
        pipeline = f.pipeline or DEFAULT
        scoped = Filters(f.start, f.end, f.owner, f.source, f.segment, pipeline)
        held_by_lead: list[set[int]] = []
        for lead in self.created(scoped):
            targets = {self.stage(c) for c in self.history.get(lead["id"], [])}
            held_by_lead.append({1} | {s for s in targets if s is not None})
        stays = self._stays(scoped)
        named = [(n, s) for n, s in enumerate(self.open_statuses(pipeline), start=1)]
        stages = []
        for number, status in [*named[:FUNNEL_STAGES], (WON_STAGE, "won")]:
            reached = sum(number in held for held in held_by_lead)
            advanced = sum(number in held and max(held) > number for held in held_by_lead)
            last = number == WON_STAGE
            stages.append(
                {
                    "status": status,
                    "outcome": "won" if last else "open",
                    "reached": reached,
                    "went_on": None if last else advanced,
                    "went_on_rate": None if last else _rate(advanced, reached),
                    "stays_ended": 0 if last else len(stays.get(status, [])),
                    "median_days_in_status": None if last else _median(stays.get(status, [])),
                    "p90_days_in_status": None if last else _percentile(stays.get(status, []), 0.9),
                }
            )
        return stages

    def _stays(self, f: Filters) -> dict[str, list[float]]:
        """Stays in open statuses (a pipeline edit's remap ends one too) ending in the scope."""
        stays: dict[str, list[float]] = defaultdict(list)
        for lead_id, changes in self.history.items():
            lead = self.leads[lead_id]
            entered = lead["created_at"]
            for c in changes:
                if c["from_outcome"] == "open" and f.change_ok(c):
                    stays[c["from_status"]].append(_days(c["at"], entered))
                entered = c["at"]
        return stays


def _percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _cents(amounts: Iterable[Any]) -> str:
    """A sum of values as the API writes it: a decimal string with two places."""
    return f"{sum((Decimal(a) for a in amounts), Decimal(0)):.2f}"


def revenue(oracle: Oracle, f: Filters) -> dict[str | None, dict[str, Any]]:
    """Per currency, at the value each change recorded: the latest closings won, lost and
    without decision (deals, valued, revenue, and the average won deal), and every loss by
    reason, competitor and status lost from (deals, revenue)."""
    closings = oracle.latest_closings(f)
    losses = [
        c
        for cs in oracle.history.values()
        for c in cs
        if f.change_ok(c) and closes(c) and c["to_outcome"] == "lost"
    ]
    out: dict[str | None, dict[str, Any]] = {}
    for currency in {c["currency"] for c in closings if c["to_outcome"] in MONEY} | {
        c["currency"] for c in losses
    }:
        entry: dict[str, Any] = {}
        for outcome in MONEY:
            deals = [
                c for c in closings if c["to_outcome"] == outcome and c["currency"] == currency
            ]
            values = [c["estimated_value"] for c in deals if c["estimated_value"] is not None]
            entry[outcome] = {"deals": len(deals), "valued": len(values), "revenue": _cents(values)}
            if outcome == "won":
                entry[outcome]["average_deal"] = (
                    f"{(sum(values) / len(values)).quantize(Decimal('0.01'), ROUND_HALF_EVEN)}"
                    if values
                    else None
                )
        mine = [c for c in losses if c["currency"] == currency]
        for key, column in (
            ("reason", "reason"),
            ("competitor", "competitor"),
            ("stage", "from_status"),
        ):
            groups: dict[str, list[Row]] = defaultdict(list)
            for c in mine:
                if c[column] is not None:
                    groups[c[column]].append(c)
            entry[f"lost_by_{key}"] = {
                k: (len(v), _cents(c["estimated_value"] or 0 for c in v)) for k, v in groups.items()
            }
        out[currency] = entry
    return out


MONEY = ("won", "lost", "no_decision")


Properties = Mapping[tuple[str, int], Mapping[str, tuple[float | None, str | None, int | None]]]
"""Per pipeline version: each status's probability, forecast category and staleness, from its
document."""


def _weighted(leads: Iterable[Row], probability: float | None) -> Decimal:
    total = Decimal(0)
    for lead in leads:
        if lead["estimated_value"] is None:
            continue
        own = lead["probability"]
        at = own if own is not None else probability
        if at is not None:
            total += lead["estimated_value"] * Decimal(str(at))
    return total


def _cents_of(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'), ROUND_HALF_EVEN)}"


class OpenMoney:
    """The open pipeline's money as the definitions say, over the oracle's rows."""

    def __init__(self, oracle: Oracle, f: Filters, properties: Properties, now: datetime) -> None:
        self.oracle = oracle
        self.filters = f
        self.now = now
        self.pipeline = f.pipeline or DEFAULT
        self.statuses = list(oracle.open_statuses(self.pipeline))
        self.properties = properties[(self.pipeline, oracle.current[self.pipeline])]
        end = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time.min, UTC)
        year = Filters(end - timedelta(days=365), end, f.owner, f.source, f.segment, self.pipeline)
        held: Counter[int] = Counter()
        won: Counter[int] = Counter()
        for lead in oracle.created(year):
            reached = {1} | {
                s for s in (oracle.stage(c) for c in oracle.history.get(lead["id"], [])) if s
            }
            for stage in reached:
                held[stage] += 1
                won[stage] += WON_STAGE in reached
        self.rates = {
            status: _rate(won[i], held[i])
            for i, status in enumerate(self.statuses[:FUNNEL_STAGES], start=1)
        }
        self.leads = [
            lead
            for lead in oracle.leads.values()
            if lead["pipeline"] == self.pipeline
            and lead["outcome"] == "open"
            and lead["status"] in self.statuses
            and f.lead_ok(lead, lead["owner"])
        ]

    def odds(self, status: str) -> tuple[float | None, str | None]:
        own = self.properties[status][0]
        if own is not None:
            return own, "pipeline"
        historical = self.rates.get(status)
        return historical, "history" if historical is not None else None

    def currencies(self) -> set[str | None]:
        return {lead["currency"] for lead in self.leads}

    def value(self, currency: str | None) -> dict[str, Any]:
        mine = [lead for lead in self.leads if lead["currency"] == currency]
        statuses = []
        weighted = Decimal(0)
        for status in self.statuses:
            deals = [lead for lead in mine if lead["status"] == status]
            values = [d["estimated_value"] for d in deals if d["estimated_value"] is not None]
            probability, basis = self.odds(status)
            part = _weighted(deals, probability)
            weighted += part
            statuses.append(
                {
                    "status": status,
                    "deals": len(deals),
                    "valued": len(values),
                    "value": _cents(values),
                    "own_probability_value": _cents(
                        d["estimated_value"]
                        for d in deals
                        if d["estimated_value"] is not None and d["probability"] is not None
                    ),
                    "weighted": _cents_of(part),
                    "probability": probability,
                    "probability_basis": basis,
                }
            )
        values = [d["estimated_value"] for d in mine if d["estimated_value"] is not None]
        return {
            "statuses": statuses,
            "deals": len(mine),
            "valued": len(values),
            "value": _cents(values),
            "weighted": _cents_of(weighted),
        }

    def won(self, period: str) -> tuple[str, dict[str | None, dict[str, tuple[int, str]]]]:
        """The current period's start, and per currency and period start the deals won there
        (by their latest closing) since the earliest of the open deals' close periods and the
        current one, as (deals, value)."""
        current = _period(self.now.astimezone(UTC).date(), period)
        starts = {
            _period(lead["expected_close_date"], period)
            for lead in self.leads
            if lead["expected_close_date"] is not None
        } | {current}
        first = min(starts)
        after = current.year * 12 + current.month - 1 + (1 if period == "month" else 3)
        f = self.filters
        span = Filters(
            datetime.combine(first, time.min, UTC),
            datetime.combine(date(after // 12, after % 12 + 1, 1), time.min, UTC),
            f.owner,
            f.source,
            f.segment,
            self.pipeline,
        )
        groups: dict[str | None, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
        for c in self.oracle.latest_closings(span):
            if c["to_outcome"] == "won":
                start = _period(c["at"].astimezone(UTC).date(), period).isoformat()
                groups[c["currency"]][start].append(c)
        return current.isoformat(), {
            currency: {
                start: (
                    len(deals),
                    _cents(d["estimated_value"] for d in deals if d["estimated_value"] is not None),
                )
                for start, deals in by_start.items()
            }
            for currency, by_start in groups.items()
        }

    def forecast(self, currency: str | None, period: str) -> dict[str | None, dict[str, Any]]:
        """Period start (None: no close date) -> category -> deals, value, weighted."""
        cells: dict[str | None, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
        for lead in self.leads:
            if lead["currency"] != currency:
                continue
            close = lead["expected_close_date"]
            start = None if close is None else _period(close, period).isoformat()
            category = self.properties[lead["status"]][1] or "pipeline"
            cells[start][category].append(lead)
        out: dict[str | None, dict[str, Any]] = {}
        for start, by_category in cells.items():
            out[start] = {
                c: {
                    "deals": len(by_category.get(c, [])),
                    "value": _cents(
                        d["estimated_value"]
                        for d in by_category.get(c, [])
                        if d["estimated_value"] is not None
                    ),
                    "weighted": _cents_of(
                        sum(
                            (
                                _weighted([d], self.odds(d["status"])[0])
                                for d in by_category.get(c, [])
                            ),
                            Decimal(0),
                        )
                    ),
                }
                for c in ("commit", "best_case", "pipeline", "omitted")
            }
        return out


def _period(day: date, period: str) -> date:
    """The first day of the month or quarter `day` falls in."""
    month = day.month if period == "month" else 3 * ((day.month - 1) // 3) + 1
    return date(day.year, month, 1)


def stale(money: OpenMoney, now: datetime) -> dict[tuple[str, str | None], tuple[int, int]]:
    """(status, owner) -> open leads now, and of them those in their status longer than its
    stale_after_days (since `status_since`)."""
    out: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    for lead in money.leads:
        days = money.properties[lead["status"]][2]
        entry = out[(lead["status"], lead["owner"])]
        entry[0] += 1
        entry[1] += days is not None and now - lead["status_since"] > timedelta(days=days)
    return {k: (v[0], v[1]) for k, v in out.items()}


def first_contact(oracle: Oracle, f: Filters, by: str | None) -> dict[Any, dict[str, Any]]:
    """Stays in the pipeline's initial status that ended in the window, per value of `by` (the
    change's owner or source; None: overall): count, median and p90 whole days."""
    pipeline = f.pipeline or DEFAULT
    scoped = Filters(f.start, f.end, f.owner, f.source, f.segment, pipeline)
    initial = oracle.open_statuses(pipeline)[0]
    days: dict[Any, list[float]] = defaultdict(list)
    for lead_id, changes in oracle.history.items():
        entered = oracle.leads[lead_id]["created_at"]
        for c in changes:
            if c["from_outcome"] == "open" and c["from_status"] == initial and scoped.change_ok(c):
                days[c[by] if by else None].append(_days(c["at"], entered))
            entered = c["at"]
    return {
        k: {"contacted": len(v), "median_days": _median(v), "p90_days": _percentile(v, 0.9)}
        for k, v in days.items()
    }
