"""Random walks through the workflow: whatever a client tries, the lead's state stays coherent.

Hypothesis draws sequences of attempted transitions and reopenings (biased towards valid ones so
walks get far, but with wrong targets, foreign reasons and stray extras mixed in) on a clock that
advances one hour per step, and checks the invariants after every step. Both workflows under
test are walked: the default one and the enterprise pipeline of `tests/domain_support.py`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from app.leads.domain import ChangeDetails, Lead, StatusChange
from app.pipelines.workflow import Category, TargetRule, Workflow
from app.platform.errors import NotReopenable, ServiceError, TransitionNotAllowed
from tests import spec_tables as spec
from tests.domain_support import (
    DEFAULT,
    NOW,
    all_reason_codes,
    details_for,
    document_moves,
    each_workflow,
    expected,
)

HOUR = timedelta(hours=1)
PICKS = 64
"""Indices are drawn up front and taken modulo the list they pick from (statuses, codes)."""


class Step(NamedTuple):
    """One attempted request, drawn up front and read against whatever the lead is by then."""

    reopen_roll: int
    """Reopen when below 4 (of 8) for a reopenable lead, below 1 otherwise."""
    aim_allowed: bool
    """Pick the target among the allowed ones (when there are any) rather than all statuses."""
    target_pick: int
    reopen_to: tuple[bool, int] | None
    """None for the default target; otherwise (among the reopen targets only?, index)."""
    own_reason: bool
    """Pick the reason from the target's own dropdown rather than from every code there is."""
    reason_pick: int
    use_valid_extras: bool
    """Send exactly the extras the reason requires rather than the random ones below."""
    note: str | None
    competitor: str | None
    revisit: int | str | None
    """Hours from now (past, present or future), "naive" for a date without offset, or None."""
    future_opportunity: bool | None


STEPS = st.builds(
    Step,
    reopen_roll=st.integers(0, 7),
    aim_allowed=st.booleans(),
    target_pick=st.integers(0, PICKS - 1),
    reopen_to=st.one_of(st.none(), st.tuples(st.booleans(), st.integers(0, PICKS - 1))),
    own_reason=st.integers(0, 4).map(bool),
    reason_pick=st.integers(0, PICKS - 1),
    use_valid_extras=st.booleans(),
    note=st.sampled_from([None, "", "why"]),
    competitor=st.sampled_from([None, "", "Acme CRM"]),
    revisit=st.one_of(st.none(), st.integers(-48, 24 * 365), st.just("naive")),
    future_opportunity=st.sampled_from([None, True, False]),
)


def _any_codes(wf: Workflow) -> list[str]:
    return [*sorted(all_reason_codes(wf)), "bogus", ""]


def _request(
    wf: Workflow, step: Step, rule: TargetRule | None, now: datetime
) -> tuple[str, ChangeDetails]:
    """Mostly a reason of the right dropdown; extras either the required ones or anything."""
    codes = [r.code for r in rule.reasons] if rule and step.own_reason else _any_codes(wf)
    reason = codes[step.reason_pick % len(codes)]
    found = rule.reason(reason) if rule else None
    if found is not None and step.use_valid_extras:
        return reason, details_for(found, now=now)
    if step.revisit == "naive":
        revisit_at: datetime | None = (now + 30 * 24 * HOUR).replace(tzinfo=None)
    else:
        revisit_at = None if step.revisit is None else now + int(step.revisit) * HOUR
    return reason, ChangeDetails(step.note, step.competitor, revisit_at, step.future_opportunity)


def _attempt(wf: Workflow, step: Step, lead: Lead, now: datetime) -> StatusChange:
    """Put one transition or reopening request (reopenings mostly where they may succeed)."""
    if step.reopen_roll < (4 if lead.status in expected(wf).reopenable else 1):
        reason, details = _request(wf, step, wf.reopen, now)
        to = None
        if step.reopen_to is not None:
            only_targets, pick = step.reopen_to
            choices = sorted(wf.reopen_targets) if only_targets else wf.keys
            to = choices[pick % len(choices)]
        return lead.reopen(wf, reason, now=now, to=to, details=details)
    targets = sorted(lead.allowed_targets(wf)) if step.aim_allowed else []
    targets = targets or list(wf.keys)
    to = targets[step.target_pick % len(targets)]
    reason, details = _request(wf, step, wf.reasons.get(to), now)
    return lead.transition(wf, to, reason, now=now, details=details)


def _check_invariants(wf: Workflow, lead: Lead, changes: list[StatusChange]) -> None:
    """The lead is exactly what its recorded history makes of a new lead, and self-consistent."""
    status = wf.initial
    replayed = Lead(status=wf.initial, pipeline=wf.pipeline)
    for change in changes:
        assert change.from_status == status
        assert (change.from_outcome, change.to_outcome) == (
            wf.outcome(change.from_status),
            wf.outcome(change.to_status),
        )
        status = change.to_status
        replayed = replayed.apply(change)
    assert status == lead.status
    assert replayed == lead
    assert lead.version == 1 + len(changes)
    assert lead.reopen_count == sum(c.reopened for c in changes)
    is_open = lead.status in expected(wf).open
    assert (lead.closed_at is None) == is_open
    assert (lead.closed_from is None) == is_open
    if is_open:
        assert lead.revisit_at is None
    elif lead.revisit_at is not None:
        assert lead.closed_at is not None
        assert lead.revisit_at > lead.closed_at


def _check_against_oracle(wf: Workflow, before: Lead, change: StatusChange) -> None:
    """An accepted step is one the hand-written spec (or the pipeline's document) allows."""
    facts = expected(wf)
    if change.reopened:
        assert before.status in facts.reopenable
        assert change.to_status in facts.reopen_targets
    else:
        assert change.to_status in document_moves(wf)[before.status]
    if wf is DEFAULT:
        if change.reopened:
            assert before.status in spec.REOPENABLE
            assert change.to_status in spec.REOPEN_TARGETS
        else:
            assert change.to_status in spec.TRANSITIONS[before.status]


@pytest.mark.parametrize("wf", each_workflow())
@settings(
    max_examples=300,
    deadline=None,
    database=None,  # no .hypothesis/ directory written into the working tree
)
@given(steps=st.lists(STEPS, min_size=4, max_size=40))
def test_random_walks_keep_the_lead_coherent(wf: Workflow, steps: list[Step]) -> None:
    """Every step is either refused without effect or recorded; the invariants always hold."""
    lead = Lead(status=wf.initial, pipeline=wf.pipeline)
    changes: list[StatusChange] = []
    terminal: str | None = None
    for i, step in enumerate(steps):
        now = NOW + i * HOUR
        snapshot = replace(lead)
        try:
            change = _attempt(wf, step, lead, now)
        except ServiceError as refused:
            event(f"refused: {type(refused).__name__}")
            assert lead == snapshot
            if terminal is not None:
                assert isinstance(refused, TransitionNotAllowed | NotReopenable)
        else:
            assert terminal is None, f"a {terminal} lead changed"
            _check_against_oracle(wf, lead, change)
            assert change.at == now
            assert change.pipeline_version == wf.version
            lead = lead.apply(change)
            changes.append(change)
            event("accepted reopening" if change.reopened else "accepted transition")
        if wf.status(lead.status).category is Category.TERMINAL:
            assert lead.status in expected(wf).terminal
            terminal = lead.status
        assert terminal is None or lead.status == terminal
        _check_invariants(wf, lead, changes)
