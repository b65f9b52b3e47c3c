"""Reopening: "a no today is not a no forever", but only for deals that are closed, not decided.

Reopening is the only way out of the lost, no-decision and recycled statuses; it returns by
default to where the lead stood when it closed, keeps count, and clears what belonged to the
closed state.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.leads.domain import Lead
from app.pipelines.workflow import Outcome, Workflow
from app.platform.errors import InvalidChange, NotReopenable, UnknownStatus
from tests.domain_support import (
    DEFAULT,
    ENTERPRISE,
    LATER,
    NOW,
    all_reason_codes,
    closed_lead,
    details_for,
    each_workflow,
    expected,
    lead_in,
    params,
    source_for,
)


def _not_reopenable(wf: Workflow) -> list[str]:
    return [k for k in wf.keys if k not in expected(wf).reopenable]


def _reopenable(wf: Workflow) -> list[str]:
    return sorted(expected(wf).reopenable)


def _closings(wf: Workflow) -> list[tuple[str, str]]:
    """Every way a lead can reach a reopenable status: (open status left, closed status reached)."""
    return [
        (opened, closed)
        for opened in wf.open_statuses
        for closed in _reopenable(wf)
        if closed in wf.allowed_targets(opened)
    ]


def _reopen_code(wf: Workflow) -> str:
    return expected(wf).reopen_code


@pytest.mark.parametrize(("wf", "status"), params(_not_reopenable))
def test_only_closed_deals_reopen(wf: Workflow, status: str) -> None:
    """Open leads have nothing to reopen; won, disqualified and dead are decided for good."""
    with pytest.raises(NotReopenable) as caught:
        lead_in(status, wf).reopen(wf, _reopen_code(wf), now=NOW)
    assert caught.value.facts["current_status"] == status
    assert caught.value.facts["reopenable_statuses"] == _reopenable(wf)


@pytest.mark.parametrize(("wf", "status"), params(_reopenable))
def test_reopenable_statuses_reopen(wf: Workflow, status: str) -> None:
    """lost, no_decision and recycled each come back, as a change marked reopened."""
    change = lead_in(status, wf).reopen(wf, _reopen_code(wf), now=NOW)
    assert change.reopened is True
    assert change.from_status == status
    assert change.to_status in expected(wf).reopen_targets
    assert (change.from_outcome, change.to_outcome) == (wf.outcome(status), Outcome.OPEN)


@pytest.mark.parametrize(("wf", "opened", "closed"), params(_closings))
def test_default_target_is_the_open_status_held_at_closing(
    wf: Workflow, opened: str, closed: str
) -> None:
    """Lost in negotiation returns to negotiating; recycled while new returns to contacted."""
    lead = closed_lead(wf, closed, from_status=opened)
    assert lead.closed_from == opened
    facts = expected(wf)
    want = opened if opened in facts.reopen_targets else facts.reopen_fallback
    assert lead.default_reopen_target(wf) == want
    assert lead.reopen(wf, _reopen_code(wf), now=NOW).to_status == want


@pytest.mark.parametrize("wf", each_workflow())
def test_default_target_without_a_recorded_closing_is_the_fallback(wf: Workflow) -> None:
    """A closed lead whose open status is unknown falls back to contacted (default pipeline)."""
    closed = _reopenable(wf)[0]
    lead = Lead(status=closed, closed_from=None, pipeline=wf.pipeline)
    assert lead.reopen(wf, _reopen_code(wf), now=NOW).to_status == expected(wf).reopen_fallback
    assert DEFAULT.reopen_fallback == "contacted"


@pytest.mark.parametrize("wf", each_workflow())
def test_closings_reach_every_reopenable_status(wf: Workflow) -> None:
    """Every reopenable status is reachable from some open status, so the closings cover them
    all, and some closing leaves a status that is no reopen target (the fallback is exercised)."""
    closings = _closings(wf)
    assert {closed for _, closed in closings} == expected(wf).reopenable
    assert any(opened not in expected(wf).reopen_targets for opened, _ in closings)


def _explicit(wf: Workflow) -> list[tuple[str, str]]:
    return [(status, to) for status in _reopenable(wf) for to in wf.keys]


@pytest.mark.parametrize(("wf", "status", "to"), params(_explicit))
def test_explicit_target_must_be_an_open_working_status(wf: Workflow, status: str, to: str) -> None:
    """A reopening may name contacted, qualified or negotiating; never new or a closed status."""
    lead = closed_lead(wf, status, from_status=source_for(wf, status))
    targets = expected(wf).reopen_targets
    if to in targets:
        assert lead.reopen(wf, _reopen_code(wf), now=NOW, to=to).to_status == to
        return
    with pytest.raises(InvalidChange) as caught:
        lead.reopen(wf, _reopen_code(wf), now=NOW, to=to)
    assert caught.value.facts["field"] == "to"
    assert caught.value.facts["allowed_targets"] == sorted(targets)


@pytest.mark.parametrize("wf", each_workflow())
def test_an_explicit_target_the_pipeline_lacks_is_unknown(wf: Workflow) -> None:
    """Naming a status of another pipeline (or none) is refused as unknown, on `to`."""
    closed = _reopenable(wf)[0]
    lead = closed_lead(wf, closed, from_status=source_for(wf, closed))
    other = "discovery" if wf is DEFAULT else "contacted"
    with pytest.raises(UnknownStatus) as caught:
        lead.reopen(wf, _reopen_code(wf), now=NOW, to=other)
    assert caught.value.facts["field"] == "to"


def _reopen_codes(wf: Workflow) -> list[str]:
    assert wf.reopen is not None
    return wf.reopen.codes


@pytest.mark.parametrize(("wf", "code"), params(_reopen_codes))
def test_every_reopen_reason_is_accepted(wf: Workflow, code: str) -> None:
    """The reopen dropdown is its own list; `other` comes with its note."""
    closed = _reopenable(wf)[0]
    lead = closed_lead(wf, closed, from_status=source_for(wf, closed))
    assert wf.reopen is not None
    rule = wf.reopen.reason(code)
    assert rule is not None
    assert lead.reopen(wf, code, now=NOW, details=details_for(rule)).reason == code


def _closing_codes(wf: Workflow) -> list[str]:
    return [*sorted(all_reason_codes(wf) - set(_reopen_codes(wf))), "nonsense"]


@pytest.mark.parametrize(("wf", "code"), params(_closing_codes))
def test_closing_reasons_do_not_reopen(wf: Workflow, code: str) -> None:
    """A reason from the closing dropdowns (or none at all) is not a reason to reopen."""
    closed = _reopenable(wf)[0]
    lead = closed_lead(wf, closed, from_status=source_for(wf, closed))
    with pytest.raises(InvalidChange) as caught:
        lead.reopen(wf, code, now=NOW)
    assert caught.value.facts["field"] == "reason"


def test_closing_reasons_cover_the_classic_examples() -> None:
    """The parametrization above includes the codes the spec's examples name."""
    assert {"price", "contract_signed", "not_ready"} <= set(_closing_codes(DEFAULT))
    assert {"price", "order_form_signed", "not_ready"} <= set(_closing_codes(ENTERPRISE))


