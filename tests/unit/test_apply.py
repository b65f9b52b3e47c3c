"""`Lead.apply()`: what the row looks like after a change, for every move the table allows.

The repository writes the same fields in one statement, so these effects are what the database
will hold: a new version, the reason, and closing bookkeeping set exactly when a lead closes.
"""

from __future__ import annotations

import itertools
from dataclasses import FrozenInstanceError
from datetime import timedelta

import pytest

from app.domain.lead import ChangeDetails, Lead
from app.domain.status import TRANSITIONS, LeadStatus, is_open

from ._support import LATER, NOW, valid_request

ALLOWED = [(a, b) for a, b in itertools.product(LeadStatus, LeadStatus) if b in TRANSITIONS[a]]


def _id(pair: tuple[LeadStatus, LeadStatus]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


@pytest.mark.parametrize("pair", ALLOWED, ids=_id)
def test_apply_records_the_move(pair: tuple[LeadStatus, LeadStatus]) -> None:
    """Status, version, reason and closing fields follow from the change and nothing else."""
    start, to = pair
    lead = Lead(status=start, version=7, reopen_count=2)
    reason, details = valid_request(to)
    after = lead.apply(lead.transition(to, reason, now=NOW, details=details))

    assert after.status == to
    assert after.version == 8
    assert after.status_reason == reason
    assert after.reopen_count == 2
    if is_open(to):
        assert after.closed_at is None
        assert after.closed_from is None
    else:
        assert after.closed_at == NOW
        assert after.closed_from == start
    assert after.revisit_at == details.revisit_at


def test_apply_carries_the_revisit_date_of_an_optional_follow_up() -> None:
    """A lost deal with a follow-up date keeps it, so it shows in the nurture queue."""
    lead = Lead(status=LeadStatus.NEGOTIATING)
    change = lead.transition(
        LeadStatus.LOST, "timing", now=NOW, details=ChangeDetails(revisit_at=LATER)
    )
    assert lead.apply(change).revisit_at == LATER


def test_closing_time_is_the_time_of_the_change() -> None:
    """closed_at is the change's `at`, not some earlier closing or a wall clock."""
    lead = Lead(status=LeadStatus.CONTACTED)
    at = NOW + timedelta(hours=5)
    after = lead.apply(lead.transition(LeadStatus.DEAD, "email_bounced", now=at))
    assert after.closed_at == at


def test_moving_between_open_statuses_leaves_closing_fields_empty() -> None:
    """The step back from negotiating to qualified is not a closing."""
    lead = Lead(status=LeadStatus.NEGOTIATING, version=3)
    after = lead.apply(lead.transition(LeadStatus.QUALIFIED, "scope_changed", now=NOW))
    assert (after.status, after.version) == (LeadStatus.QUALIFIED, 4)
    assert after.closed_at is None
    assert after.closed_from is None
    assert after.revisit_at is None


def test_apply_returns_a_new_lead_and_leaves_the_old_one_alone() -> None:
    """Leads are values: deciding and applying never mutate the lead they start from."""
    lead = Lead(status=LeadStatus.QUALIFIED)
    before = Lead(status=LeadStatus.QUALIFIED)
    after = lead.apply(lead.transition(LeadStatus.WON, "purchase_order", now=NOW))
    assert lead == before
    assert after is not lead
    with pytest.raises(FrozenInstanceError):
        lead.status = LeadStatus.WON  # type: ignore[misc]
