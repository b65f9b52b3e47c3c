"""Every rule `build_workflow()` and `plan_version()` enforce, each pinned to its JSON pointer.

An admin fixes a definition from the violations alone, so each test asserts *where* the problem is
reported (RFC 6901 pointers into the document), not merely that the document was refused; most
assert the complete list, so one mistake that is reported twice, or not at all, fails too.
Documents are edited copies of the shipped default one or of the enterprise pipeline of
`tests/domain_support.py`, so every test changes exactly one thing in an otherwise valid definition.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from app.pipelines.default import DEFAULT_DOCUMENT
from app.pipelines.definition import (
    MAX_CODES,
    MAX_STATUSES,
    MAX_TEXT,
    build_workflow,
    describe_changes,
    document_of,
    plan_version,
    pointer,
)
from app.pipelines.workflow import REMAP_REASON, Outcome, Workflow
from app.platform.errors import (
    InvalidChange,
    InvalidPipeline,
    StatusesInUse,
    TransitionNotAllowed,
)
from tests.domain_support import (
    DEFAULT,
    ENTERPRISE,
    NOW,
    WORKFLOWS,
    closed_lead,
    copy_document,
    lead_in,
    valid_request,
)

Doc = dict[str, Any]


def _build(doc: object, *, pipeline: str = "test", version: int = 1) -> Workflow:
    return build_workflow(doc, pipeline=pipeline, version=version)


def _refusal(doc: object) -> InvalidPipeline:
    with pytest.raises(InvalidPipeline) as caught:
        _build(doc)
    return caught.value


def _pointers(doc: object) -> list[str]:
    """The pointers of every violation `doc` has, in the order they are reported."""
    return [v.pointer for v in _refusal(doc).violations]


def _edited(edit: Callable[[Doc], object], base: Workflow = DEFAULT) -> Doc:
    doc = copy_document(base)
    edit(doc)
    return doc


def _index(doc: Doc, key: str) -> int:
    return next(i for i, s in enumerate(doc["statuses"]) if s.get("key") == key)


def _status(doc: Doc, key: str) -> dict[str, Any]:
    statuses: list[dict[str, Any]] = doc["statuses"]
    return statuses[_index(doc, key)]


def _codes(*codes: str) -> dict[str, Any]:
    return {"codes": [{"code": c, "label": c.replace("_", " ").title()} for c in codes]}


def _add_status(doc: Doc, key: str, outcome: str, **extra: Any) -> int:
    doc["statuses"].append({"key": key, "label": "Extra", "outcome": outcome, **extra})
    return len(doc["statuses"]) - 1


def _add_target(doc: Doc, key: str, outcome: str, *, source: str = "new", **extra: Any) -> int:
    """A new status that `source` moves to, with a reason code: valid as long as `key` is."""
    index = _add_status(doc, key, outcome, **extra)
    doc["transitions"].setdefault(source, []).append(key)
    doc["reasons"][key] = _codes("because")
    return index


def _drop_status(doc: Doc, key: str) -> None:
    """Remove `key` everywhere the document names it."""
    doc["statuses"] = [s for s in doc["statuses"] if s["key"] != key]
    doc["transitions"] = {
        src: [t for t in moves if t != key]
        for src, moves in doc["transitions"].items()
        if src != key
    }
    doc["reopen_targets"] = [t for t in doc["reopen_targets"] if t != key]
    doc["reasons"].pop(key, None)


# -- the document and its top level ------------------------------------------------------------


def test_both_documents_under_test_are_valid() -> None:
    """The baseline every test below edits builds without a violation."""
    for wf in WORKFLOWS:
        assert _build(copy_document(wf), pipeline=wf.pipeline) == wf


@pytest.mark.parametrize("doc", [[], "pipeline", None, 3, [("initial", "new")]], ids=repr)
def test_a_definition_must_be_an_object(doc: object) -> None:
    """Not a JSON object: one violation, at the whole document (the empty pointer)."""
    assert _pointers(doc) == [""]


def test_an_unknown_top_level_member_is_named() -> None:
    assert _pointers(_edited(lambda d: d.update(colour="red"))) == ["/colour"]


def test_member_names_are_escaped_in_pointers() -> None:
    """RFC 6901: `~` is written `~0` and `/` is written `~1`."""
    assert _pointers(_edited(lambda d: d.update({"a/b~c": 1}))) == ["/a~1b~0c"]
    assert pointer("transitions", "a/b", 0) == "/transitions/a~1b/0"


BAD_TEXT = ["", "   ", 7, ["Sales"], "x" * (MAX_TEXT + 1), "nul\x00inside"]


@pytest.mark.parametrize("member", ["label", "description"])
@pytest.mark.parametrize("value", BAD_TEXT, ids=repr)
def test_pipeline_label_and_description_must_be_short_text(member: str, value: object) -> None:
    assert _pointers(_edited(lambda d: d.update({member: value}))) == [f"/{member}"]


def test_pipeline_label_and_description_are_optional_and_may_be_long_enough() -> None:
    doc = _edited(lambda d: d.pop("label"))
    assert _build(doc).label is None
    doc = _edited(lambda d: d.update(label="x" * MAX_TEXT, description="Ours."))
    built = _build(doc)
    assert (built.label, built.description) == ("x" * MAX_TEXT, "Ours.")


@pytest.mark.parametrize("value", [None, [], {}, "new"], ids=repr)
def test_statuses_must_be_a_non_empty_list(value: object) -> None:
    """Without statuses nothing else can be checked: the initial status is unknown too."""
    doc = {"initial": "new", "statuses": value}
    assert _pointers(doc) == ["/statuses", "/initial"]


def test_a_pipeline_has_at_most_max_statuses() -> None:
    def edit(doc: Doc) -> None:
        for i in range(MAX_STATUSES + 1 - len(doc["statuses"])):
            _add_target(doc, f"extra_{i}", "dead")

    doc = _edited(edit)
    assert len(doc["statuses"]) == MAX_STATUSES + 1
    assert _pointers(doc) == ["/statuses"]
    _drop_status(doc, doc["statuses"][-1]["key"])
    assert len(_build(doc).statuses) == MAX_STATUSES


# -- one status --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["dead", 3, None, ["key", "x"]], ids=repr)
def test_a_status_must_be_an_object(value: object) -> None:
    doc = _edited(lambda d: d["statuses"].append(value))
    assert _pointers(doc) == ["/statuses/10"]


def test_an_unknown_status_member_is_named() -> None:
    doc = _edited(lambda d: _status(d, "new").update(colour="red"))
    assert _pointers(doc) == ["/statuses/0/colour"]


BAD_KEYS = [5, "", "Won", "WON", "1st", "_x", "a-b", "a b", "a.b", "é", "abc\n", "a" * 64]


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_a_status_key_is_a_lower_case_identifier(key: object) -> None:
    doc = _edited(lambda d: _add_status(d, key, "dead"))  # type: ignore[arg-type]
    assert _pointers(doc) == ["/statuses/10/key"]


def test_a_status_key_is_required() -> None:
    doc = _edited(lambda d: d["statuses"].append({"label": "Nameless", "outcome": "dead"}))
    assert _pointers(doc) == ["/statuses/10/key"]


@pytest.mark.parametrize("key", ["a" * 63, "x", "a1_b2", "pipeline_remap"])
def test_keys_at_the_edges_of_the_format_are_accepted(key: str) -> None:
    built = _build(_edited(lambda d: _add_target(d, key, "dead")))
    assert built.has(key)


def test_reopen_is_no_status_key() -> None:
    """`reopen` names reopening's reason codes under `reasons`; no status may be called so."""
    refusal = _refusal(_edited(lambda d: _add_status(d, "reopen", "open")))
    assert [v.pointer for v in refusal.violations] == ["/statuses/10/key"]
    assert "reserved" in refusal.violations[0].message


