"""The standardized reason codes and the extra fields each target takes, requires or refuses.

A reason is a fixed dropdown so that trends can be counted: a code from another target, an unknown
code, a missing required field or a field the target does not take must all be refused, and the
refusal must name the offending field so the API can point the client at it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.leads.domain import ChangeDetails
from app.pipelines.workflow import REOPEN, ExtraField, Workflow
from app.platform.errors import InvalidChange
from tests import spec_tables as spec
from tests.domain_support import (
    DEFAULT,
    ENTERPRISE,
    LATER,
    NOW,
    all_reason_codes,
    closed_lead,
    details_for,
    document_codes,
    each_workflow,
    expected,
    lead_in,
    params,
    source_for,
    valid_request,
)


def _targets(wf: Workflow) -> list[str]:
    return list(wf.reasons)


def _every_reason(wf: Workflow) -> list[tuple[str, str]]:
    return [(to, rule.code) for to in wf.reasons for rule in wf.reasons[to].reasons]


def _codes(wf: Workflow, to: str) -> set[str]:
    return {r.code for r in wf.reasons[to].reasons}


def _attempt(wf: Workflow, to: str, reason: str, details: ChangeDetails) -> None:
    """Ask for `to` from a status that may move there, so only the reason rules can refuse."""
    lead_in(source_for(wf, to), wf).transition(wf, to, reason, now=NOW, details=details)


def _refused_field(wf: Workflow, to: str, reason: str, details: ChangeDetails) -> str:
    with pytest.raises(InvalidChange) as caught:
        _attempt(wf, to, reason, details)
    return str(caught.value.facts["field"])


def _without(wf: Workflow, extra: str) -> list[str]:
    return [t for t in wf.reasons if extra not in expected(wf).extras[t]]


def test_reason_codes_match_the_spec() -> None:
    """The dropdown per target is exactly the one in domain.md (and `new` has none)."""
    assert {to: _codes(DEFAULT, to) for to in DEFAULT.reasons} == spec.REASON_CODES
    assert DEFAULT.reopen is not None
    assert {r.code for r in DEFAULT.reopen.reasons} == spec.REOPEN_CODES
    assert "new" not in DEFAULT.reasons


@pytest.mark.parametrize("wf", each_workflow())
def test_reason_codes_follow_the_document_in_order(wf: Workflow) -> None:
    """The dropdowns are the document's, in its order; the initial status is nobody's target."""
    built = {to: [r.code for r in rule.reasons] for to, rule in wf.reasons.items()}
    assert wf.reopen is not None
    built[REOPEN] = wf.reopen.codes
    assert built == document_codes(wf)
    assert wf.initial not in wf.reasons
    assert set(wf.reasons) == set(expected(wf).extras)


@pytest.mark.parametrize(("wf", "to", "code"), params(_every_reason))
def test_every_reason_of_a_target_is_accepted(wf: Workflow, to: str, code: str) -> None:
    """Each code, with the extras it requires, moves a lead into its target."""
    rule = wf.reasons[to].reason(code)
    assert rule is not None
    lead = lead_in(source_for(wf, to), wf)
    change = lead.transition(wf, to, code, now=NOW, details=details_for(rule))
    assert (change.to_status, change.reason) == (to, code)


@pytest.mark.parametrize(("wf", "to"), params(_targets))
def test_a_code_of_another_target_is_refused(wf: Workflow, to: str) -> None:
    """Codes belong to their target: `price` is a loss reason, never a reason to qualify."""
    foreign = sorted(all_reason_codes(wf) - _codes(wf, to))
    assert foreign
    for code in foreign:
        with pytest.raises(InvalidChange) as caught:
            _attempt(wf, to, code, ChangeDetails())
        assert caught.value.facts["field"] == "reason", code
        assert caught.value.facts["allowed_reasons"] == document_codes(wf)[to]


@pytest.mark.parametrize(("wf", "to"), params(_targets))
@pytest.mark.parametrize("code", ["", "Price", "unknown_reason", " price", "pipeline_remap"])
def test_an_unknown_code_is_refused(wf: Workflow, to: str, code: str) -> None:
    """Free text is not a reason code: codes match exactly, case and spacing included; the
    reason a pipeline edit records is no client's to give."""
    assert _refused_field(wf, to, code, ChangeDetails()) == "reason"


