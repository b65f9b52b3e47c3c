"""The default sales workflow as data: statuses, the transition table and the reason codes.

Everything else (the domain checks, `/v1/workflow`, OpenAPI enums, database constraints and the
tests) reads these tables, so the workflow is changed in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """Where a status sits in the life of a lead."""

    OPEN = "open"
    """Being worked: moves forward (or one step back) through the table."""
    CLOSED = "closed"
    """Decided for now, but a reopening can bring it back."""
    TERMINAL = "terminal"
    """Decided for good: nothing moves it again."""


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    NEGOTIATING = "negotiating"
    WON = "won"
    LOST = "lost"
    NO_DECISION = "no_decision"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"
    DEAD = "dead"


class ExtraField(StrEnum):
    """Fields beyond `reason` that a status change may or must carry."""

    NOTE = "note"
    COMPETITOR = "competitor"
    REVISIT_AT = "revisit_at"
    FUTURE_OPPORTUNITY = "future_opportunity"


S = LeadStatus

CATEGORY: dict[LeadStatus, Category] = {
    S.NEW: Category.OPEN,
    S.CONTACTED: Category.OPEN,
    S.QUALIFIED: Category.OPEN,
    S.NEGOTIATING: Category.OPEN,
    S.LOST: Category.CLOSED,
    S.NO_DECISION: Category.CLOSED,
    S.RECYCLED: Category.CLOSED,
    S.WON: Category.TERMINAL,
    S.DISQUALIFIED: Category.TERMINAL,
    S.DEAD: Category.TERMINAL,
}

DESCRIPTION: dict[LeadStatus, str] = {
    S.NEW: "Just arrived; nobody has worked it.",
    S.CONTACTED: "A rep has reached the prospect.",
    S.QUALIFIED: "Fit and need confirmed (budget, authority, need, timeline).",
    S.NEGOTIATING: "Proposal or pricing under discussion.",
    S.WON: "Deal signed; the lead is now a customer.",
    S.LOST: "A qualified prospect formally declined.",
    S.NO_DECISION: "The prospect went silent or postponed indefinitely.",
    S.RECYCLED: "Not ready yet; revisit at a set date.",
    S.DISQUALIFIED: "Not a fit at all, now or later.",
    S.DEAD: "Unreachable: out of business, bounced email, wrong number.",
}

TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    S.NEW: frozenset({S.CONTACTED, S.QUALIFIED, S.RECYCLED, S.DISQUALIFIED, S.DEAD}),
    S.CONTACTED: frozenset({S.QUALIFIED, S.NO_DECISION, S.RECYCLED, S.DISQUALIFIED, S.DEAD}),
    S.QUALIFIED: frozenset(
        {S.NEGOTIATING, S.WON, S.LOST, S.NO_DECISION, S.RECYCLED, S.DISQUALIFIED}
    ),
    S.NEGOTIATING: frozenset({S.QUALIFIED, S.WON, S.LOST, S.NO_DECISION, S.RECYCLED}),
    S.WON: frozenset(),
    S.LOST: frozenset(),
    S.NO_DECISION: frozenset(),
    S.RECYCLED: frozenset(),
    S.DISQUALIFIED: frozenset(),
    S.DEAD: frozenset(),
}
"""Ordinary moves. Closed statuses leave only by reopening (see REOPENABLE, REOPEN_TARGETS)."""

REOPENABLE: frozenset[LeadStatus] = frozenset({S.LOST, S.NO_DECISION, S.RECYCLED})
REOPEN_TARGETS: frozenset[LeadStatus] = frozenset({S.CONTACTED, S.QUALIFIED, S.NEGOTIATING})
REOPEN_FALLBACK = S.CONTACTED
"""Where a reopening lands when the status held before closing is not a reopen target (`new`)."""


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


def _r(code: str, label: str, *requires: ExtraField) -> ReasonRule:
    return ReasonRule(code, label, frozenset(requires))


F = ExtraField

REASONS: dict[LeadStatus, TargetRule] = {
    S.CONTACTED: TargetRule(
        (
            _r("outreach_reply", "Replied to outreach"),
            _r("call_connected", "Call connected"),
            _r("meeting_booked", "Meeting booked"),
            _r("inbound_request", "Inbound request"),
        )
    ),
    S.QUALIFIED: TargetRule(
        (
            _r("budget_confirmed", "Budget confirmed"),
            _r("need_confirmed", "Need confirmed"),
            _r("authority_confirmed", "Authority confirmed"),
            _r("timeline_confirmed", "Timeline confirmed"),
            _r("scope_changed", "Scope changed"),
        )
    ),
    S.NEGOTIATING: TargetRule(
        (
            _r("proposal_sent", "Proposal sent"),
            _r("pricing_discussed", "Pricing discussed"),
            _r("contract_review", "Contract under review"),
        )
    ),
    S.WON: TargetRule(
        (
            _r("contract_signed", "Contract signed"),
            _r("purchase_order", "Purchase order received"),
            _r("online_checkout", "Online checkout"),
        ),
        optional=frozenset({F.FUTURE_OPPORTUNITY}),
    ),
    S.LOST: TargetRule(
        (
            _r("price", "Price"),
            _r("competitor", "Chose a competitor", F.COMPETITOR),
            _r("feature_gap", "Feature gap"),
            _r("budget", "No budget"),
            _r("timing", "Bad timing"),
            _r("other", "Other (explain in the note)", F.NOTE),
        ),
        optional=frozenset({F.COMPETITOR, F.REVISIT_AT}),
    ),
    S.NO_DECISION: TargetRule(
        (
            _r("unresponsive", "Went silent"),
            _r("postponed", "Postponed indefinitely"),
            _r("status_quo", "Kept the status quo"),
        ),
        optional=frozenset({F.REVISIT_AT}),
    ),
    S.RECYCLED: TargetRule(
        (
            _r("not_ready", "Not ready yet", F.REVISIT_AT),
            _r("timing", "Bad timing", F.REVISIT_AT),
            _r("budget_next_cycle", "Budget in the next cycle", F.REVISIT_AT),
            _r("nurture", "Nurture", F.REVISIT_AT),
        )
    ),
    S.DISQUALIFIED: TargetRule(
        (
            _r("not_a_fit", "Not a fit"),
            _r("no_need", "No need"),
            _r("too_small", "Too small"),
            _r("wrong_region", "Wrong region"),
            _r("personal_or_student", "Personal or student"),
            _r("duplicate", "Duplicate"),
        )
    ),
    S.DEAD: TargetRule(
        (
            _r("out_of_business", "Out of business"),
            _r("email_bounced", "Email bounced"),
            _r("invalid_phone", "Invalid phone"),
            _r("returned_mail", "Returned mail"),
            _r("unreachable", "Unreachable"),
        )
    ),
}
"""Reason codes per target status (`new` is only ever a starting point)."""

REOPEN_RULE = TargetRule(
    (
        _r("budget_approved", "Budget approved"),
        _r("needs_changed", "Needs changed"),
        _r("competitor_failed", "Competitor failed"),
        _r("timing_right", "Timing is right now"),
        _r("new_stakeholder", "New stakeholder"),
        _r("other", "Other (explain in the note)", F.NOTE),
    )
)


def category(status: LeadStatus) -> Category:
    return CATEGORY[status]


def is_open(status: LeadStatus) -> bool:
    return CATEGORY[status] is Category.OPEN


OPEN_STATUSES: tuple[LeadStatus, ...] = tuple(s for s in LeadStatus if is_open(s))
CLOSING_STATUSES: tuple[LeadStatus, ...] = tuple(s for s in LeadStatus if not is_open(s))
ALL_REASON_CODES: frozenset[str] = frozenset(
    r.code for rule in (*REASONS.values(), REOPEN_RULE) for r in rule.reasons
)