@pytest.mark.parametrize("value", [*BAD_TEXT, None], ids=repr)
def test_a_status_label_is_required_short_text(value: object) -> None:
    """A status whose entry is unreadable still counts as named: one violation, not a cascade."""

    def edit(doc: Doc) -> None:
        _status(doc, "qualified")["label"] = value
        if value is None:
            del _status(doc, "qualified")["label"]

    assert _pointers(_edited(edit)) == ["/statuses/2/label"]


@pytest.mark.parametrize("value", BAD_TEXT, ids=repr)
def test_a_status_description_is_optional_short_text(value: object) -> None:
    doc = _edited(lambda d: _status(d, "qualified").update(description=value))
    assert _pointers(doc) == ["/statuses/2/description"]


def test_a_status_description_may_be_left_out() -> None:
    doc = _edited(lambda d: _status(d, "qualified").pop("description"))
    assert _build(doc).status("qualified").description is None


@pytest.mark.parametrize("value", ["Won", "winning", "closed", "", 1, None, ["dead"]], ids=repr)
def test_the_outcome_is_one_of_the_vocabulary(value: object) -> None:
    doc = _edited(lambda d: _status(d, "dead").update(outcome=value))
    assert _pointers(doc) == ["/statuses/9/outcome"]
    doc = _edited(lambda d: _status(d, "dead").pop("outcome"))
    assert _pointers(doc) == ["/statuses/9/outcome"]


@pytest.mark.parametrize("outcome", [o.value for o in Outcome])
def test_every_outcome_of_the_vocabulary_is_accepted(outcome: str) -> None:
    """Any outcome may be added; open ones need a way to close, closed ones a reason code."""

    def edit(doc: Doc) -> None:
        _add_target(doc, "extra", outcome)
        if outcome == "open":
            doc["transitions"]["extra"] = ["dead"]

    assert _build(_edited(edit)).outcome("extra") is Outcome(outcome)


