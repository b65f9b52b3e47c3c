"""Shared helpers: a fixed clock and valid requests derived from the REASONS data.

Tests build their requests from the tables rather than by hand, so a reason code added to
`status.py` is exercised without editing the tests; the hand-written spec copies in
`spec_tables.py` are what catch the tables drifting from `domain.md`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.lead import ChangeDetails, Lead
from app.domain.status import REASONS, TRANSITIONS, ExtraField, LeadStatus, ReasonRule

NOW = datetime(2024, 6, 3, 9, 30, tzinfo=UTC)
"""The domain has no clock of its own; every test passes this one (or one derived from it)."""

LATER = NOW + timedelta(days=30)
"""A `revisit_at` safely in the future of NOW."""


def details_for(rule: ReasonRule, *, now: datetime = NOW) -> ChangeDetails:
    """The smallest ChangeDetails that satisfies every extra field `rule` requires."""
    required = rule.requires
    return ChangeDetails(
        note="explained in a note" if ExtraField.NOTE in required else None,
        competitor="Acme CRM" if ExtraField.COMPETITOR in required else None,
        revisit_at=now + timedelta(days=30) if ExtraField.REVISIT_AT in required else None,
        future_opportunity=True if ExtraField.FUTURE_OPPORTUNITY in required else None,
    )


def valid_request(to: LeadStatus, *, now: datetime = NOW) -> tuple[str, ChangeDetails]:
    """A reason code for `to` and the details it needs (the first code listed for `to`)."""
    rule = REASONS[to].reasons[0]
    return rule.code, details_for(rule, now=now)


def source_for(to: LeadStatus) -> LeadStatus:
    """Some status from which the table allows a move to `to`."""
    return next(s for s in LeadStatus if to in TRANSITIONS[s])


def lead_in(status: LeadStatus) -> Lead:
    """A lead that stands in `status`; the rules only read the status for ordinary moves."""
    return Lead(status=status)


def closed_lead(closed: LeadStatus, *, from_status: LeadStatus) -> Lead:
    """A lead that reached `closed` from `from_status` through the real transition and apply()."""
    reason, details = valid_request(closed)
    start = Lead(status=from_status)
    return start.apply(start.transition(closed, reason, now=NOW, details=details))
