"""Every (from, to) pair of statuses against the transition table, and the table against the spec.

The pair tests run over each workflow under test and take the table from its definition
document, so they cover whatever the document says; the spec tests compare the default workflow
with the hand-written copy of domain.md, so a drift in either direction fails here.
"""

from __future__ import annotations

import itertools

import pytest

from app.leads.domain import ChangeDetails, Lead
from app.pipelines.workflow import Category, Outcome, Workflow
from app.platform.errors import TransitionNotAllowed, UnknownStatus
from tests import spec_tables as spec
from tests.domain_support import (
    DEFAULT,
    ENTERPRISE,
    NOW,
    WORKFLOWS,
    details_for,
    document_moves,
    each_workflow,
    expected,
    lead_in,
    params,
    valid_request,
)


def _pairs(wf: Workflow) -> list[tuple[str, str]]:
    return list(itertools.product(wf.keys, wf.keys))


def _allowed(wf: Workflow) -> list[tuple[str, str]]:
    moves = document_moves(wf)
    return [(a, b) for a, b in _pairs(wf) if b in moves[a]]


def _refused(wf: Workflow) -> list[tuple[str, str]]:
    moves = document_moves(wf)
    return [(a, b) for a, b in _pairs(wf) if b not in moves[a]]


@pytest.mark.parametrize("wf", each_workflow())
def test_pairs_cover_the_whole_status_square(wf: Workflow) -> None:
    """The parametrization really is every pair, with both outcomes represented."""
    assert len(_pairs(wf)) == len(wf.statuses) ** 2 == len(_allowed(wf)) + len(_refused(wf))
    assert set(wf.keys) == set(document_moves(wf))
    assert _allowed(wf)
    assert _refused(wf)


@pytest.mark.parametrize(("wf", "start", "to"), params(_allowed))
def test_allowed_pair_succeeds_with_every_valid_reason(wf: Workflow, start: str, to: str) -> None:
    """An allowed move is accepted with each of the target's reasons and its required extras."""
    lead = lead_in(start, wf)
    for rule in wf.reasons[to].reasons:
        details = details_for(rule)
        change = lead.transition(wf, to, rule.code, now=NOW, details=details)
        assert (change.from_status, change.to_status) == (start, to)
        assert change.reason == rule.code
        assert change.at == NOW
        assert change.details == details
        assert change.reopened is False
        assert (change.from_outcome, change.to_outcome) == (wf.outcome(start), wf.outcome(to))
        assert change.pipeline_version == wf.version


@pytest.mark.parametrize(("wf", "start", "to"), params(_refused))
def test_refused_pair_raises_with_the_tables_targets(wf: Workflow, start: str, to: str) -> None:
    """A move the table lacks is refused, even with a valid reason, and says where it may go."""
    reason, details = valid_request(wf, to) if to in wf.reasons else ("anything", ChangeDetails())
    with pytest.raises(TransitionNotAllowed) as caught:
        lead_in(start, wf).transition(wf, to, reason, now=NOW, details=details)
    facts = caught.value.facts
    assert facts["allowed_targets"] == sorted(document_moves(wf)[start])
    assert facts["current_status"] == start
    assert facts["requested"] == to


@pytest.mark.parametrize(("wf", "status"), params(lambda wf: wf.keys))
def test_same_status_move_is_not_a_transition(wf: Workflow, status: str) -> None:
    """`qualified` to `qualified` (and every other self-move) is refused, named as such."""
    with pytest.raises(TransitionNotAllowed, match="already"):
        lead_in(status, wf).transition(wf, status, "anything", now=NOW)


@pytest.mark.parametrize(
    ("wf", "status"), params(lambda wf: [k for k in wf.keys if not wf.is_open(k)])
)
def test_closed_and_terminal_statuses_have_no_ordinary_moves(wf: Workflow, status: str) -> None:
    """Closed deals leave only by reopening; terminal ones never leave."""
    assert wf.transitions.get(status, ()) == ()
    assert lead_in(status, wf).allowed_targets(wf) == ()


@pytest.mark.parametrize(
    ("wf", "status"), params(lambda wf: [k for k in wf.keys if not wf.is_open(k)])
)
def test_a_refused_move_out_of_a_closed_status_points_at_reopening(
    wf: Workflow, status: str
) -> None:
    """The refusal tells a client about reopening exactly when the status can be reopened."""
    to = wf.open_statuses[-1]
    with pytest.raises(TransitionNotAllowed) as caught:
        lead_in(status, wf).transition(wf, to, "anything", now=NOW)
    assert ("reopen" in caught.value.detail) is (status in expected(wf).reopenable)