BAD_PROBABILITIES = [-0.1, 1.0001, 2, -1, True, False, "0.5", [0.5], math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", BAD_PROBABILITIES, ids=repr)
def test_a_probability_is_a_number_from_0_to_1(value: object) -> None:
    """Booleans are not numbers here (True is not 1), and NaN and infinities are no chance."""
    doc = _edited(lambda d: _status(d, "qualified").update(probability=value))
    assert _pointers(doc) == ["/statuses/2/probability"]


def test_a_huge_integer_probability_is_a_violation_not_a_crash() -> None:
    """JSON integers are unbounded (Python's json reads 1e400 written out as an int)."""
    doc = _edited(lambda d: _status(d, "qualified").update(probability=10**400))
    assert _pointers(doc) == ["/statuses/2/probability"]


@pytest.mark.parametrize("value", [0, 1, 0.0, 0.35, 1.0, None], ids=repr)
def test_probabilities_in_range_are_accepted_as_floats(value: float | None) -> None:
    doc = _edited(lambda d: _status(d, "qualified").update(probability=value))
    probability = _build(doc).status("qualified").probability
    assert probability == value
    assert probability is None or type(probability) is float


@pytest.mark.parametrize("value", [0, -1, 3651, 1.5, 7.0, True, "7", math.nan], ids=repr)
def test_stale_after_days_is_a_whole_number_of_days(value: object) -> None:
    doc = _edited(lambda d: _status(d, "contacted").update(stale_after_days=value))
    assert _pointers(doc) == ["/statuses/1/stale_after_days"]


@pytest.mark.parametrize("value", [1, 3650, None])
def test_stale_after_days_from_1_to_3650_is_accepted(value: int | None) -> None:
    doc = _edited(lambda d: _status(d, "contacted").update(stale_after_days=value))
    assert _build(doc).status("contacted").stale_after_days == value


@pytest.mark.parametrize("value", [0, 3651, 2.5, True, "30"], ids=repr)
def test_auto_close_after_days_is_a_whole_number_of_days(value: object) -> None:
    doc = _edited(lambda d: _status(d, "contacted").update(auto_close_after_days=value))
    assert _pointers(doc) == ["/statuses/1/auto_close_after_days"]


@pytest.mark.parametrize("value", ["Commit", "closed", "", 1, True], ids=repr)
def test_forecast_category_is_one_of_the_four(value: object) -> None:
    doc = _edited(lambda d: _status(d, "negotiating").update(forecast_category=value))
    refusal = _refusal(doc)
    assert [v.pointer for v in refusal.violations] == ["/statuses/3/forecast_category"]
    assert "commit, best_case, pipeline, omitted" in refusal.violations[0].message


@pytest.mark.parametrize(
    ("name", "value"), [("forecast_category", "commit"), ("auto_close_after_days", 30)]
)
def test_forecast_and_auto_close_properties_belong_to_open_statuses(
    name: str, value: object
) -> None:
    doc = _edited(lambda d: _status(d, "lost").update({name: value}))
    refusal = _refusal(doc)
    assert [v.pointer for v in refusal.violations] == [f"/statuses/5/{name}"]
    assert "open statuses only" in refusal.violations[0].message


def test_forecast_categories_and_auto_close_are_kept_per_status() -> None:
    def edit(d: Doc) -> None:
        _status(d, "qualified").update(forecast_category="best_case", stale_after_days=20)
        _status(d, "negotiating").update(forecast_category="commit", auto_close_after_days=90)

    wf = _build(_edited(edit))
    assert wf.status("negotiating").forecast_category == "commit"
    assert wf.status("qualified").forecast_category == "best_case"
    assert wf.status("new").forecast_category is None
    assert wf.auto_close_target("negotiating") == "no_decision"
    assert wf.auto_close_target("qualified") is None
    assert wf.status("negotiating").auto_close_after_days == 90
    served = json.loads(json.dumps(document_of(wf)))
    assert _build(served) == wf
    assert describe_changes(DEFAULT, wf) == [
        "qualified: stale_after_days None -> 20",
        "qualified: forecast_category None -> 'best_case'",
        "negotiating: forecast_category None -> 'commit'",
        "negotiating: auto_close_after_days None -> 90",
    ]


def test_auto_close_needs_a_move_to_a_no_decision_status() -> None:
    # `new` moves to contacted, qualified, recycled, disqualified and dead: no no-decision.
    doc = _edited(lambda d: _status(d, "new").update(auto_close_after_days=30))
    refusal = _refusal(doc)
    assert [v.pointer for v in refusal.violations] == ["/statuses/0/auto_close_after_days"]
    assert "'no_decision'" in refusal.violations[0].message
    doc["transitions"]["new"].append("no_decision")
    assert _build(doc).auto_close_target("new") == "no_decision"


def test_auto_close_is_not_sooner_than_staleness() -> None:
    doc = _edited(
        lambda d: _status(d, "contacted").update(stale_after_days=30, auto_close_after_days=29)
    )
    assert _pointers(doc) == ["/statuses/1/auto_close_after_days"]
    _status(doc, "contacted")["auto_close_after_days"] = 30
    assert _build(doc).status("contacted").auto_close_after_days == 30


def test_the_stale_reason_is_the_services_in_a_pipeline_that_closes_automatically() -> None:
    def edit(d: Doc) -> None:
        d["reasons"]["no_decision"]["codes"].append({"code": "stale", "label": "Stale"})

    doc = _edited(edit)
    assert _build(doc).reasons["no_decision"].reason("stale") is not None
    _status(doc, "contacted")["auto_close_after_days"] = 60
    refusal = _refusal(doc)
    assert [v.pointer for v in refusal.violations] == ["/reasons/no_decision"]
    assert "reserved" in refusal.violations[0].message


@pytest.mark.parametrize("value", [1, 0, "true", "no", None], ids=repr)
def test_archived_is_true_or_false(value: object) -> None:
    doc = _edited(lambda d: _status(d, "dead").update(archived=value))
    assert _pointers(doc) == ["/statuses/9/archived"]


def test_a_status_key_is_used_once() -> None:
    """The second status of a key is the one reported."""
    doc = _edited(lambda d: d["statuses"].append(dict(_status(d, "won"), label="Won again")))
    assert _pointers(doc) == ["/statuses/10/key"]


# -- the transition table ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [["new"], "new", 3], ids=repr)
def test_transitions_must_be_an_object(value: object) -> None:
    assert _pointers(_edited(lambda d: d.update(transitions=value))) == ["/transitions"]


def test_a_move_from_an_unknown_status_is_named() -> None:
    doc = _edited(lambda d: d["transitions"].update(ghost=["won"]))
    assert _pointers(doc) == ["/transitions/ghost"]


def test_an_unknown_source_with_a_slash_is_escaped() -> None:
    doc = _edited(lambda d: d["transitions"].update({"a/b": []}))
    assert _pointers(doc) == ["/transitions/a~1b"]


@pytest.mark.parametrize("value", ["contacted", {"contacted": 1}, None], ids=repr)
def test_a_row_of_the_table_is_a_list(value: object) -> None:
    doc = _edited(lambda d: d["transitions"].update(new=value))
    assert _pointers(doc) == ["/transitions/new"]


@pytest.mark.parametrize("target", ["ghost", "Won", 5, None], ids=repr)
def test_a_move_to_an_unknown_status_is_named(target: object) -> None:
    doc = _edited(lambda d: d["transitions"]["new"].append(target))
    assert _pointers(doc) == ["/transitions/new/5"]


def test_a_same_status_move_is_not_a_transition() -> None:
    refusal = _refusal(_edited(lambda d: d["transitions"]["qualified"].insert(0, "qualified")))
    assert [v.pointer for v in refusal.violations] == ["/transitions/qualified/0"]
    assert "same-status" in refusal.violations[0].message


def test_a_target_is_listed_once_per_row() -> None:
    doc = _edited(lambda d: d["transitions"]["new"].append("dead"))
    assert _pointers(doc) == ["/transitions/new/5"]


@pytest.mark.parametrize(
    ("source", "how"), [("lost", "reopening"), ("recycled", "reopening"), ("won", "terminal")]
)
def test_a_closed_status_has_no_moves_out(source: str, how: str) -> None:
    """Closed statuses leave by reopening (or, terminal, never): their row is refused."""
    refusal = _refusal(_edited(lambda d: d["transitions"].update({source: ["qualified"]})))
    assert [v.pointer for v in refusal.violations] == [f"/transitions/{source}"]
    assert how in refusal.violations[0].message


def test_a_closed_status_may_list_an_empty_row() -> None:
    built = _build(_edited(lambda d: d["transitions"].update(won=[], lost=[])))
    assert built.allowed_targets("won") == built.allowed_targets("lost") == ()


# -- reopening ---------------------------------------------------------------------------------


def test_reopen_targets_must_be_a_list() -> None:
    """Not a list, it is read as no targets: the reopenable statuses then have none either."""
    doc = _edited(lambda d: d.update(reopen_targets="contacted"))
    assert _pointers(doc) == ["/reopen_targets", "/reopen_targets"]


@pytest.mark.parametrize(
    ("target", "what"), [("ghost", "Unknown"), ("won", "open status"), ("qualified", "Duplicate")]
)
def test_a_reopen_target_is_a_known_open_status_listed_once(target: str, what: str) -> None:
    refusal = _refusal(_edited(lambda d: d["reopen_targets"].append(target)))
    assert [v.pointer for v in refusal.violations] == ["/reopen_targets/3"]
    assert what in refusal.violations[0].message


def test_the_initial_status_may_be_a_reopen_target() -> None:
    """Open is what a reopen target must be; `new` is not excluded by the rules, only by choice."""
    built = _build(_edited(lambda d: d["reopen_targets"].append("new")))
    assert built.reopen_targets[-1] == "new"


def _only_archived_reopen_target(doc: Doc) -> None:
    doc["reopen_targets"] = ["negotiating"]
    _status(doc, "negotiating")["archived"] = True


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda d: d.update(reopen_targets=[]), id="empty"),
        pytest.param(lambda d: d.pop("reopen_targets"), id="missing"),
        pytest.param(lambda d: _only_archived_reopen_target(d), id="only-archived"),
    ],
)
def test_reopenable_statuses_need_an_open_reopen_target(edit: Callable[[Doc], object]) -> None:
    """lost, no_decision and recycled exist, so some open, unarchived status must take them."""
    assert _pointers(_edited(edit)) == ["/reopen_targets"]


