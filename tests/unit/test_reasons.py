"""The standardized reason codes and the extra fields each target takes, requires or refuses.

A reason is a fixed dropdown so that trends can be counted: a code from another target, an unknown
code, a missing required field or a field the target does not take must all be refused, and the
refusal must name the offending field so the API can point the client at it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.domain.errors import InvalidChange
from app.domain.lead import ChangeDetails
from app.domain.status import ALL_REASON_CODES, REASONS, REOPEN_RULE, ExtraField, LeadStatus

from . import spec_tables as spec
from ._support import LATER, NOW, closed_lead, details_for, lead_in, source_for, valid_request

TARGETS = list(REASONS)
EVERY_REASON = [(to, rule.code) for to in TARGETS for rule in REASONS[to].reasons]


def _codes(to: LeadStatus) -> set[str]:
    return {r.code for r in REASONS[to].reasons}


def _attempt(to: LeadStatus, reason: str, details: ChangeDetails) -> None:
    """Ask for `to` from a status that may move there, so only the reason rules can refuse."""
    lead_in(source_for(to)).transition(to, reason, now=NOW, details=details)


def _refused_field(to: LeadStatus, reason: str, details: ChangeDetails) -> str:
    with pytest.raises(InvalidChange) as caught:
        _attempt(to, reason, details)
    return str(caught.value.facts["field"])


def test_reason_codes_match_the_spec() -> None:
    """The dropdown per target is exactly the one in domain.md (and `new` has none)."""
    assert {to.value: _codes(to) for to in TARGETS} == spec.REASON_CODES
    assert {r.code for r in REOPEN_RULE.reasons} == spec.REOPEN_CODES
    assert LeadStatus.NEW not in REASONS


@pytest.mark.parametrize(("to", "code"), EVERY_REASON, ids=str)
def test_every_reason_of_a_target_is_accepted(to: LeadStatus, code: str) -> None:
    """Each code, with the extras it requires, moves a lead into its target."""
    rule = REASONS[to].reason(code)
    assert rule is not None
    lead = lead_in(source_for(to))
    change = lead.transition(to, code, now=NOW, details=details_for(rule))
    assert (change.to_status, change.reason) == (to, code)


@pytest.mark.parametrize("to", TARGETS, ids=str)
def test_a_code_of_another_target_is_refused(to: LeadStatus) -> None:
    """Codes belong to their target: `price` is a loss reason, never a reason to qualify."""
    foreign = sorted(ALL_REASON_CODES - _codes(to))
    assert foreign
    for code in foreign:
        with pytest.raises(InvalidChange) as caught:
            _attempt(to, code, ChangeDetails())
        assert caught.value.facts["field"] == "reason", code
        assert caught.value.facts["allowed_reasons"] == [r.code for r in REASONS[to].reasons]


@pytest.mark.parametrize("to", TARGETS, ids=str)
@pytest.mark.parametrize("code", ["", "Price", "unknown_reason", " price"])
def test_an_unknown_code_is_refused(to: LeadStatus, code: str) -> None:
    """Free text is not a reason code: codes match exactly, case and spacing included."""
    assert _refused_field(to, code, ChangeDetails()) == "reason"


def test_lost_to_a_competitor_names_the_competitor() -> None:
    """Loss reporting counts competitors, so `competitor` needs the competitor's name."""
    assert _refused_field(LeadStatus.LOST, "competitor", ChangeDetails()) == "competitor"
    assert _refused_field(LeadStatus.LOST, "competitor", ChangeDetails(competitor="")) == (
        "competitor"
    )
    _attempt(LeadStatus.LOST, "competitor", ChangeDetails(competitor="Acme CRM"))


def test_lost_for_other_reasons_needs_a_note() -> None:
    """`other` says nothing by itself, so the note must explain it."""
    assert _refused_field(LeadStatus.LOST, "other", ChangeDetails()) == "note"
    assert _refused_field(LeadStatus.LOST, "other", ChangeDetails(note="")) == "note"
    _attempt(LeadStatus.LOST, "other", ChangeDetails(note="the champion left"))


def test_reopen_for_other_reasons_needs_a_note() -> None:
    """The reopen dropdown has its own `other`, with the same rule."""
    lead = closed_lead(LeadStatus.LOST, from_status=LeadStatus.QUALIFIED)
    with pytest.raises(InvalidChange) as caught:
        lead.reopen("other", now=NOW)
    assert caught.value.facts["field"] == "note"
    assert lead.reopen("other", now=NOW, details=ChangeDetails(note="new budget")).reopened


