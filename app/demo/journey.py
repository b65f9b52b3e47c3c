"""One lead's path through the workflow, every step decided by the domain.

The journey proposes what the owner would do next and when; `Lead.transition()` or `Lead.reopen()`
decides it (a refusal would be a bug in the market model, so it propagates), and `Lead.apply()`
advances the lead exactly as the service does on a request. A step that would fall after `now`
is not taken: that is how recent leads stay open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Any, NamedTuple

from app.demo import odds
from app.demo.calendar import Calendar
from app.demo.market import (
    CHECK_IN_NOTES,
    COMPETITORS,
    LOSS_NOTES,
    REOPEN_NOTES,
    LeadSource,
    SalesRep,
    Segment,
    Team,
)
from app.demo.mix import Mix, chance, one_of
from app.demo.odds import S
from app.leads.domain import ChangeDetails, Lead, StatusChange
from app.pipelines.default import DEFAULT_DOCUMENT, DEFAULT_PIPELINE
from app.pipelines.definition import build_workflow
from app.pipelines.workflow import Category

WORKFLOW = build_workflow(DEFAULT_DOCUMENT, pipeline=DEFAULT_PIPELINE, version=1)
"""The demo's leads move through the `default` pipeline as migration 0012 stores it."""
CHANGED_AT = 13
"""Where a `ChangeRow` holds the change's time."""

ChangeRow = tuple[Any, ...]
"""A `lead_status_changes` row without its id, in `bulk.CHANGE_COLUMNS` order after `id`, up to
`to_outcome` (the batch adds the deal's value and currency)."""

REASSIGNED = 0.05
"""Share of leads handed to another rep mid-way (territory changes), besides departures."""
MAX_REOPENINGS = 3
"""Reopenings a lead may have. After the last one a closing sets no revisit date, since nobody
could act on it: a rep who would recycle the lead records it as postponed instead."""
NEVER_WORKED = 0.005
"""Share of leads nobody ever touches: they stay `new`, as in any real CRM."""
QUEUE_DELAYS = Mix.of({2.0: 0.5, 30.0: 0.4, 80.0: 0.1})
"""Mean days (before the owner's pace) from a revisit date until the owner works it: half the
queue is taken within days, much of the rest waits weeks for a quieter spell, and a few slip for
months. That keeps the queue due now small and mostly recent, as on a team that works it."""
CHECK_IN_OUTCOMES: Mix[S] = Mix.of(
    {S.RECYCLED: 0.45, S.NO_DECISION: 0.3, S.DISQUALIFIED: 0.12, S.DEAD: 0.08, S.QUALIFIED: 0.05}
)
"""What a nurture check-in that brought no comeback finds: still not ready (a new revisit
date), silence, no need any more, or nobody there; now and then it qualifies after all."""


class Deal(NamedTuple):
    """The facts about a lead that steer its journey."""

    lead_id: int
    source: LeadSource
    segment: Segment
    created: float
    """Day (since the window opened) the lead arrived."""


class Move(NamedTuple):
    """What the owner does next, `after_days` after the previous step."""

    to: S | None
    reason: str
    after_days: float
    reopen: bool = False
    note: str | None = None
    competitor: str | None = None
    revisit_in: float | None = None
    """Days from the change to its revisit date, for recycling and some losses and stalls."""
    future_opportunity: bool | None = None
    anytime: bool = False
    """The customer acts (an online checkout), so the step keeps its moment, office hours or
    not; every other step is a rep's and waits for the working day."""


@dataclass(slots=True)
class Journey:
    """Where the lead ended up: its status columns, its owner now, and its history."""

    lead: Lead
    owner: SalesRep
    changes: list[ChangeRow]