def test_reopening_is_demanded_only_by_reopenable_statuses() -> None:
    """Without lost, no-decision and recycled statuses neither reopen targets nor reopen codes
    are asked for; such a pipeline is refused only because it lacks a lost outcome."""

    def edit(doc: Doc) -> None:
        for key in ("lost", "no_decision", "recycled"):
            _drop_status(doc, key)
        doc["reopen_targets"] = []
        del doc["reasons"]["reopen"]

    assert _pointers(_edited(edit)) == ["/statuses"]


def test_reopening_needs_its_own_reason_codes() -> None:
    assert _pointers(_edited(lambda d: d["reasons"].pop("reopen"))) == ["/reasons/reopen"]


def test_reopening_s_reason_codes_follow_the_rules_of_any_target() -> None:
    doc = _edited(lambda d: d["reasons"].update(reopen={"codes": []}))
    assert _pointers(doc) == ["/reasons/reopen/codes"]
    doc = _edited(lambda d: d["reasons"]["reopen"]["codes"][0].update(code=REMAP_REASON))
    assert _pointers(doc) == ["/reasons/reopen/codes/0/code"]


# -- reason codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [["won"], "won", 3], ids=repr)
def test_reasons_must_be_an_object(value: object) -> None:
    """Unreadable, every target lacks its codes: each is named, and reopening's too."""
    doc = _edited(lambda d: d.update(reasons=value))
    targets = [k for k in DEFAULT.keys if k in DEFAULT.reasons]
    assert _pointers(doc) == ["/reasons", *[f"/reasons/{t}" for t in targets], "/reasons/reopen"]


def test_reasons_for_an_unknown_status_are_named() -> None:
    doc = _edited(lambda d: d["reasons"].update(ghost=_codes("boo")))
    assert _pointers(doc) == ["/reasons/ghost"]


@pytest.mark.parametrize("value", [["contract_signed"], "contract_signed", None], ids=repr)
def test_a_target_s_rule_must_be_an_object(value: object) -> None:
    doc = _edited(lambda d: d["reasons"].update(won=value))
    assert set(_pointers(doc)) == {"/reasons/won"}


def test_an_unknown_member_of_a_rule_is_named() -> None:
    doc = _edited(lambda d: d["reasons"]["won"].update(required=["note"]))
    assert _pointers(doc) == ["/reasons/won/required"]


