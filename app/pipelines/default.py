"""The shipped `default` pipeline: the workflow of the domain brief, as a definition document.

A deployment that never defines a pipeline runs on this one (migration 0012 stores it as
version 1). It is a document like any customer's, built and validated by the same code.
"""

from __future__ import annotations

from typing import Any

DEFAULT_PIPELINE = "default"

DEFAULT_DOCUMENT: dict[str, Any] = {
    "label": "Default sales workflow",
    "initial": "new",
    "statuses": [
        {
            "key": "new",
            "label": "New",
            "description": "Just arrived; nobody has worked it.",
            "outcome": "open",
        },
        {
            "key": "contacted",
            "label": "Contacted",
            "description": "A rep has reached the prospect.",
            "outcome": "open",
        },
        {
            "key": "qualified",
            "label": "Qualified",
            "description": "Fit and need confirmed (budget, authority, need, timeline).",
            "outcome": "open",
        },
        {
            "key": "negotiating",
            "label": "Negotiating",
            "description": "Proposal or pricing under discussion.",
            "outcome": "open",
        },
        {
            "key": "won",
            "label": "Won",
            "description": "Deal signed; the lead is now a customer.",
            "outcome": "won",
        },
        {
            "key": "lost",
            "label": "Lost",
            "description": "A qualified prospect formally declined.",
            "outcome": "lost",
        },
        {
            "key": "no_decision",
            "label": "No decision",
            "description": "The prospect went silent or postponed indefinitely.",
            "outcome": "no_decision",
        },
        {
            "key": "recycled",
            "label": "Recycled",
            "description": "Not ready yet; revisit at a set date.",
            "outcome": "recycled",
        },
        {
            "key": "disqualified",
            "label": "Disqualified",
            "description": "Not a fit at all, now or later.",
            "outcome": "disqualified",
        },
        {
            "key": "dead",
            "label": "Dead",
            "description": "Unreachable: out of business, bounced email, wrong number.",
            "outcome": "dead",
        },
    ],
    "transitions": {
        "new": ["contacted", "qualified", "recycled", "disqualified", "dead"],
        "contacted": ["qualified", "no_decision", "recycled", "disqualified", "dead"],
        "qualified": ["negotiating", "won", "lost", "no_decision", "recycled", "disqualified"],
        "negotiating": ["qualified", "won", "lost", "no_decision", "recycled"],
    },
    "reopen_targets": ["contacted", "qualified", "negotiating"],
    "reasons": {
        "contacted": {
            "codes": [
                {"code": "outreach_reply", "label": "Replied to outreach"},
                {"code": "call_connected", "label": "Call connected"},
                {"code": "meeting_booked", "label": "Meeting booked"},
                {"code": "inbound_request", "label": "Inbound request"},
            ]
        },
        "qualified": {
            "codes": [
                {"code": "budget_confirmed", "label": "Budget confirmed"},
                {"code": "need_confirmed", "label": "Need confirmed"},
                {"code": "authority_confirmed", "label": "Authority confirmed"},
                {"code": "timeline_confirmed", "label": "Timeline confirmed"},
                {"code": "scope_changed", "label": "Scope changed"},
            ]
        },
        "negotiating": {
            "codes": [
                {"code": "proposal_sent", "label": "Proposal sent"},
                {"code": "pricing_discussed", "label": "Pricing discussed"},
                {"code": "contract_review", "label": "Contract under review"},
            ]
        },
        "won": {
            "codes": [
                {"code": "contract_signed", "label": "Contract signed"},
                {"code": "purchase_order", "label": "Purchase order received"},
                {"code": "online_checkout", "label": "Online checkout"},
            ],
            "optional": ["future_opportunity"],
        },
        "lost": {
            "codes": [
                {"code": "price", "label": "Price"},
                {"code": "competitor", "label": "Chose a competitor", "requires": ["competitor"]},
                {"code": "feature_gap", "label": "Feature gap"},
                {"code": "budget", "label": "No budget"},
                {"code": "timing", "label": "Bad timing"},
                {"code": "other", "label": "Other (explain in the note)", "requires": ["note"]},
            ],
            "optional": ["competitor", "revisit_at"],
        },
        "no_decision": {
            "codes": [
                {"code": "unresponsive", "label": "Went silent"},
                {"code": "postponed", "label": "Postponed indefinitely"},
                {"code": "status_quo", "label": "Kept the status quo"},
            ],
            "optional": ["revisit_at"],
        },
        "recycled": {
            "codes": [
                {"code": "not_ready", "label": "Not ready yet", "requires": ["revisit_at"]},
                {"code": "timing", "label": "Bad timing", "requires": ["revisit_at"]},
                {
                    "code": "budget_next_cycle",
                    "label": "Budget in the next cycle",
                    "requires": ["revisit_at"],
                },
                {"code": "nurture", "label": "Nurture", "requires": ["revisit_at"]},
            ]
        },
        "disqualified": {
            "codes": [
                {"code": "not_a_fit", "label": "Not a fit"},
                {"code": "no_need", "label": "No need"},
                {"code": "too_small", "label": "Too small"},
                {"code": "wrong_region", "label": "Wrong region"},
                {"code": "personal_or_student", "label": "Personal or student"},
                {"code": "duplicate", "label": "Duplicate"},
            ]
        },
        "dead": {
            "codes": [
                {"code": "out_of_business", "label": "Out of business"},
                {"code": "email_bounced", "label": "Email bounced"},
                {"code": "invalid_phone", "label": "Invalid phone"},
                {"code": "returned_mail", "label": "Returned mail"},
                {"code": "unreachable", "label": "Unreachable"},
            ]
        },
        "reopen": {
            "codes": [
                {"code": "budget_approved", "label": "Budget approved"},
                {"code": "needs_changed", "label": "Needs changed"},
                {"code": "competitor_failed", "label": "Competitor failed"},
                {"code": "timing_right", "label": "Timing is right now"},
                {"code": "new_stakeholder", "label": "New stakeholder"},
                {"code": "other", "label": "Other (explain in the note)", "requires": ["note"]},
            ]
        },
    },
}
