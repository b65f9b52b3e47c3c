"""Reopening: "a no today is not a no forever", but only for deals that are closed, not decided.

Reopening is the only way out of lost, no_decision and recycled; it returns by default to where
the lead stood when it closed, keeps count, and clears what belonged to the closed state.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.errors import InvalidChange, NotReopenable
from app.domain.lead import ChangeDetails, Lead
from app.domain.status import (
    OPEN_STATUSES,
    REOPEN_RULE,
    REOPEN_TARGETS,
    REOPENABLE,
    TRANSITIONS,
    LeadStatus,
)

from ._support import LATER, NOW, closed_lead, lead_in

NOT_REOPENABLE = [s for s in LeadStatus if s not in REOPENABLE]
CLOSINGS = [
    (opened, closed)
    for opened in OPEN_STATUSES
    for closed in sorted(REOPENABLE)
    if closed in TRANSITIONS[opened]
]
"""Every way a lead can reach a reopenable status: (open status left, closed status reached)."""


@pytest.mark.parametrize("status", NOT_REOPENABLE, ids=str)
def test_only_closed_deals_reopen(status: LeadStatus) -> None:
    """Open leads have nothing to reopen; won, disqualified and dead are decided for good."""
    with pytest.raises(NotReopenable) as caught:
        lead_in(status).reopen("budget_approved", now=NOW)
    assert caught.value.facts["current_status"] == status
    assert caught.value.facts["reopenable_statuses"] == sorted(REOPENABLE)


@pytest.mark.parametrize("status", sorted(REOPENABLE), ids=str)
def test_reopenable_statuses_reopen(status: LeadStatus) -> None:
    """lost, no_decision and recycled each come back, as a change marked reopened."""
    change = lead_in(status).reopen("timing_right", now=NOW)
    assert change.reopened is True
    assert change.from_status == status
    assert change.to_status in REOPEN_TARGETS


@pytest.mark.parametrize(("opened", "closed"), CLOSINGS, ids=str)
def test_default_target_is_the_open_status_held_at_closing(
    opened: LeadStatus, closed: LeadStatus
) -> None:
    """Lost in negotiation returns to negotiating; recycled while new returns to contacted."""
    lead = closed_lead(closed, from_status=opened)
    assert lead.closed_from == opened
    expected = LeadStatus.CONTACTED if opened is LeadStatus.NEW else opened
    assert lead.default_reopen_target() == expected
    assert lead.reopen("needs_changed", now=NOW).to_status == expected


def test_default_target_without_a_recorded_closing_is_contacted() -> None:
    """A closed lead whose open status is unknown falls back to contacted."""
    lead = Lead(status=LeadStatus.LOST, closed_from=None)
    assert lead.reopen("needs_changed", now=NOW).to_status == LeadStatus.CONTACTED


def test_closings_reach_every_reopenable_status() -> None:
    """Every reopenable status is reachable from some open status, so CLOSINGS covers them all."""
    assert {closed for _, closed in CLOSINGS} == REOPENABLE
    assert any(opened is LeadStatus.NEW for opened, _ in CLOSINGS)


@pytest.mark.parametrize("status", sorted(REOPENABLE), ids=str)
@pytest.mark.parametrize("to", list(LeadStatus), ids=str)
def test_explicit_target_must_be_an_open_working_status(status: LeadStatus, to: LeadStatus) -> None:
    """A reopening may name contacted, qualified or negotiating; never new or a closed status."""
    lead = closed_lead(status, from_status=LeadStatus.QUALIFIED)
    if to in REOPEN_TARGETS:
        assert lead.reopen("new_stakeholder", now=NOW, to=to).to_status == to
        return
    with pytest.raises(InvalidChange) as caught:
        lead.reopen("new_stakeholder", now=NOW, to=to)
    assert caught.value.facts["field"] == "to"
    assert caught.value.facts["allowed_targets"] == sorted(REOPEN_TARGETS)


@pytest.mark.parametrize("code", [r.code for r in REOPEN_RULE.reasons])
def test_every_reopen_reason_is_accepted(code: str) -> None:
    """The reopen dropdown is its own list; `other` comes with its note."""
    lead = closed_lead(LeadStatus.NO_DECISION, from_status=LeadStatus.CONTACTED)
    details = ChangeDetails(note="explained") if code == "other" else ChangeDetails()
    assert lead.reopen(code, now=NOW, details=details).reason == code


@pytest.mark.parametrize("code", ["price", "contract_signed", "not_ready", "nonsense"])
def test_closing_reasons_do_not_reopen(code: str) -> None:
    """A reason from the closing dropdowns (or none at all) is not a reason to reopen."""
    lead = closed_lead(LeadStatus.LOST, from_status=LeadStatus.NEGOTIATING)
    with pytest.raises(InvalidChange) as caught:
        lead.reopen(code, now=NOW)
    assert caught.value.facts["field"] == "reason"


def test_reopening_is_counted_and_clears_the_closed_state() -> None:
    """apply() of a reopening: count +1, no revisit date, no closing time, a new version."""
    recycled = closed_lead(LeadStatus.RECYCLED, from_status=LeadStatus.QUALIFIED)
    assert recycled.revisit_at == LATER
    assert recycled.closed_at == NOW
    later = NOW + timedelta(days=40)
    change = recycled.reopen("timing_right", now=later)
    assert change.reopened is True
    reopened = recycled.apply(change)
    assert reopened.status == LeadStatus.QUALIFIED
    assert reopened.reopen_count == recycled.reopen_count + 1
    assert reopened.revisit_at is None
    assert reopened.closed_at is None
    assert reopened.closed_from is None
    assert reopened.version == recycled.version + 1
    assert reopened.status_reason == "timing_right"


def test_reopen_count_accumulates_over_closings() -> None:
    """Lost, reopened, lost again, reopened again: two reopenings, and each returns correctly."""
    lead = Lead(status=LeadStatus.NEGOTIATING)
    for round_ in (1, 2):
        lead = lead.apply(lead.transition(LeadStatus.LOST, "price", now=NOW))
        lead = lead.apply(lead.reopen("budget_approved", now=NOW))
        assert lead.reopen_count == round_
        assert lead.status == LeadStatus.NEGOTIATING