@pytest.mark.parametrize("value", [[], "contract_signed", {"code": "x"}, None], ids=repr)
def test_a_rule_s_codes_are_a_non_empty_list(value: object) -> None:
    doc = _edited(lambda d: d["reasons"]["won"].update(codes=value))
    assert _pointers(doc) == ["/reasons/won/codes"]
    doc = _edited(lambda d: d["reasons"]["won"].pop("codes"))
    assert _pointers(doc) == ["/reasons/won/codes"]


def test_a_target_has_at_most_max_codes() -> None:
    doc = _edited(lambda d: d["reasons"].update(won=_codes(*(f"c{i}" for i in range(MAX_CODES)))))
    assert len(_build(doc).reasons["won"].reasons) == MAX_CODES
    doc["reasons"]["won"]["codes"].append({"code": "one_more", "label": "One more"})
    assert _pointers(doc) == ["/reasons/won/codes"]


@pytest.mark.parametrize("value", ["contract_signed", 3, None, ["contract_signed"]], ids=repr)
def test_a_reason_must_be_an_object(value: object) -> None:
    doc = _edited(lambda d: d["reasons"]["won"]["codes"].append(value))
    assert _pointers(doc) == ["/reasons/won/codes/3"]


def test_an_unknown_member_of_a_reason_is_named() -> None:
    doc = _edited(lambda d: d["reasons"]["won"]["codes"][0].update(optional=["note"]))
    assert _pointers(doc) == ["/reasons/won/codes/0/optional"]


@pytest.mark.parametrize("code", [*BAD_KEYS, None], ids=repr)
def test_a_reason_code_is_a_lower_case_identifier(code: object) -> None:
    doc = _edited(lambda d: d["reasons"]["won"]["codes"][1].update(code=code))
    assert _pointers(doc) == ["/reasons/won/codes/1/code"]


@pytest.mark.parametrize("value", [*BAD_TEXT, None], ids=repr)
def test_a_reason_label_is_required_short_text(value: object) -> None:
    doc = _edited(lambda d: d["reasons"]["won"]["codes"][1].update(label=value))
    assert _pointers(doc) == ["/reasons/won/codes/1/label"]


def test_pipeline_remap_is_a_reserved_reason() -> None:
    """The reason a pipeline edit records for its remaps is no dropdown entry."""
    refusal = _refusal(
        _edited(lambda d: d["reasons"]["lost"]["codes"][2].update(code=REMAP_REASON))
    )
    assert [v.pointer for v in refusal.violations] == ["/reasons/lost/codes/2/code"]
    assert "reserved" in refusal.violations[0].message


def test_a_reason_code_is_listed_once_per_target() -> None:
    """The second entry is reported; the same code under two targets is fine (`timing`)."""
    doc = _edited(
        lambda d: d["reasons"]["won"]["codes"].append({"code": "purchase_order", "label": "PO"})
    )
    assert _pointers(doc) == ["/reasons/won/codes/3/code"]
    assert DEFAULT.reasons["lost"].reason("timing") and DEFAULT.reasons["recycled"].reason("timing")


@pytest.mark.parametrize("value", ["note", {"note": True}, 1], ids=repr)
def test_requires_is_a_list(value: object) -> None:
    doc = _edited(lambda d: d["reasons"]["lost"]["codes"][0].update(requires=value))
    assert _pointers(doc) == ["/reasons/lost/codes/0/requires"]


@pytest.mark.parametrize(
    ("fields", "bad"), [(["notes"], 0), (["note", "email"], 1), (["Note"], 0), (["reason"], 0)]
)
def test_requires_names_only_fields_that_exist(fields: list[str], bad: int) -> None:
    doc = _edited(lambda d: d["reasons"]["lost"]["codes"][0].update(requires=fields))
    assert _pointers(doc) == [f"/reasons/lost/codes/0/requires/{bad}"]


@pytest.mark.parametrize("value", ["revisit_at", 3], ids=repr)
def test_optional_is_a_list(value: object) -> None:
    doc = _edited(lambda d: d["reasons"]["no_decision"].update(optional=value))
    assert _pointers(doc) == ["/reasons/no_decision/optional"]


def test_optional_names_only_fields_that_exist() -> None:
    doc = _edited(lambda d: d["reasons"]["won"].update(optional=["future_opportunity", "discount"]))
    assert _pointers(doc) == ["/reasons/won/optional/1"]


def test_required_and_optional_fields_are_built_into_the_rule() -> None:
    rule = ENTERPRISE.reasons["lost_to_competitor"]
    assert {r.code: set(r.requires) for r in rule.reasons} == {
        "chose_competitor": {"competitor"},
        "incumbent_kept": {"competitor"},
    }
    assert ENTERPRISE.reasons["stalled"].optional == {"revisit_at"}


@pytest.mark.parametrize("target", ["won", "negotiating", "dead"])
def test_every_target_of_a_move_needs_reason_codes(target: str) -> None:
    assert _pointers(_edited(lambda d: d["reasons"].pop(target))) == [f"/reasons/{target}"]


def test_reasons_for_a_status_nothing_moves_to_are_accepted() -> None:
    """Codes for `new` are unused, not wrong."""
    assert _build(_edited(lambda d: d["reasons"].update(new=_codes("arrived")))).reasons["new"]


# -- the initial status ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["ghost", "New", 5, None], ids=repr)
def test_the_initial_status_is_a_known_status(value: object) -> None:
    assert _pointers(_edited(lambda d: d.update(initial=value))) == ["/initial"]
    assert _pointers(_edited(lambda d: d.pop("initial"))) == ["/initial"]


@pytest.mark.parametrize("value", ["won", "lost", "dead"])
def test_the_initial_status_is_open(value: str) -> None:
    refusal = _refusal(_edited(lambda d: d.update(initial=value)))
    assert [v.pointer for v in refusal.violations] == ["/initial"]
    assert "open" in refusal.violations[0].message


