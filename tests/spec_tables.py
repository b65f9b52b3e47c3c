"""The workflow tables of the domain description (domain.md), copied by hand as plain literals.

Deliberately independent of the app's pipeline code: the tests compare the default workflow
(built from `app.pipelines.default.DEFAULT_DOCUMENT`) with these, so an edit to the shipped
document that the spec does not make (or the reverse) fails a test.
"""

from __future__ import annotations

OPEN = {"new", "contacted", "qualified", "negotiating"}
REOPENABLE = {"lost", "no_decision", "recycled"}
TERMINAL = {"won", "disqualified", "dead"}
REOPEN_TARGETS = {"contacted", "qualified", "negotiating"}

TRANSITIONS: dict[str, set[str]] = {
    "new": {"contacted", "qualified", "recycled", "disqualified", "dead"},
    "contacted": {"qualified", "no_decision", "recycled", "disqualified", "dead"},
    "qualified": {"negotiating", "won", "lost", "no_decision", "recycled", "disqualified"},
    "negotiating": {"qualified", "won", "lost", "no_decision", "recycled"},
    "lost": set(),
    "no_decision": set(),
    "recycled": set(),
    "won": set(),
    "disqualified": set(),
    "dead": set(),
}

REASON_CODES: dict[str, set[str]] = {
    "contacted": {"outreach_reply", "call_connected", "meeting_booked", "inbound_request"},
    "qualified": {
        "budget_confirmed",
        "need_confirmed",
        "authority_confirmed",
        "timeline_confirmed",
        "scope_changed",
    },
    "negotiating": {"proposal_sent", "pricing_discussed", "contract_review"},
    "won": {"contract_signed", "purchase_order", "online_checkout"},
    "lost": {"price", "competitor", "feature_gap", "budget", "timing", "other"},
    "no_decision": {"unresponsive", "postponed", "status_quo"},
    "recycled": {"not_ready", "timing", "budget_next_cycle", "nurture"},
    "disqualified": {
        "not_a_fit",
        "no_need",
        "too_small",
        "wrong_region",
        "personal_or_student",
        "duplicate",
    },
    "dead": {"out_of_business", "email_bounced", "invalid_phone", "returned_mail", "unreachable"},
}

REOPEN_CODES = {
    "budget_approved",
    "needs_changed",
    "competitor_failed",
    "timing_right",
    "new_stakeholder",
    "other",
}