@pytest.mark.parametrize(
    ("wf", "recycled", "opened", "code"),
    [
        pytest.param(DEFAULT, "recycled", "qualified", "timing_right", id="default"),
        pytest.param(ENTERPRISE, "nurture", "negotiation", "champion_returned", id="enterprise"),
    ],
)
def test_reopening_is_counted_and_clears_the_closed_state(
    wf: Workflow, recycled: str, opened: str, code: str
) -> None:
    """apply() of a reopening: count +1, no revisit date, no closing time, a new version."""
    lead = closed_lead(wf, recycled, from_status=opened)
    assert lead.revisit_at == LATER
    assert lead.closed_at == NOW
    later = NOW + timedelta(days=40)
    change = lead.reopen(wf, code, now=later)
    assert change.reopened is True
    reopened = lead.apply(change)
    assert reopened.status == opened
    assert reopened.reopen_count == lead.reopen_count + 1
    assert reopened.revisit_at is None
    assert reopened.closed_at is None
    assert reopened.closed_from is None
    assert reopened.version == lead.version + 1
    assert reopened.status_reason == code


@pytest.mark.parametrize(
    ("wf", "opened", "lost", "code"),
    [
        pytest.param(DEFAULT, "negotiating", "lost", "budget_approved", id="default"),
        pytest.param(ENTERPRISE, "negotiation", "closed_lost", "budget_released", id="enterprise"),
    ],
)
def test_reopen_count_accumulates_over_closings(
    wf: Workflow, opened: str, lost: str, code: str
) -> None:
    """Lost, reopened, lost again, reopened again: two reopenings, and each returns correctly."""
    lead = lead_in(opened, wf)
    for round_ in (1, 2):
        lead = lead.apply(lead.transition(wf, lost, "price", now=NOW))
        lead = lead.apply(lead.reopen(wf, code, now=NOW))
        assert lead.reopen_count == round_
        assert lead.status == opened