def test_the_initial_status_is_not_archived() -> None:
    refusal = _refusal(_edited(lambda d: _status(d, "new").update(archived=True)))
    assert [v.pointer for v in refusal.violations] == ["/initial"]
    assert "archived" in refusal.violations[0].message


# -- the graph ---------------------------------------------------------------------------------


def test_an_open_status_nothing_moves_to_is_unreachable() -> None:
    def edit(doc: Doc) -> None:
        _add_status(doc, "orphan", "open")
        doc["transitions"]["orphan"] = ["won"]

    refusal = _refusal(_edited(edit))
    assert [v.pointer for v in refusal.violations] == ["/statuses/10"]
    assert "reached" in refusal.violations[0].message


def test_a_closed_status_nothing_moves_to_is_unreachable() -> None:
    doc = _edited(lambda d: _add_status(d, "bankrupt", "dead"))
    assert _pointers(doc) == ["/statuses/10"]


def test_a_status_reached_only_through_reopening_is_reachable() -> None:
    """`contacted` reached only by reopening a lead (new no longer moves there) still counts."""

    def edit(doc: Doc) -> None:
        doc["transitions"]["new"].remove("contacted")

    assert "contacted" not in _build(_edited(edit)).allowed_targets("new")


def test_an_archived_status_may_be_unreachable() -> None:
    """Archived statuses take no new moves by definition: kept for the leads still in them."""
    built = _build(_edited(lambda d: _add_status(d, "bankrupt", "dead", archived=True)))
    assert built.status("bankrupt").archived


def test_an_open_status_must_have_a_way_to_close() -> None:
    def edit(doc: Doc) -> None:
        _add_target(doc, "limbo", "open")

    refusal = _refusal(_edited(edit))
    assert [v.pointer for v in refusal.violations] == ["/statuses/10"]
    assert "closed status" in refusal.violations[0].message


def test_open_statuses_moving_only_between_each_other_never_close() -> None:
    def edit(doc: Doc) -> None:
        _add_target(doc, "ping", "open")
        _add_target(doc, "pong", "open", source="ping")
        doc["transitions"]["pong"] = ["ping"]

    assert _pointers(_edited(edit)) == ["/statuses/10", "/statuses/11"]


def test_closing_only_through_an_archived_status_is_no_way_to_close() -> None:
    def edit(doc: Doc) -> None:
        _add_target(doc, "limbo", "open")
        _add_target(doc, "bankrupt", "dead", source="limbo", archived=True)

    assert _pointers(_edited(edit)) == ["/statuses/10"]


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_a_pipeline_needs_a_won_and_a_lost_outcome(outcome: str) -> None:
    refusal = _refusal(_edited(lambda d: _drop_status(d, outcome)))
    assert [v.pointer for v in refusal.violations] == ["/statuses"]
    assert f"'{outcome}'" in refusal.violations[0].message


def test_a_pipeline_with_neither_won_nor_lost_names_both() -> None:
    def edit(doc: Doc) -> None:
        _drop_status(doc, "won")
        _drop_status(doc, "lost")

    assert _pointers(_edited(edit)) == ["/statuses", "/statuses"]


def test_the_won_outcome_may_have_any_key() -> None:
    def keys(outcome: Outcome) -> list[str]:
        return [s.key for s in ENTERPRISE.statuses if s.outcome is outcome]

    assert keys(Outcome.WON) == ["closed_won_new", "closed_won_upsell"]
    assert keys(Outcome.LOST) == ["closed_lost", "lost_to_competitor"]


# -- all at once, and the error itself ---------------------------------------------------------


def test_every_violation_of_a_document_is_reported_at_once() -> None:
    """An admin fixes a definition in one pass: seven unrelated mistakes, seven violations."""

    def edit(doc: Doc) -> None:
        doc["colour"] = "red"
        _status(doc, "contacted")["probability"] = 1.5
        _add_status(doc, "Bad-Key", "dead")
        doc["transitions"]["new"].append("ghost")
        doc["reopen_targets"].append("qualified")
        doc["reasons"]["lost"]["codes"][0]["requires"] = ["notes"]
        del doc["reasons"]["won"]

    refusal = _refusal(_edited(edit))
    assert sorted(v.pointer for v in refusal.violations) == sorted(
        [
            "/colour",
            "/statuses/1/probability",
            "/statuses/10/key",
            "/transitions/new/5",
            "/reopen_targets/3",
            "/reasons/lost/codes/0/requires/0",
            "/reasons/won",
        ]
    )
    assert "and 6 more" in refusal.detail
    assert refusal.facts["violations"] == [
        {"pointer": v.pointer, "message": v.message} for v in refusal.violations
    ]


# -- document_of -------------------------------------------------------------------------------


@pytest.mark.parametrize("wf", WORKFLOWS, ids=lambda wf: wf.pipeline)
def test_document_of_round_trips(wf: Workflow) -> None:
    """What GET serves back builds the same workflow again, through JSON and all."""
    served = json.loads(json.dumps(document_of(wf)))
    again = build_workflow(served, pipeline=wf.pipeline, version=wf.version)
    assert again == wf
    assert document_of(again) == served
    assert describe_changes(wf, again) == ["no change"]


def test_the_default_document_is_already_canonical() -> None:
    assert document_of(DEFAULT) == DEFAULT_DOCUMENT


def test_document_of_round_trips_a_document_with_empty_rows() -> None:
    doc = _edited(lambda d: d["transitions"].update(won=[], lost=[]))
    built = _build(doc)
    again = _build(document_of(built))
    assert again == built
    assert describe_changes(built, again) == ["no change"]


# -- plan_version ------------------------------------------------------------------------------


