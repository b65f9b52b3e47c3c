"""What reps do next at each open status, and which reason codes they pick, as weighted mixes.

The status odds depend on the lead's source, segment and owner, so they are built once per
combination and cached; the reason mixes are fixed. Every code here is one of the domain's: a
misspelt one would make `Lead.transition()` refuse the move and the generator stop.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache

from app.demo.market import LeadSource, SalesRep, Segment
from app.demo.mix import Mix


class S(StrEnum):
    """The `default` pipeline's statuses, which the demo's market model is written for."""

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


INBOUND_SOURCES = frozenset({"web_form", "webinar", "referral", "partner", "trade_show"})

CONTACT_INBOUND: Mix[str] = Mix.of(
    {"inbound_request": 0.5, "call_connected": 0.25, "meeting_booked": 0.2, "outreach_reply": 0.05}
)
CONTACT_OUTBOUND: Mix[str] = Mix.of(
    {"outreach_reply": 0.5, "call_connected": 0.35, "meeting_booked": 0.15}
)
QUALIFY: Mix[str] = Mix.of(
    {
        "need_confirmed": 0.32,
        "budget_confirmed": 0.25,
        "timeline_confirmed": 0.2,
        "authority_confirmed": 0.15,
        "scope_changed": 0.08,
    }
)
NEGOTIATE: Mix[str] = Mix.of(
    {"proposal_sent": 0.6, "pricing_discussed": 0.3, "contract_review": 0.1}
)
WIN_SELF_SERVE: Mix[str] = Mix.of({"online_checkout": 0.8, "purchase_order": 0.2})
WIN_SIGNED: Mix[str] = Mix.of({"contract_signed": 0.65, "purchase_order": 0.35})
LOSS_EARLY: Mix[str] = Mix.of(
    {
        "budget": 0.24,
        "feature_gap": 0.22,
        "timing": 0.18,
        "competitor": 0.18,
        "price": 0.12,
        "other": 0.06,
    }
)
"""Lost from `qualified`: weak qualification shows as budget, fit and timing."""
LOSS_LATE: Mix[str] = Mix.of(
    {
        "competitor": 0.36,
        "price": 0.30,
        "feature_gap": 0.12,
        "budget": 0.09,
        "timing": 0.08,
        "other": 0.05,
    }
)
"""Lost from `negotiating`: positioning and price."""
STALL: Mix[str] = Mix.of({"unresponsive": 0.55, "postponed": 0.3, "status_quo": 0.15})
RECYCLE: Mix[str] = Mix.of(
    {"not_ready": 0.35, "timing": 0.25, "budget_next_cycle": 0.2, "nurture": 0.2}
)
DISQUALIFY: Mix[str] = Mix.of(
    {
        "not_a_fit": 0.3,
        "no_need": 0.22,
        "too_small": 0.15,
        "personal_or_student": 0.13,
        "wrong_region": 0.1,
        "duplicate": 0.1,
    }
)
UNREACHABLE: Mix[str] = Mix.of(
    {
        "email_bounced": 0.35,
        "unreachable": 0.3,
        "invalid_phone": 0.2,
        "out_of_business": 0.1,
        "returned_mail": 0.05,
    }
)
REOPEN_AFTER = {
    S.RECYCLED: Mix.of(
        {
            "timing_right": 0.35,
            "budget_approved": 0.3,
            "needs_changed": 0.15,
            "new_stakeholder": 0.15,
            "other": 0.05,
        }
    ),
    S.NO_DECISION: Mix.of(
        {
            "new_stakeholder": 0.35,
            "timing_right": 0.3,
            "budget_approved": 0.2,
            "needs_changed": 0.1,
            "other": 0.05,
        }
    ),
    S.LOST: Mix.of(
        {"budget_approved": 0.35, "needs_changed": 0.3, "new_stakeholder": 0.25, "other": 0.1}
    ),
}
COMEBACK_CHANCE = {S.RECYCLED: 0.38, S.NO_DECISION: 0.2, S.LOST: 0.09}
"""Chance a closed deal is reopened at all (a lost-to-competitor deal gets a second look more)."""


@cache
def discovery(source: LeadSource) -> Mix[S]:
    """From `contacted`: the source decides how many qualify and how many were never a fit."""
    return Mix.of(
        {
            S.QUALIFIED: source.qualifies,
            S.DISQUALIFIED: source.poor_fit * 0.6,
            S.RECYCLED: 0.3,
            S.NO_DECISION: 0.18,
            S.DEAD: source.unreachable * 0.25,
        }
    )


@cache
def evaluation(segment: Segment, rep: SalesRep) -> Mix[S]:
    """From `qualified`: most go to a proposal; small deals may buy straight away."""
    return Mix.of(
        {
            S.NEGOTIATING: 0.58,
            S.WON: segment.self_serve * rep.closing,
            S.LOST: 0.1 / rep.closing,
            S.NO_DECISION: 0.09,
            S.RECYCLED: 0.1,
            S.DISQUALIFIED: 0.05,
        }
    )


@cache
def closing(source: LeadSource, segment: Segment, rep: SalesRep, *, may_step_back: bool) -> Mix[S]:
    """From `negotiating`: the rep, the source and the deal size set the win odds."""
    return Mix.of(
        {
            S.WON: 0.22 * rep.closing * source.win_lift * segment.win_lift,
            S.LOST: 0.34,
            S.NO_DECISION: 0.12,
            S.RECYCLED: 0.05,
            S.QUALIFIED: 0.05 if may_step_back else 0.0,
        }
    )