@pytest.mark.parametrize(
    ("wf", "to", "code"),
    [
        pytest.param(DEFAULT, "lost", "competitor", id="default"),
        pytest.param(ENTERPRISE, "lost_to_competitor", "chose_competitor", id="enterprise"),
        pytest.param(ENTERPRISE, "lost_to_competitor", "incumbent_kept", id="enterprise-kept"),
    ],
)
def test_lost_to_a_competitor_names_the_competitor(wf: Workflow, to: str, code: str) -> None:
    """Loss reporting counts competitors, so `competitor` needs the competitor's name."""
    assert _refused_field(wf, to, code, ChangeDetails()) == "competitor"
    assert _refused_field(wf, to, code, ChangeDetails(competitor="")) == "competitor"
    _attempt(wf, to, code, ChangeDetails(competitor="Acme CRM"))


@pytest.mark.parametrize(
    ("wf", "to", "code"),
    [
        pytest.param(DEFAULT, "lost", "other", id="default"),
        pytest.param(ENTERPRISE, "closed_lost", "other", id="enterprise"),
        pytest.param(ENTERPRISE, "proof_of_concept", "success_criteria_agreed", id="open-target"),
    ],
)
def test_lost_for_other_reasons_needs_a_note(wf: Workflow, to: str, code: str) -> None:
    """`other` says nothing by itself, so the note must explain it."""
    assert _refused_field(wf, to, code, ChangeDetails()) == "note"
    assert _refused_field(wf, to, code, ChangeDetails(note="")) == "note"
    _attempt(wf, to, code, ChangeDetails(note="the champion left"))


@pytest.mark.parametrize(
    ("wf", "closed", "opened"),
    [
        pytest.param(DEFAULT, "lost", "qualified", id="default"),
        pytest.param(ENTERPRISE, "closed_lost", "discovery", id="enterprise"),
    ],
)
def test_reopen_for_other_reasons_needs_a_note(wf: Workflow, closed: str, opened: str) -> None:
    """The reopen dropdown has its own `other`, with the same rule."""
    lead = closed_lead(wf, closed, from_status=opened)
    with pytest.raises(InvalidChange) as caught:
        lead.reopen(wf, "other", now=NOW)
    assert caught.value.facts["field"] == "note"
    assert lead.reopen(wf, "other", now=NOW, details=ChangeDetails(note="new budget")).reopened


def _recycling(wf: Workflow) -> list[tuple[str, str]]:
    """Every (target, code) whose code requires a revisit date."""
    return [
        (to, r.code)
        for to, rule in wf.reasons.items()
        for r in rule.reasons
        if ExtraField.REVISIT_AT in r.requires
    ]


def test_the_recycled_targets_are_the_expected_ones() -> None:
    """The parametrization below covers recycled (default) and nurture (enterprise), all codes."""
    assert {to for to, _ in _recycling(DEFAULT)} == {"recycled"}
    assert {code for _, code in _recycling(DEFAULT)} == spec.REASON_CODES["recycled"]
    assert {to for to, _ in _recycling(ENTERPRISE)} == {"nurture"}
    assert len(_recycling(ENTERPRISE)) == len(ENTERPRISE.reasons["nurture"].reasons)


@pytest.mark.parametrize(("wf", "to", "code"), params(_recycling))
def test_recycled_needs_a_future_revisit_date(wf: Workflow, to: str, code: str) -> None:
    """A recycled lead must say when to come back; `now` itself is not in the future."""
    assert _refused_field(wf, to, code, ChangeDetails()) == "revisit_at"
    assert _refused_field(wf, to, code, ChangeDetails(revisit_at=NOW)) == "revisit_at"
    assert _refused_field(wf, to, code, ChangeDetails(revisit_at=NOW - timedelta(days=1))) == (
        "revisit_at"
    )
    _attempt(wf, to, code, ChangeDetails(revisit_at=NOW + timedelta(microseconds=1)))


@pytest.mark.parametrize(
    ("wf", "to", "code"),
    [
        pytest.param(DEFAULT, "recycled", "not_ready", id="default"),
        pytest.param(ENTERPRISE, "nurture", "next_fiscal_year", id="enterprise"),
        pytest.param(ENTERPRISE, "stalled", "went_dark", id="enterprise-optional"),
    ],
)
def test_a_naive_revisit_date_is_refused(wf: Workflow, to: str, code: str) -> None:
    """Without an offset the date is ambiguous across time zones, even if it looks future."""
    naive = LATER.replace(tzinfo=None)
    with pytest.raises(InvalidChange, match="time zone") as caught:
        _attempt(wf, to, code, ChangeDetails(revisit_at=naive))
    assert caught.value.facts["field"] == "revisit_at"