def _version(edit: Callable[[Doc], object], version: int, base: Workflow = ENTERPRISE) -> Workflow:
    return build_workflow(_edited(edit, base), pipeline=base.pipeline, version=version)


def _plan_pointers(proposed: Workflow, **kwargs: Any) -> list[str]:
    with pytest.raises(InvalidPipeline) as caught:
        plan_version(proposed, **kwargs)
    return [v.pointer for v in caught.value.violations]


WITHOUT_RIVAL = _version(lambda d: _drop_status(d, "lost_to_competitor"), 2)
"""Version 2 of the enterprise pipeline: `lost_to_competitor` removed."""


def test_a_first_version_is_planned_as_created() -> None:
    plan = plan_version(ENTERPRISE, current=None)
    assert plan.removed == ()
    assert dict(plan.remap) == {}
    assert plan.changed == (f"created with {len(ENTERPRISE.statuses)} statuses",)


def test_a_key_keeps_its_outcome_against_the_current_version() -> None:
    proposed = _version(lambda d: _status(d, "nurture").update(outcome="no_decision"), 2)
    assert _plan_pointers(proposed, current=ENTERPRISE) == ["/statuses/9/outcome"]


def test_a_key_keeps_its_outcome_against_every_earlier_version() -> None:
    """Removed in version 2, `lost_to_competitor` cannot come back in version 3 as a win."""

    def edit(doc: Doc) -> None:
        _drop_status(doc, "lost_to_competitor")
        _add_status(doc, "lost_to_competitor", "won")
        doc["transitions"]["negotiation"].append("lost_to_competitor")
        doc["reasons"]["lost_to_competitor"] = _codes("rival_acquired")

    proposed = _version(edit, 3)
    index = proposed.keys.index("lost_to_competitor")
    assert _plan_pointers(proposed, current=WITHOUT_RIVAL, earlier=[ENTERPRISE]) == [
        f"/statuses/{index}/outcome"
    ]
    # Without the history, nothing remembers the old meaning.
    assert plan_version(proposed, current=WITHOUT_RIVAL).removed == ()


def test_a_key_may_come_back_with_its_old_outcome() -> None:
    plan = plan_version(ENTERPRISE, current=WITHOUT_RIVAL, earlier=[ENTERPRISE])
    assert plan.removed == ()
    assert "added status lost_to_competitor" in plan.changed


@pytest.mark.parametrize("remap", [["lost_to_competitor"], "closed_lost", 3], ids=repr)
def test_remap_is_an_object(remap: object) -> None:
    assert _plan_pointers(WITHOUT_RIVAL, current=ENTERPRISE, remap=remap) == ["/remap"]


@pytest.mark.parametrize("old", ["discovery", "ghost", "closed_lost"])
def test_only_a_removed_status_is_remapped(old: str) -> None:
    remap = {old: "closed_lost", "lost_to_competitor": "closed_lost"}
    assert _plan_pointers(WITHOUT_RIVAL, current=ENTERPRISE, remap=remap) == [f"/remap/{old}"]


@pytest.mark.parametrize("new", ["ghost", "lost_to_competitor", 5, None], ids=repr)
def test_a_remap_goes_to_a_status_of_the_new_version(new: object) -> None:
    remap = {"lost_to_competitor": new}
    assert _plan_pointers(WITHOUT_RIVAL, current=ENTERPRISE, remap=remap) == [
        "/remap/lost_to_competitor"
    ]


def test_a_remap_does_not_go_to_an_archived_status() -> None:
    def edit(doc: Doc) -> None:
        _drop_status(doc, "lost_to_competitor")
        _status(doc, "closed_lost")["archived"] = True
        _add_target(doc, "lost_other", "lost", source="negotiation")

    proposed = _version(edit, 2)
    assert proposed.status("closed_lost").archived
    pointers = _plan_pointers(
        proposed, current=ENTERPRISE, remap={"lost_to_competitor": "closed_lost"}
    )
    assert pointers == ["/remap/lost_to_competitor"]
    plan = plan_version(proposed, current=ENTERPRISE, remap={"lost_to_competitor": "lost_other"})
    assert dict(plan.remap) == {"lost_to_competitor": "lost_other"}


@pytest.mark.parametrize("new", ["stalled", "nurture", "closed_won_new", "negotiation"])
def test_a_remap_keeps_the_outcome(new: str) -> None:
    """A lead lost to a competitor stays lost: not stalled, recycled, won or open again."""
    refusal_pointers = _plan_pointers(
        WITHOUT_RIVAL, current=ENTERPRISE, remap={"lost_to_competitor": new}
    )
    assert refusal_pointers == ["/remap/lost_to_competitor"]


def test_every_remap_problem_is_reported_at_once() -> None:
    def edit(doc: Doc) -> None:
        _drop_status(doc, "lost_to_competitor")
        _drop_status(doc, "stalled")
        _status(doc, "nurture")["outcome"] = "no_decision"

    proposed = _version(edit, 2)
    remap = {"lost_to_competitor": "nurture", "stalled": "ghost", "discovery": "negotiation"}
    pointers = _plan_pointers(proposed, current=ENTERPRISE, remap=remap)
    nurture = proposed.keys.index("nurture")
    assert sorted(pointers) == sorted(
        [
            f"/statuses/{nurture}/outcome",
            "/remap/lost_to_competitor",
            "/remap/stalled",
            "/remap/discovery",
        ]
    )


def test_removing_a_status_that_holds_leads_needs_a_remap() -> None:
    counts = {"lost_to_competitor": 3, "discovery": 5}
    with pytest.raises(StatusesInUse) as caught:
        plan_version(WITHOUT_RIVAL, current=ENTERPRISE, leads_per_status=counts)
    assert caught.value.facts["leads_per_status"] == {"lost_to_competitor": 3}
    assert "archived" in caught.value.detail


