"""Random walks through the workflow: whatever a client tries, the lead's state stays coherent.

Hypothesis draws sequences of attempted transitions and reopenings (biased towards valid ones so
walks get far, but with wrong targets, foreign reasons and stray extras mixed in) on a clock that
advances one hour per step, and checks the invariants after every step.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

from hypothesis import event, given, settings
from hypothesis import strategies as st

from app.domain.errors import LeadError, NotReopenable, TransitionNotAllowed
from app.domain.lead import ChangeDetails, Lead, StatusChange
from app.domain.status import (
    ALL_REASON_CODES,
    CATEGORY,
    REASONS,
    REOPEN_RULE,
    REOPEN_TARGETS,
    REOPENABLE,
    Category,
    LeadStatus,
    TargetRule,
    is_open,
)

from . import spec_tables as spec
from ._support import NOW, details_for

HOUR = timedelta(hours=1)
STATUSES = list(LeadStatus)
ANY_CODES = [*sorted(ALL_REASON_CODES), "bogus", ""]


class Step(NamedTuple):
    """One attempted request, drawn up front and read against whatever the lead is by then."""

    reopen_roll: int
    """Reopen when below 4 (of 8) for a reopenable lead, below 1 otherwise."""
    aim_allowed: bool
    """Pick the target among the allowed ones (when there are any) rather than all statuses."""
    target_pick: int
    reopen_to: LeadStatus | None
    """None for the default target; otherwise mostly a valid explicit one."""
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
    target_pick=st.integers(0, len(STATUSES) - 1),
    reopen_to=st.one_of(
        st.none(), st.sampled_from(sorted(REOPEN_TARGETS)), st.sampled_from(STATUSES)
    ),
    own_reason=st.integers(0, 4).map(bool),
    reason_pick=st.integers(0, len(ANY_CODES) - 1),
    use_valid_extras=st.booleans(),
    note=st.sampled_from([None, "", "why"]),
    competitor=st.sampled_from([None, "", "Acme CRM"]),
    revisit=st.one_of(st.none(), st.integers(-48, 24 * 365), st.just("naive")),
    future_opportunity=st.sampled_from([None, True, False]),
)


def _request(step: Step, rule: TargetRule | None, now: datetime) -> tuple[str, ChangeDetails]:
    """Mostly a reason of the right dropdown; extras either the required ones or anything."""
    codes = [r.code for r in rule.reasons] if rule and step.own_reason else ANY_CODES
    reason = codes[step.reason_pick % len(codes)]
    found = rule.reason(reason) if rule else None
    if found is not None and step.use_valid_extras:
        return reason, details_for(found, now=now)
    if step.revisit == "naive":
        revisit_at: datetime | None = (now + 30 * 24 * HOUR).replace(tzinfo=None)
    else:
        revisit_at = None if step.revisit is None else now + int(step.revisit) * HOUR
    return reason, ChangeDetails(step.note, step.competitor, revisit_at, step.future_opportunity)


def _attempt(step: Step, lead: Lead, now: datetime) -> StatusChange:
    """Put one transition or reopening request (reopenings mostly where they may succeed)."""
    if step.reopen_roll < (4 if lead.status in REOPENABLE else 1):
        reason, details = _request(step, REOPEN_RULE, now)
        return lead.reopen(reason, now=now, to=step.reopen_to, details=details)
    targets = sorted(lead.allowed_targets()) if step.aim_allowed else []
    targets = targets or STATUSES
    to = targets[step.target_pick % len(targets)]
    reason, details = _request(step, REASONS.get(to), now)
    return lead.transition(to, reason, now=now, details=details)


def _check_invariants(lead: Lead, changes: list[StatusChange]) -> None:
    """The lead is exactly what its recorded history makes of a new lead, and self-consistent."""
    status = LeadStatus.NEW
    replayed = Lead()
    for change in changes:
        assert change.from_status == status
        status = change.to_status
        replayed = replayed.apply(change)
    assert status == lead.status
    assert replayed == lead
    assert lead.version == 1 + len(changes)
    assert lead.reopen_count == sum(c.reopened for c in changes)
    assert (lead.closed_at is None) == is_open(lead.status)
    assert (lead.closed_from is None) == is_open(lead.status)
    if is_open(lead.status):
        assert lead.revisit_at is None
    elif lead.revisit_at is not None:
        assert lead.closed_at is not None
        assert lead.revisit_at > lead.closed_at


def _check_against_spec(before: Lead, change: StatusChange) -> None:
    """An accepted step is one the hand-written spec allows."""
    if change.reopened:
        assert before.status.value in spec.REOPENABLE
        assert change.to_status.value in spec.REOPEN_TARGETS
    else:
        assert change.to_status.value in spec.TRANSITIONS[before.status.value]


@settings(
    max_examples=300,
    deadline=None,
    database=None,  # no .hypothesis/ directory written into the working tree
)
@given(steps=st.lists(STEPS, min_size=4, max_size=40))
def test_random_walks_keep_the_lead_coherent(steps: list[Step]) -> None:
    """Every step is either refused without effect or recorded; the invariants always hold."""
    lead = Lead()
    changes: list[StatusChange] = []
    terminal: LeadStatus | None = None
    for i, step in enumerate(steps):
        now = NOW + i * HOUR
        snapshot = replace(lead)
        try:
            change = _attempt(step, lead, now)
        except LeadError as refused:
            event(f"refused: {type(refused).__name__}")
            assert lead == snapshot
            if terminal is not None:
                assert isinstance(refused, TransitionNotAllowed | NotReopenable)
        else:
            assert terminal is None, f"a {terminal} lead changed"
            _check_against_spec(lead, change)
            assert change.at == now
            lead = lead.apply(change)
            changes.append(change)
            event("accepted reopening" if change.reopened else "accepted transition")
        if CATEGORY[lead.status] is Category.TERMINAL:
            terminal = lead.status
        assert terminal is None or lead.status == terminal
        _check_invariants(lead, changes)