@pytest.mark.parametrize(
    ("wf", "to"),
    [
        pytest.param(DEFAULT, "lost", id="default-lost"),
        pytest.param(DEFAULT, "no_decision", id="default-no_decision"),
        pytest.param(ENTERPRISE, "closed_lost", id="enterprise-closed_lost"),
        pytest.param(ENTERPRISE, "stalled", id="enterprise-stalled"),
    ],
)
def test_revisit_date_is_optional_for_lost_and_no_decision(wf: Workflow, to: str) -> None:
    """`lost` and `no_decision` may schedule a follow-up, but need not; if given, it is future."""
    reason, _ = valid_request(wf, to)
    _attempt(wf, to, reason, ChangeDetails())
    _attempt(wf, to, reason, ChangeDetails(revisit_at=LATER))
    assert _refused_field(wf, to, reason, ChangeDetails(revisit_at=NOW)) == "revisit_at"


@pytest.mark.parametrize(("wf", "to"), params(lambda wf: _without(wf, "revisit_at")))
def test_revisit_date_is_refused_where_it_does_not_apply(wf: Workflow, to: str) -> None:
    """Qualified, won and the other targets have nothing to revisit: the field is refused."""
    reason, details = valid_request(wf, to)
    assert _refused_field(wf, to, reason, replace(details, revisit_at=LATER)) == "revisit_at"


@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize(
    ("wf", "to", "code"),
    [
        pytest.param(DEFAULT, "won", "contract_signed", id="default"),
        pytest.param(ENTERPRISE, "closed_won_new", "order_form_signed", id="enterprise-new"),
        pytest.param(ENTERPRISE, "closed_won_upsell", "expansion_signed", id="enterprise-upsell"),
    ],
)
def test_future_opportunity_is_accepted_for_won(
    wf: Workflow, to: str, code: str, flag: bool
) -> None:
    """A won customer may have more to sell later; `False` is an answer too, not an absence."""
    lead = lead_in(source_for(wf, to), wf)
    change = lead.transition(wf, to, code, now=NOW, details=ChangeDetails(future_opportunity=flag))
    assert change.details.future_opportunity is flag


@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize(("wf", "to"), params(lambda wf: _without(wf, "future_opportunity")))
def test_future_opportunity_is_refused_for_other_targets(wf: Workflow, to: str, flag: bool) -> None:
    """Only a won deal has a future opportunity in this sense."""
    reason, details = valid_request(wf, to)
    field = _refused_field(wf, to, reason, replace(details, future_opportunity=flag))
    assert field == ExtraField.FUTURE_OPPORTUNITY


@pytest.mark.parametrize(("wf", "to"), params(lambda wf: _without(wf, "competitor")))
def test_competitor_is_refused_for_non_lost_targets(wf: Workflow, to: str) -> None:
    """A competitor only explains a loss (in the enterprise pipeline, only the one it names)."""
    reason, details = valid_request(wf, to)
    assert _refused_field(wf, to, reason, replace(details, competitor="Acme CRM")) == "competitor"


def test_competitor_may_accompany_any_loss() -> None:
    """The competitor is optional with other loss reasons (lost on price to Acme)."""
    _attempt(DEFAULT, "lost", "price", ChangeDetails(competitor="Acme CRM"))


@pytest.mark.parametrize(("wf", "to"), params(_targets))
def test_a_note_is_always_welcome(wf: Workflow, to: str) -> None:
    """Every change may carry free text next to its standardized code."""
    reason, details = valid_request(wf, to)
    change = lead_in(source_for(wf, to), wf).transition(
        wf, to, reason, now=NOW, details=replace(details, note="context")
    )
    assert change.details.note == "context"


@pytest.mark.parametrize(
    ("wf", "closed", "opened"),
    [
        pytest.param(DEFAULT, "lost", "negotiating", id="default"),
        pytest.param(ENTERPRISE, "lost_to_competitor", "negotiation", id="enterprise"),
    ],
)
def test_reopen_takes_only_a_note(wf: Workflow, closed: str, opened: str) -> None:
    """Reopening carries its reason and a note; revisit and competitor belong to closing."""
    lead = closed_lead(wf, closed, from_status=opened)
    code = expected(wf).reopen_code
    for extra, field in [
        (ChangeDetails(revisit_at=LATER), "revisit_at"),
        (ChangeDetails(competitor="Acme CRM"), "competitor"),
        (ChangeDetails(future_opportunity=True), "future_opportunity"),
    ]:
        with pytest.raises(InvalidChange) as caught:
            lead.reopen(wf, code, now=NOW, details=extra)
        assert caught.value.facts["field"] == field
    assert lead.reopen(wf, code, now=NOW, details=ChangeDetails(note="why")).reopened


@pytest.mark.parametrize(("wf", "to"), params(_targets))
def test_each_target_takes_exactly_the_expected_extras(wf: Workflow, to: str) -> None:
    """What a target accepts (optional and required fields, and the note) is the stated set."""
    assert wf.reasons[to].accepted == expected(wf).extras[to] | {ExtraField.NOTE}