def test_removing_an_empty_status_needs_no_remap() -> None:
    for counts in (None, {}, {"lost_to_competitor": 0, "discovery": 5}):
        plan = plan_version(WITHOUT_RIVAL, current=ENTERPRISE, leads_per_status=counts)
        assert plan.removed == ("lost_to_competitor",)
        assert dict(plan.remap) == {}
        assert dict(plan.leads_to_remap) == {}


def test_a_valid_remap_is_planned_with_its_leads() -> None:
    plan = plan_version(
        WITHOUT_RIVAL,
        current=ENTERPRISE,
        earlier=[ENTERPRISE],
        remap={"lost_to_competitor": "closed_lost"},
        leads_per_status={"lost_to_competitor": 4, "closed_lost": 9},
    )
    assert plan.workflow is WITHOUT_RIVAL
    assert plan.removed == ("lost_to_competitor",)
    assert dict(plan.remap) == {"lost_to_competitor": "closed_lost"}
    assert dict(plan.leads_to_remap) == {"lost_to_competitor": 4}
    assert "removed status lost_to_competitor" in plan.changed
    assert {"transitions changed", "reason codes changed"} <= set(plan.changed)


def test_a_remap_of_a_removed_status_without_leads_moves_none() -> None:
    plan = plan_version(
        WITHOUT_RIVAL, current=ENTERPRISE, remap={"lost_to_competitor": "closed_lost"}
    )
    assert dict(plan.leads_to_remap) == {"lost_to_competitor": 0}


ARCHIVED_RIVAL = _version(lambda d: _status(d, "lost_to_competitor").update(archived=True), 2)
"""Version 2 of the enterprise pipeline: `lost_to_competitor` kept, but archived."""


def test_an_archived_status_is_kept_for_its_leads() -> None:
    plan = plan_version(
        ARCHIVED_RIVAL, current=ENTERPRISE, leads_per_status={"lost_to_competitor": 7}
    )
    assert plan.removed == ()
    assert plan.changed == ("lost_to_competitor: archived False -> True",)


def test_an_archived_status_takes_no_new_moves() -> None:
    wf = ARCHIVED_RIVAL
    for source in ("proof_of_concept", "negotiation"):
        assert "lost_to_competitor" in wf.transitions[source]
        assert "lost_to_competitor" not in wf.allowed_targets(source)
    reason, details = valid_request(wf, "lost_to_competitor")
    lead = lead_in("negotiation", wf)
    with pytest.raises(TransitionNotAllowed) as caught:
        lead.transition(wf, "lost_to_competitor", reason, now=NOW, details=details)
    assert "lost_to_competitor" not in caught.value.facts["allowed_targets"]


def test_a_lead_in_an_archived_status_can_still_leave() -> None:
    closed = closed_lead(ENTERPRISE, "lost_to_competitor", from_status="negotiation")
    assert ARCHIVED_RIVAL.reopenable("lost_to_competitor")
    lead = replace(closed, pipeline_version=2)
    change = lead.reopen(ARCHIVED_RIVAL, "budget_released", now=NOW)
    assert (change.to_status, change.pipeline_version) == ("negotiation", 2)


def test_an_archived_reopen_target_takes_no_reopenings() -> None:
    """Archiving `negotiating` leaves `contacted` and `qualified` as the reopen targets."""
    wf = _version(lambda d: _status(d, "negotiating").update(archived=True), 2, base=DEFAULT)
    assert wf.reopen_targets == ("contacted", "qualified", "negotiating")
    assert wf.open_reopen_targets == ("contacted", "qualified")
    assert "negotiating" not in wf.allowed_targets("qualified")
    assert wf.allowed_targets("negotiating") == DEFAULT.allowed_targets("negotiating")
    lead = closed_lead(DEFAULT, "lost", from_status="negotiating")
    assert lead.default_reopen_target(wf) == "contacted"
    with pytest.raises(InvalidChange) as caught:
        lead.reopen(wf, "budget_approved", now=NOW, to="negotiating")
    assert caught.value.facts["allowed_targets"] == ["contacted", "qualified"]


def test_the_initial_status_is_the_first_open_one() -> None:
    """The funnel starts where every lead starts: stage 1 is counted for each of them."""
    doc = copy.deepcopy(DEFAULT_DOCUMENT)
    doc["statuses"][0], doc["statuses"][1] = doc["statuses"][1], doc["statuses"][0]
    with pytest.raises(InvalidPipeline) as caught:
        build_workflow(doc, pipeline="default", version=1)
    assert [v.pointer for v in caught.value.violations] == ["/initial"]


def test_at_most_twelve_open_statuses() -> None:
    doc = copy.deepcopy(DEFAULT_DOCUMENT)
    extra = [f"stage_{i}" for i in range(9)]
    doc["statuses"][4:4] = [{"key": k, "label": k, "outcome": "open"} for k in extra]
    chain = ["negotiating", *extra]
    for here, there in itertools.pairwise(chain):
        doc["transitions"].setdefault(here, []).append(there)
        doc["reasons"][there] = {"codes": [{"code": "moved_on", "label": "Moved on"}]}
    doc["transitions"][extra[-1]] = ["won", "lost"]
    with pytest.raises(InvalidPipeline) as caught:
        build_workflow(doc, pipeline="default", version=1)
    assert [v.pointer for v in caught.value.violations] == ["/statuses"]
    doc["statuses"] = [s for s in doc["statuses"] if s["key"] != "stage_8"]
    doc["transitions"].pop("stage_8")
    doc["reasons"].pop("stage_8")
    doc["transitions"]["stage_7"] = ["won", "lost"]
    assert len(build_workflow(doc, pipeline="default", version=1).open_statuses) == 12