@pytest.mark.parametrize("code", sorted(_codes(LeadStatus.RECYCLED)))
def test_recycled_needs_a_future_revisit_date(code: str) -> None:
    """A recycled lead must say when to come back; `now` itself is not in the future."""
    to = LeadStatus.RECYCLED
    assert _refused_field(to, code, ChangeDetails()) == "revisit_at"
    assert _refused_field(to, code, ChangeDetails(revisit_at=NOW)) == "revisit_at"
    assert _refused_field(to, code, ChangeDetails(revisit_at=NOW - timedelta(days=1))) == (
        "revisit_at"
    )
    _attempt(to, code, ChangeDetails(revisit_at=NOW + timedelta(microseconds=1)))


def test_a_naive_revisit_date_is_refused() -> None:
    """Without an offset the date is ambiguous across time zones, even if it looks future."""
    naive = LATER.replace(tzinfo=None)
    with pytest.raises(InvalidChange, match="time zone") as caught:
        _attempt(LeadStatus.RECYCLED, "not_ready", ChangeDetails(revisit_at=naive))
    assert caught.value.facts["field"] == "revisit_at"


@pytest.mark.parametrize("to", [LeadStatus.LOST, LeadStatus.NO_DECISION], ids=str)
def test_revisit_date_is_optional_for_lost_and_no_decision(to: LeadStatus) -> None:
    """`lost` and `no_decision` may schedule a follow-up, but need not; if given, it is future."""
    reason, _ = valid_request(to)
    _attempt(to, reason, ChangeDetails())
    _attempt(to, reason, ChangeDetails(revisit_at=LATER))
    assert _refused_field(to, reason, ChangeDetails(revisit_at=NOW)) == "revisit_at"


@pytest.mark.parametrize(
    "to",
    [t for t in TARGETS if t not in {LeadStatus.LOST, LeadStatus.NO_DECISION, LeadStatus.RECYCLED}],
    ids=str,
)
def test_revisit_date_is_refused_where_it_does_not_apply(to: LeadStatus) -> None:
    """Qualified, won and the other targets have nothing to revisit: the field is refused."""
    reason, details = valid_request(to)
    assert _refused_field(to, reason, replace(details, revisit_at=LATER)) == "revisit_at"


@pytest.mark.parametrize("flag", [True, False])
def test_future_opportunity_is_accepted_for_won(flag: bool) -> None:
    """A won customer may have more to sell later; `False` is an answer too, not an absence."""
    lead = lead_in(LeadStatus.NEGOTIATING)
    change = lead.transition(
        LeadStatus.WON, "contract_signed", now=NOW, details=ChangeDetails(future_opportunity=flag)
    )
    assert change.details.future_opportunity is flag


@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize("to", [t for t in TARGETS if t is not LeadStatus.WON], ids=str)
def test_future_opportunity_is_refused_for_other_targets(to: LeadStatus, flag: bool) -> None:
    """Only a won deal has a future opportunity in this sense."""
    reason, details = valid_request(to)
    field = _refused_field(to, reason, replace(details, future_opportunity=flag))
    assert field == ExtraField.FUTURE_OPPORTUNITY


@pytest.mark.parametrize("to", [t for t in TARGETS if t is not LeadStatus.LOST], ids=str)
def test_competitor_is_refused_for_non_lost_targets(to: LeadStatus) -> None:
    """A competitor only explains a loss."""
    reason, details = valid_request(to)
    assert _refused_field(to, reason, replace(details, competitor="Acme CRM")) == "competitor"


def test_competitor_may_accompany_any_loss() -> None:
    """The competitor is optional with other loss reasons (lost on price to Acme)."""
    _attempt(LeadStatus.LOST, "price", ChangeDetails(competitor="Acme CRM"))


@pytest.mark.parametrize("to", TARGETS, ids=str)
def test_a_note_is_always_welcome(to: LeadStatus) -> None:
    """Every change may carry free text next to its standardized code."""
    reason, details = valid_request(to)
    change = lead_in(source_for(to)).transition(
        to, reason, now=NOW, details=replace(details, note="context")
    )
    assert change.details.note == "context"


def test_reopen_takes_only_a_note() -> None:
    """Reopening carries its reason and a note; revisit and competitor belong to closing."""
    lead = closed_lead(LeadStatus.LOST, from_status=LeadStatus.NEGOTIATING)
    for extra, field in [
        (ChangeDetails(revisit_at=LATER), "revisit_at"),
        (ChangeDetails(competitor="Acme CRM"), "competitor"),
        (ChangeDetails(future_opportunity=True), "future_opportunity"),
    ]:
        with pytest.raises(InvalidChange) as caught:
            lead.reopen("budget_approved", now=NOW, details=extra)
        assert caught.value.facts["field"] == field
