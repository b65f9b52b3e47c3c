"""The metric definitions of domain.md, computed in plain Python over raw rows.

Written apart from the SQL on purpose: the tests compare the API's figures with these, so a
wrong join, a missed filter or a double count in the queries shows up as a difference.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

CLOSING = {"won", "lost", "no_decision", "recycled", "disqualified", "dead"}
OPEN = ["new", "contacted", "qualified", "negotiating"]
FUNNEL = ["new", "contacted", "qualified", "negotiating", "won"]

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Filters:
    start: datetime
    end: datetime
    owner: str | None = None
    source: str | None = None
    segment: str | None = None

    def lead_ok(self, lead: Row, owner: str | None) -> bool:
        return (
            (self.owner is None or owner == self.owner)
            and (self.source is None or lead["source"] == self.source)
            and (self.segment is None or lead["segment"] == self.segment)
        )

    def change_ok(self, change: Row) -> bool:
        """Changes count for the owner, source and segment recorded on them."""
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


class Oracle:
    def __init__(self, leads: Iterable[Row], changes: Iterable[Row]) -> None:
        self.leads = {lead["id"]: lead for lead in leads}
        self.history: dict[int, list[Row]] = defaultdict(list)
        for change in sorted(changes, key=lambda c: c["id"]):
            self.history[change["lead_id"]].append(change)

    def latest_closings(self, f: Filters) -> list[Row]:
        found = []
        for changes in self.history.values():
            closings = [c for c in changes if c["to_status"] in CLOSING]
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
        by = Counter(c["to_status"] for c in closings)
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
            if next((n["to_status"] for n in changes[i + 1 :] if n["to_status"] in CLOSING), None)
            == "won"
        )
        scoped = [lead for lead in self.leads.values() if f.lead_ok(lead, lead["owner"])]
        return {
            "created": len(created),
            "closed": len(closings),
            "closed_by_status": {s: by[s] for s in sorted(CLOSING)},
            "win_rate": _rate(won, won + lost),
            "no_decision_rate": _rate(nd, won + lost + nd),
            "conversion_rate": _rate(sum(1 for x in created if x["status"] == "won"), len(created)),
            "disqualified_rate": _rate(by["disqualified"], len(closings)),
            "dead_rate": _rate(by["dead"], len(closings)),
            "recycle_rate": _rate(by["recycled"], len(closings)),
            "reopened": len(reopenings),
            "reopened_won_rate": _rate(reopened_won, len(reopenings)),
            "median_days_to_won": _median(
                [
                    _days(c["at"], self.leads[c["lead_id"]]["created_at"])
                    for c in closings
                    if c["to_status"] == "won"
                ]
            ),
            "pipeline": {s: sum(1 for x in scoped if x["status"] == s) for s in OPEN},
            "nurture_due": sum(
                1
                for x in scoped
                if x["status"] not in OPEN
                and x["revisit_at"] is not None
                and x["revisit_at"] <= now
            ),
        }

    def loss_reasons(self, f: Filters) -> dict[str, Any]:
        changes = [c for cs in self.history.values() for c in cs if f.change_ok(c)]
        losses = [c for c in changes if c["to_status"] == "lost"]
        stalls = [c for c in changes if c["to_status"] == "no_decision"]
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
            entry["won"] += c["to_status"] == "won"
            entry["lost"] += c["to_status"] == "lost"
            if c["to_status"] == "won":
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
                "conversion_rate": _rate(sum(1 for x in made if x["status"] == "won"), len(made)),
                "closed": len(done),
                "disqualified_rate": _rate(
                    sum(1 for c in done if c["to_status"] == "disqualified"), len(done)
                ),
                "dead_rate": _rate(sum(1 for c in done if c["to_status"] == "dead"), len(done)),
            }
        return out

    def funnel(self, f: Filters) -> list[dict[str, Any]]:
        cohort = self.created(f)
        stages = []
        for rank, stage in enumerate(FUNNEL):
            reached = advanced = 0
            for lead in cohort:
                held = {"new"} | {c["to_status"] for c in self.history.get(lead["id"], [])}
                top = max(FUNNEL.index(s) for s in held if s in FUNNEL)
                if stage in held:
                    reached += 1
                    advanced += top > rank
            stays = self._stays(f).get(stage, [])
            last = stage == "won"
            stages.append(
                {
                    "status": stage,
                    "reached": reached,
                    "went_on": None if last else advanced,
                    "went_on_rate": None if last else _rate(advanced, reached),
                    "stays_ended": len(stays),
                    "median_days_in_status": _median(stays),
                    "p90_days_in_status": _percentile(stays, 0.9),
                }
            )
        return stages

    def _stays(self, f: Filters) -> dict[str, list[float]]:
        stays: dict[str, list[float]] = defaultdict(list)
        for lead_id, changes in self.history.items():
            lead = self.leads[lead_id]
            entered = lead["created_at"]
            for c in changes:
                if c["from_status"] in OPEN and f.change_ok(c):
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
