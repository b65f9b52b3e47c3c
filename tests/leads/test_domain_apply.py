"""`Lead.apply()`: what the row looks like after a change, for every move the table allows.

The repository writes the same fields in one statement, so these effects are what the database
will hold: a new version, the reason, and closing bookkeeping set exactly when a lead closes.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import timedelta

import pytest

from app.leads.domain import ChangeDetails, Lead
from app.pipelines.definition import build_workflow
from app.pipelines.workflow import Workflow
from tests.domain_support import (
    DEFAULT,
    ENTERPRISE,
    ENTERPRISE_DOCUMENT,
    LATER,
    NOW,
    document_moves,
    lead_in,
    params,
    valid_request,
)


def _allowed(wf: Workflow) -> list[tuple[str, str]]:
    return [(a, b) for a, moves in document_moves(wf).items() for b in moves]


@pytest.mark.parametrize(("wf", "start", "to"), params(_allowed))
def test_apply_records_the_move(wf: Workflow, start: str, to: str) -> None:
    """Status, version, reason and closing fields follow from the change and nothing else."""
    lead = Lead(status=start, version=7, reopen_count=2, pipeline=wf.pipeline)
    reason, details = valid_request(wf, to)
    after = lead.apply(lead.transition(wf, to, reason, now=NOW, details=details))

    assert after.status == to
    assert after.version == 8
    assert after.status_reason == reason
    assert after.reopen_count == 2
    assert after.pipeline == wf.pipeline
    assert after.pipeline_version == wf.version
    if wf.is_open(to):
        assert after.closed_at is None
        assert after.closed_from is None
    else:
        assert after.closed_at == NOW
        assert after.closed_from == start
    assert after.revisit_at == details.revisit_at


def test_a_change_records_the_version_it_was_decided_under() -> None:
    """A lead last moved under version 1 and decided under version 3 says both."""
    v3 = build_workflow(ENTERPRISE_DOCUMENT, pipeline="enterprise", version=3)
    lead = Lead(status="discovery", pipeline="enterprise", pipeline_version=1)
    reason, details = valid_request(v3, "negotiation")
    change = lead.transition(v3, "negotiation", reason, now=NOW, details=details)
    assert (change.from_version, change.pipeline_version) == (1, 3)
    assert lead.apply(change).pipeline_version == 3


@pytest.mark.parametrize(
    ("wf", "start", "to", "reason"),
    [
        pytest.param(DEFAULT, "negotiating", "lost", "timing", id="default"),
        pytest.param(ENTERPRISE, "negotiation", "closed_lost", "price", id="enterprise"),
        pytest.param(ENTERPRISE, "discovery", "stalled", "went_dark", id="enterprise-stalled"),
    ],
)
def test_apply_carries_the_revisit_date_of_an_optional_follow_up(
    wf: Workflow, start: str, to: str, reason: str
) -> None:
    """A lost deal with a follow-up date keeps it, so it shows in the nurture queue."""
    lead = lead_in(start, wf)
    change = lead.transition(wf, to, reason, now=NOW, details=ChangeDetails(revisit_at=LATER))
    assert lead.apply(change).revisit_at == LATER


@pytest.mark.parametrize(
    ("wf", "start", "to", "reason"),
    [
        pytest.param(DEFAULT, "contacted", "dead", "email_bounced", id="default"),
        pytest.param(ENTERPRISE, "lead_in", "unqualified", "too_small", id="enterprise"),
    ],
)
def test_closing_time_is_the_time_of_the_change(
    wf: Workflow, start: str, to: str, reason: str
) -> None:
    """closed_at is the change's `at`, not some earlier closing or a wall clock."""
    lead = lead_in(start, wf)
    at = NOW + timedelta(hours=5)
    after = lead.apply(lead.transition(wf, to, reason, now=at))
    assert after.closed_at == at


@pytest.mark.parametrize(
    ("wf", "start", "to", "reason"),
    [
        pytest.param(DEFAULT, "negotiating", "qualified", "scope_changed", id="default"),
        pytest.param(ENTERPRISE, "negotiation", "proof_of_concept", "pilot_started", id="ent"),
    ],
)
def test_moving_between_open_statuses_leaves_closing_fields_empty(
    wf: Workflow, start: str, to: str, reason: str
) -> None:
    """The step back from negotiating to qualified is not a closing."""
    lead = Lead(status=start, version=3, pipeline=wf.pipeline)
    change = lead.transition(wf, to, reason, now=NOW)
    assert change.closes is False
    after = lead.apply(change)
    assert (after.status, after.version) == (to, 4)
    assert after.closed_at is None
    assert after.closed_from is None
    assert after.revisit_at is None


@pytest.mark.parametrize(
    ("wf", "start", "to", "reason"),
    [
        pytest.param(DEFAULT, "qualified", "won", "purchase_order", id="default"),
        pytest.param(ENTERPRISE, "negotiation", "closed_won_upsell", "seats_added", id="ent"),
    ],
)
def test_apply_returns_a_new_lead_and_leaves_the_old_one_alone(
    wf: Workflow, start: str, to: str, reason: str
) -> None:
    """Leads are values: deciding and applying never mutate the lead they start from."""
    lead = lead_in(start, wf)
    before = lead_in(start, wf)
    after = lead.apply(lead.transition(wf, to, reason, now=NOW))
    assert lead == before
    assert after is not lead
    with pytest.raises(FrozenInstanceError):
        lead.status = to  # type: ignore[misc]
