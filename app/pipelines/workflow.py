"""A pipeline's workflow as a value: its statuses, the moves between them and their reason codes.

A `Workflow` is one immutable version of a pipeline definition (built and validated from its
document by `app.pipelines.definition`). Status keys are the customer's; what the service reasons
about is each status's **outcome**, a fixed vocabulary: metrics, reopening and terminality are
defined over outcomes, so two won statuses make one win rate and no code names a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """Where a status sits in the life of a lead."""

    OPEN = "open"
    """Being worked: moves through the table."""
    CLOSED = "closed"
    """Decided for now, but a reopening can bring it back."""
    TERMINAL = "terminal"
    """Decided for good: nothing moves it again."""


class Outcome(StrEnum):
    """What a status means for the metrics: the vocabulary every pipeline maps its statuses to."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"
    NO_DECISION = "no_decision"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"
    DEAD = "dead"

    @property
    def category(self) -> Category:
        if self is Outcome.OPEN:
            return Category.OPEN
        return Category.CLOSED if self in REOPENABLE_OUTCOMES else Category.TERMINAL


REOPENABLE_OUTCOMES: frozenset[Outcome] = frozenset(
    {Outcome.LOST, Outcome.NO_DECISION, Outcome.RECYCLED}
)
"""A no today is not a no forever: these come back by reopening; the other closed ones never."""
CLOSING_OUTCOMES: tuple[Outcome, ...] = tuple(o for o in Outcome if o is not Outcome.OPEN)


class ExtraField(StrEnum):
    """Fields beyond `reason` that a status change may or must carry."""

    NOTE = "note"
    COMPETITOR = "competitor"
    REVISIT_AT = "revisit_at"
    FUTURE_OPPORTUNITY = "future_opportunity"


class ForecastCategory(StrEnum):
    """Where an open status's deals go in a sales forecast (the categories Salesforce uses):
    `commit` will close in the period, `best_case` may, `pipeline` is early, `omitted` is left
    out. Won deals are closed revenue and other closings drop out, so only open statuses carry
    one; an open status without one is `pipeline`."""

    COMMIT = "commit"
    BEST_CASE = "best_case"
    PIPELINE = "pipeline"
    OMITTED = "omitted"


REOPEN = "reopen"
"""The key under which a definition lists reopening's reason codes (no status may be named so)."""

REMAP_REASON = "pipeline_remap"
"""The reserved reason of a change a pipeline edit made (a removed status's leads remapped):
recorded with actor `system`, never accepted from a client."""
SYSTEM_ACTOR = "system"
STALE_REASON = "stale"
"""The reason of an automatic closing of a lead left too long in an open status (a status's
`auto_close_after_days`); reserved in a pipeline that closes automatically."""


@dataclass(frozen=True, slots=True)
class ReasonRule:
    """One standardized reason code and the extra fields it needs."""

    code: str
    label: str
    requires: frozenset[ExtraField] = frozenset()


@dataclass(frozen=True, slots=True)
class TargetRule:
    """What a change into one target accepts: its reason codes and its extra fields."""

    reasons: tuple[ReasonRule, ...]
    optional: frozenset[ExtraField] = frozenset()
    accepted: frozenset[ExtraField] = field(init=False)
    """Every extra field this target takes (note is always welcome)."""
    _by_code: dict[str, ReasonRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Derived once: every status change consults them.
        required = frozenset().union(*(r.requires for r in self.reasons))
        object.__setattr__(self, "accepted", self.optional | required | {ExtraField.NOTE})
        object.__setattr__(self, "_by_code", {r.code: r for r in self.reasons})

    def reason(self, code: str) -> ReasonRule | None:
        return self._by_code.get(code)

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


@dataclass(frozen=True, slots=True)
class Status:
    """One status of a pipeline, with the meaning attached to it."""

    key: str
    label: str
    outcome: Outcome
    description: str | None = None
    probability: float | None = None
    """The chance a lead in this status is won, 0..1 (for forecasts)."""
    stale_after_days: int | None = None
    """Days a lead may sit here before it counts as stale (for pipeline hygiene)."""
    forecast_category: ForecastCategory | None = None
    """Open statuses only: where their deals go in a forecast (None: `pipeline`)."""
    auto_close_after_days: int | None = None
    """Open statuses only: days after which a lead left here is closed as no decision."""
    archived: bool = False
    """Kept for the leads in it (they can still leave), but no move leads into it any more."""

    @property
    def category(self) -> Category:
        return self.outcome.category

    @property
    def is_open(self) -> bool:
        return self.outcome is Outcome.OPEN

    @property
    def reopenable(self) -> bool:
        return self.outcome in REOPENABLE_OUTCOMES


@dataclass(frozen=True, slots=True)
class Workflow:
    """One version of a pipeline: what the domain decides every status change under."""

    pipeline: str
    version: int
    statuses: tuple[Status, ...]
    """In the definition's order; the open ones in that order are the funnel."""
    initial: str
    transitions: Mapping[str, tuple[str, ...]]
    """Ordinary moves per status. Closed statuses leave only by reopening."""
    reopen_targets: tuple[str, ...]
    reasons: Mapping[str, TargetRule]
    """Reason codes per target status."""
    reopen: TargetRule | None
    label: str | None = None
    description: str | None = None
    _by_key: dict[str, Status] = field(init=False, repr=False, compare=False)
    _allowed: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key = {s.key: s for s in self.statuses}
        object.__setattr__(self, "_by_key", by_key)
        # Archived statuses take no new moves: they drop out of every allowed list once here.
        allowed = {
            key: tuple(t for t in self.transitions.get(key, ()) if not by_key[t].archived)
            for key in by_key
        }
        object.__setattr__(self, "_allowed", allowed)

    def has(self, key: str) -> bool:
        return key in self._by_key

    def status(self, key: str) -> Status:
        """The status `key`; KeyError when this version has none by that key."""
        return self._by_key[key]

    def outcome(self, key: str) -> Outcome:
        return self._by_key[key].outcome

    def is_open(self, key: str) -> bool:
        return self._by_key[key].is_open

    def allowed_targets(self, key: str) -> tuple[str, ...]:
        """Where an ordinary move from `key` may go (archived statuses excluded)."""
        return self._allowed.get(key, ())

    def reopenable(self, key: str) -> bool:
        status = self._by_key.get(key)
        return status is not None and status.reopenable and bool(self.open_reopen_targets)

    def auto_close_target(self, key: str) -> str | None:
        """Where a lead left too long in `key` is closed to: the first status of outcome
        `no_decision` that `key` moves to (None: leads in `key` are never closed automatically)."""
        if self._by_key[key].auto_close_after_days is None:
            return None
        return next(
            (
                t
                for t in self.allowed_targets(key)
                if self._by_key[t].outcome is Outcome.NO_DECISION
            ),
            None,
        )

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.statuses)

    @property
    def open_statuses(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.statuses if s.is_open)

    @property
    def reopenable_statuses(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.statuses if s.reopenable)

    @property
    def open_reopen_targets(self) -> tuple[str, ...]:
        """Reopen targets that still take moves (not archived)."""
        return tuple(t for t in self.reopen_targets if not self._by_key[t].archived)

    @property
    def reopen_fallback(self) -> str | None:
        """Where a reopening lands when the status held before closing is not a target."""
        targets = self.open_reopen_targets
        return targets[0] if targets else None