class _Walk:
    """The state a journey carries between steps; `run()` walks until `now` or a final status."""

    def __init__(self, rng: Random, deal: Deal, owner: SalesRep, team: Team) -> None:
        self.rng = rng
        self.deal = deal
        self.owner = owner
        self.team = team
        self.stepped_back = False
        self.lost_to_competitor = False
        self.revisit_day: float | None = None
        self.reopenings = 0
        self.checking_in = False

    def run(self, calendar: Calendar) -> Journey:
        rng, deal, team = self.rng, self.deal, self.team
        lead = Lead()
        day = deal.created
        changes: list[ChangeRow] = []
        handoff_after = rng.randint(1, 3) if chance(rng, REASSIGNED) else None
        while (move := self.next_move(lead, day)) is not None:
            when = day + move.after_days
            if not move.anytime:
                when = calendar.office_time(when, rng)
            if when > calendar.today:
                break
            if team.left_by(self.owner, when):
                self.owner = team.successor(self.owner)
            elif len(changes) == handoff_after:
                self.owner = team.another(rng, self.owner)
            at = calendar.at(when)
            details = ChangeDetails(
                note=move.note,
                competitor=move.competitor,
                revisit_at=None if move.revisit_in is None else at + timedelta(move.revisit_in),
                future_opportunity=move.future_opportunity,
                actor=self.owner.handle,
            )
            change = self.decided(lead, move, at, details)
            lead = lead.apply(change)
            self.revisit_day = None if move.revisit_in is None else when + move.revisit_in
            changes.append(
                (
                    deal.lead_id,
                    change.from_status,
                    change.to_status,
                    change.reason,
                    change.reopened,
                    details.note,
                    details.competitor,
                    details.revisit_at,
                    details.future_opportunity,
                    details.actor,
                    self.owner.handle,
                    deal.source.name,
                    deal.segment.name,
                    at,
                    change.from_outcome.value,
                    change.to_outcome.value,
                )
            )
            day = when
        if WORKFLOW.status(lead.status).category is not Category.TERMINAL and team.left_by(
            self.owner, calendar.today
        ):
            self.owner = team.successor(self.owner)
        return Journey(lead, self.owner, changes)

    def next_move(self, lead: Lead, day: float) -> Move | None:
        status = S(lead.status)
        self.reopenings = lead.reopen_count
        if status == S.NEW:
            return self.first_touch()
        if status == S.CONTACTED and self.checking_in:
            self.checking_in = False
            return self.decide(status, CHECK_IN_OUTCOMES.pick(self.rng), 1.5)
        if status == S.CONTACTED:
            return self.decide(status, odds.discovery(self.deal.source).pick(self.rng), 7.0)
        if status == S.QUALIFIED:
            mix = odds.evaluation(self.deal.segment, self.owner)
            return self.decide(status, mix.pick(self.rng), 9.0)
        if status == S.NEGOTIATING:
            mix = odds.closing(
                self.deal.source, self.deal.segment, self.owner, may_step_back=not self.stepped_back
            )
            return self.decide(status, mix.pick(self.rng), 16.0)
        if status in odds.COMEBACK_CHANCE and lead.reopen_count < MAX_REOPENINGS:
            return self.comeback(status, day)
        return None

    def days(self, mean: float, *, cycle: bool = True) -> float:
        """A delay around `mean` days, stretched by the owner's pace and the segment's cycle."""
        tempo = self.owner.pace * (self.deal.segment.cycle if cycle else 1.0)
        return mean * tempo * (0.15 + self.rng.expovariate(1.0 / 0.85))

    def first_touch(self) -> Move | None:
        rng, source = self.rng, self.deal.source
        touch = self.days(1.2, cycle=False)
        roll = rng.random()
        if roll < source.unreachable:
            return Move(S.DEAD, odds.UNREACHABLE.pick(rng), touch * 4)
        roll -= source.unreachable
        if roll < source.poor_fit * 0.5:
            return Move(S.DISQUALIFIED, odds.DISQUALIFY.pick(rng), touch)
        roll -= source.poor_fit * 0.5
        if roll < source.inbound:
            return Move(S.QUALIFIED, odds.QUALIFY.pick(rng), touch)
        roll -= source.inbound
        if roll < 0.03:
            return self.decide(S.NEW, S.RECYCLED, 1.2)
        if roll < 0.03 + NEVER_WORKED:
            return None
        inbound = source.name in odds.INBOUND_SOURCES
        reasons = odds.CONTACT_INBOUND if inbound else odds.CONTACT_OUTBOUND
        return Move(S.CONTACTED, reasons.pick(rng), touch)

    def decided(self, lead: Lead, move: Move, at: datetime, details: ChangeDetails) -> StatusChange:
        """The domain's decision on `move`: the change to record (a refusal raises one)."""
        if move.reopen:
            return lead.reopen(WORKFLOW, move.reason, now=at, to=move.to, details=details)
        if move.to is None:
            raise ValueError("only a reopening may leave its target to the domain")
        return lead.transition(WORKFLOW, move.to, move.reason, now=at, details=details)

    def decide(self, current: S, to: S, mean_days: float) -> Move:
        """The move from `current` into `to`, with the reason and extra fields a rep would give."""
        rng, after = self.rng, self.days(mean_days)
        if to == S.QUALIFIED:
            if current == S.NEGOTIATING:
                self.stepped_back = True
                return Move(to, "scope_changed", after)
            return Move(to, odds.QUALIFY.pick(rng), after)
        if to == S.NEGOTIATING:
            return Move(to, odds.NEGOTIATE.pick(rng), after)
        if to == S.WON:
            return self.win(after)
        if to == S.LOST:
            return self.loss(late=current == S.NEGOTIATING, after=after)
        if to == S.NO_DECISION:
            revisit = rng.uniform(60, 240) if chance(rng, 0.35) and self.may_revisit else None
            return Move(to, odds.STALL.pick(rng), after, revisit_in=revisit)
        if to == S.RECYCLED and not self.may_revisit:
            return Move(S.NO_DECISION, "postponed", after)
        if to == S.RECYCLED:
            reason = odds.RECYCLE.pick(rng)
            low, high = (60.0, 200.0) if reason == "budget_next_cycle" else (30.0, 270.0)
            return Move(to, reason, after, revisit_in=rng.uniform(low, high))
        if to == S.DISQUALIFIED:
            return Move(to, odds.DISQUALIFY.pick(rng), after)
        return Move(to, odds.UNREACHABLE.pick(rng), after)

    def queue_delay(self) -> float:
        """Days from a revisit date until the owner gets to it in the nurture queue."""
        return self.owner.pace * self.rng.expovariate(1.0 / QUEUE_DELAYS.pick(self.rng))

    def win(self, after: float) -> Move:
        rng, segment = self.rng, self.deal.segment
        self_serve = segment.self_serve > 0 and chance(rng, 0.5)
        reason = (odds.WIN_SELF_SERVE if self_serve else odds.WIN_SIGNED).pick(rng)
        roll = rng.random()
        more_to_sell = 0.2 if segment.name == "smb" else 0.5
        future = True if roll < more_to_sell else (False if roll < more_to_sell + 0.3 else None)
        return Move(
            S.WON, reason, after, future_opportunity=future, anytime=reason == "online_checkout"
        )

    def loss(self, *, late: bool, after: float) -> Move:
        rng = self.rng
        reasons = odds.LOSS_LATE if late else odds.LOSS_EARLY
        reason = reasons.pick(rng)
        competitor = COMPETITORS.pick(rng) if reason == "competitor" else None
        note = one_of(rng, LOSS_NOTES) if reason == "other" else None
        self.lost_to_competitor = competitor is not None
        revisit = rng.uniform(150, 365) if chance(rng, 0.25) and self.may_revisit else None
        return Move(S.LOST, reason, after, note=note, competitor=competitor, revisit_in=revisit)

    @property
    def may_revisit(self) -> bool:
        """Whether a closing may set a revisit date: one the owner can still act on."""
        return self.reopenings < MAX_REOPENINGS

    def comeback(self, closed: S, day: float) -> Move | None:
        """Reopen a lost, stalled or recycled deal later, or leave it closed for good.

        A deal with a revisit date is in the nurture queue, which its owner works: when the date
        comes the deal either comes back for real or gets a check-in (a reopening that usually
        closes again within days). Only a deal closed without a date may be left alone.
        """
        rng = self.rng
        odds_now = odds.COMEBACK_CHANCE[closed] * (2.0 if self.lost_to_competitor else 1.0)
        back = chance(rng, odds_now)
        if self.revisit_day is None:
            if not back:
                return None
            after = rng.uniform(45.0, 300.0)
        else:
            after = max(self.revisit_day - day, 0.01) + self.queue_delay()
            if not back:
                self.checking_in = True
                self.lost_to_competitor = False
                check_in = one_of(rng, CHECK_IN_NOTES)
                return Move(S.CONTACTED, "other", after, reopen=True, note=check_in)
        if closed == S.LOST and self.lost_to_competitor and chance(rng, 0.5):
            reason = "competitor_failed"
        else:
            reason = odds.REOPEN_AFTER[closed].pick(rng)
        note = one_of(rng, REOPEN_NOTES) if reason == "other" else None
        to = S.CONTACTED if chance(rng, 0.2) else None
        self.lost_to_competitor = False
        return Move(to, reason, after, reopen=True, note=note)


def walk(rng: Random, deal: Deal, *, owner: SalesRep, team: Team, calendar: Calendar) -> Journey:
    """The lead's history from `new` up to `calendar.now`, and where it stands then."""
    return _Walk(rng, deal, owner, team).run(calendar)