@pytest.mark.parametrize("wf", each_workflow())
def test_allowed_targets_follow_the_document_in_order(wf: Workflow) -> None:
    """Each row of the built workflow is the document's row, in the document's order."""
    for status, moves in document_moves(wf).items():
        assert wf.allowed_targets(status) == moves
        assert lead_in(status, wf).allowed_targets(wf) == moves


@pytest.mark.parametrize("wf", each_workflow())
@pytest.mark.parametrize("to", ["ghost", "New", ""])
def test_a_status_the_pipeline_lacks_is_unknown(wf: Workflow, to: str) -> None:
    """A target that is no status of the pipeline is refused as unknown, naming `to`."""
    with pytest.raises(UnknownStatus) as caught:
        lead_in(wf.initial, wf).transition(wf, to, "anything", now=NOW)
    assert caught.value.facts["field"] == "to"
    assert caught.value.facts["statuses"] == list(wf.keys)


def test_statuses_belong_to_their_pipeline() -> None:
    """The default pipeline's keys mean nothing in another pipeline, and the reverse."""
    with pytest.raises(UnknownStatus):
        lead_in(ENTERPRISE.initial, ENTERPRISE).transition(ENTERPRISE, "contacted", "x", now=NOW)
    with pytest.raises(UnknownStatus):
        lead_in("new").transition(DEFAULT, "discovery", "discovery_call", now=NOW)


def test_a_lead_is_decided_only_under_its_own_pipeline() -> None:
    """A default lead handed the enterprise workflow is a programming error, not a refusal."""
    reason, details = valid_request(ENTERPRISE, "discovery")
    with pytest.raises(ValueError, match="enterprise"):
        Lead(status="lead_in").transition(ENTERPRISE, "discovery", reason, now=NOW, details=details)


@pytest.mark.parametrize("status", sorted(spec.TRANSITIONS), ids=str)
def test_transition_table_matches_the_spec(status: str) -> None:
    """Each row of the default workflow is exactly the row of domain.md's transition table."""
    assert set(DEFAULT.transitions.get(status, ())) == spec.TRANSITIONS[status]
    assert set(lead_in(status).allowed_targets(DEFAULT)) == spec.TRANSITIONS[status]


@pytest.mark.parametrize(
    ("start", "to"),
    [pytest.param(a, b, id=f"{a}->{b}") for a, b in itertools.product(spec.TRANSITIONS, repeat=2)],
)
def test_transition_behaviour_matches_the_spec(start: str, to: str) -> None:
    """With the spec copy as oracle: a pair is accepted exactly when domain.md lists it."""
    expected_ok = to in spec.TRANSITIONS[start]
    reason = sorted(spec.REASON_CODES.get(to, {"anything"}))[0]
    rule = DEFAULT.reasons[to].reason(reason) if to in DEFAULT.reasons else None
    details = details_for(rule) if rule else ChangeDetails()
    try:
        lead_in(start).transition(DEFAULT, to, reason, now=NOW, details=details)
    except TransitionNotAllowed:
        accepted = False
    else:
        accepted = True
    assert accepted is expected_ok


def test_status_categories_match_the_spec() -> None:
    """Open, reopenable and terminal statuses are the ones domain.md names, and cover them all."""
    by_category = {c: {s.key for s in DEFAULT.statuses if s.category is c} for c in Category}
    assert by_category[Category.OPEN] == spec.OPEN
    assert by_category[Category.CLOSED] == spec.REOPENABLE
    assert by_category[Category.TERMINAL] == spec.TERMINAL
    assert set(DEFAULT.open_statuses) == spec.OPEN
    assert set(DEFAULT.reopenable_statuses) == spec.REOPENABLE
    assert set(DEFAULT.reopen_targets) == spec.REOPEN_TARGETS
    assert set(DEFAULT.keys) == set(spec.TRANSITIONS)
    assert DEFAULT.initial == "new"


def test_default_statuses_carry_the_outcome_of_their_name() -> None:
    """In the default pipeline each closed status is its own outcome (`won` means won)."""
    for status in DEFAULT.statuses:
        want = Outcome.OPEN if status.key in spec.OPEN else Outcome(status.key)
        assert status.outcome is want


@pytest.mark.parametrize("wf", WORKFLOWS, ids=lambda wf: wf.pipeline)
def test_categories_match_the_expected_facts(wf: Workflow) -> None:
    """Both workflows sort their statuses into open, reopenable and terminal as stated by hand."""
    facts = expected(wf)
    by_category = {c: {s.key for s in wf.statuses if s.category is c} for c in Category}
    assert by_category[Category.OPEN] == facts.open
    assert by_category[Category.CLOSED] == facts.reopenable
    assert by_category[Category.TERMINAL] == facts.terminal
    assert set(wf.reopen_targets) == facts.reopen_targets
    assert wf.reopen_fallback == facts.reopen_fallback
