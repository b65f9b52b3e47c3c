"""Every (from, to) pair of statuses against the transition table, and the table against the spec.

The pair tests read `TRANSITIONS` so they cover whatever the table says; the spec tests compare
that table with the hand-written copy of domain.md, so a drift in either direction fails here.
"""

from __future__ import annotations

import itertools

import pytest

from app.domain.errors import TransitionNotAllowed
from app.domain.lead import ChangeDetails
from app.domain.status import (
    CATEGORY,
    REASONS,
    REOPEN_TARGETS,
    REOPENABLE,
    TRANSITIONS,
    Category,
    LeadStatus,
)

from . import spec_tables as spec
from ._support import NOW, details_for, lead_in

PAIRS = list(itertools.product(LeadStatus, LeadStatus))
ALLOWED = [(a, b) for a, b in PAIRS if b in TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in PAIRS if b not in TRANSITIONS[a]]


def _id(pair: tuple[LeadStatus, LeadStatus]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_pairs_cover_the_whole_status_square() -> None:
    """The parametrization really is every pair, with both outcomes represented."""
    assert len(PAIRS) == len(LeadStatus) ** 2 == len(ALLOWED) + len(REFUSED)
    assert ALLOWED
    assert REFUSED


@pytest.mark.parametrize("pair", ALLOWED, ids=_id)
def test_allowed_pair_succeeds_with_every_valid_reason(pair: tuple[LeadStatus, LeadStatus]) -> None:
    """An allowed move is accepted with each of the target's reasons and its required extras."""
    start, to = pair
    lead = lead_in(start)
    for rule in REASONS[to].reasons:
        details = details_for(rule)
        change = lead.transition(to, rule.code, now=NOW, details=details)
        assert (change.from_status, change.to_status) == (start, to)
        assert change.reason == rule.code
        assert change.at == NOW
        assert change.details == details
        assert change.reopened is False


@pytest.mark.parametrize("pair", REFUSED, ids=_id)
def test_refused_pair_raises_with_the_tables_targets(pair: tuple[LeadStatus, LeadStatus]) -> None:
    """A move the table lacks is refused, even with a valid reason, and says where it may go."""
    start, to = pair
    rule = REASONS[to].reasons[0] if to in REASONS else None
    reason = rule.code if rule else "anything"
    details = details_for(rule) if rule else ChangeDetails()
    with pytest.raises(TransitionNotAllowed) as caught:
        lead_in(start).transition(to, reason, now=NOW, details=details)
    facts = caught.value.facts
    assert facts["allowed_targets"] == sorted(TRANSITIONS[start])
    assert facts["current_status"] == start
    assert facts["requested"] == to


@pytest.mark.parametrize("status", list(LeadStatus), ids=str)
def test_same_status_move_is_not_a_transition(status: LeadStatus) -> None:
    """`qualified` to `qualified` (and every other self-move) is refused, named as such."""
    with pytest.raises(TransitionNotAllowed, match="already"):
        lead_in(status).transition(status, "anything", now=NOW)


@pytest.mark.parametrize("status", [s for s in LeadStatus if CATEGORY[s] is not Category.OPEN])
def test_closed_and_terminal_statuses_have_no_ordinary_moves(status: LeadStatus) -> None:
    """Closed deals leave only by reopening; terminal ones never leave."""
    assert TRANSITIONS[status] == frozenset()
    assert lead_in(status).allowed_targets() == frozenset()


@pytest.mark.parametrize("status", list(LeadStatus), ids=str)
def test_transition_table_matches_the_spec(status: LeadStatus) -> None:
    """Each row of `TRANSITIONS` is exactly the row of domain.md's transition table."""
    assert {t.value for t in TRANSITIONS[status]} == spec.TRANSITIONS[status.value]
    assert {t.value for t in lead_in(status).allowed_targets()} == spec.TRANSITIONS[status.value]


@pytest.mark.parametrize("pair", PAIRS, ids=_id)
def test_transition_behaviour_matches_the_spec(pair: tuple[LeadStatus, LeadStatus]) -> None:
    """With the spec copy as oracle: a pair is accepted exactly when domain.md lists it."""
    start, to = pair
    expected = to.value in spec.TRANSITIONS[start.value]
    reason = sorted(spec.REASON_CODES.get(to.value, {"anything"}))[0]
    rule = REASONS[to].reason(reason) if to in REASONS else None
    details = details_for(rule) if rule else ChangeDetails()
    try:
        lead_in(start).transition(to, reason, now=NOW, details=details)
    except TransitionNotAllowed:
        accepted = False
    else:
        accepted = True
    assert accepted is expected


def test_status_categories_match_the_spec() -> None:
    """Open, reopenable and terminal statuses are the ones domain.md names, and cover them all."""
    by_category = {c: {s.value for s in LeadStatus if CATEGORY[s] is c} for c in Category}
    assert by_category[Category.OPEN] == spec.OPEN
    assert by_category[Category.CLOSED] == spec.REOPENABLE
    assert by_category[Category.TERMINAL] == spec.TERMINAL
    assert {s.value for s in REOPENABLE} == spec.REOPENABLE
    assert {s.value for s in REOPEN_TARGETS} == spec.REOPEN_TARGETS
    assert {s.value for s in LeadStatus} == set(spec.TRANSITIONS)
