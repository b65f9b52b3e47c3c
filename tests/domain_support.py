"""What the domain tests share: a fixed clock, the workflows under test, valid requests from them.

Two workflows are exercised by the rule tests: `DEFAULT`, built from the shipped definition
document exactly as a deployment builds it, and `ENTERPRISE`, a customer-style pipeline written
here as a document (renamed statuses, an extra open stage, two won and two lost statuses, reason
codes that require extra fields). Tests build their requests from the workflow rather than by
hand, so a reason code added to a document is exercised without editing the tests; the oracles
are the documents themselves, the hand-written spec copy in `spec_tables.py` (for the default
pipeline) and the hand-written `EXPECTED` facts below.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.leads.domain import ChangeDetails, Lead
from app.pipelines.default import DEFAULT_DOCUMENT, DEFAULT_PIPELINE
from app.pipelines.definition import build_workflow
from app.pipelines.workflow import ExtraField, ReasonRule, Workflow
from tests import spec_tables as spec

NOW = datetime(2024, 6, 3, 9, 30, tzinfo=UTC)
"""The domain has no clock of its own; every test passes this one (or one derived from it)."""

LATER = NOW + timedelta(days=30)
"""A `revisit_at` safely in the future of NOW."""


def _code(code: str, label: str, *requires: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": code, "label": label}
    if requires:
        entry["requires"] = list(requires)
    return entry


ENTERPRISE_PIPELINE = "enterprise"

ENTERPRISE_DOCUMENT: dict[str, Any] = {
    "label": "Enterprise sales",
    "description": "Long cycles with a proof of concept; new business and upsell counted apart.",
    "initial": "lead_in",
    "statuses": [
        {"key": "lead_in", "label": "Lead in", "outcome": "open", "probability": 0.05},
        {"key": "discovery", "label": "Discovery", "outcome": "open", "probability": 0.2},
        {
            "key": "proof_of_concept",
            "label": "Proof of concept",
            "description": "A scoped pilot against agreed success criteria.",
            "outcome": "open",
            "probability": 0.5,
            "stale_after_days": 45,
        },
        {"key": "negotiation", "label": "Negotiation", "outcome": "open", "probability": 0.7},
        {"key": "closed_won_new", "label": "Won (new logo)", "outcome": "won", "probability": 1},
        {"key": "closed_won_upsell", "label": "Won (upsell)", "outcome": "won", "probability": 1},
        {"key": "closed_lost", "label": "Lost", "outcome": "lost", "probability": 0},
        {"key": "lost_to_competitor", "label": "Lost to a competitor", "outcome": "lost"},
        {"key": "stalled", "label": "Stalled", "outcome": "no_decision"},
        {"key": "nurture", "label": "Nurture", "outcome": "recycled"},
        {"key": "unqualified", "label": "Unqualified", "outcome": "disqualified"},
    ],
    "transitions": {
        "lead_in": ["discovery", "nurture", "unqualified"],
        "discovery": [
            "proof_of_concept",
            "negotiation",
            "closed_lost",
            "stalled",
            "nurture",
            "unqualified",
        ],
        "proof_of_concept": [
            "discovery",
            "negotiation",
            "closed_lost",
            "lost_to_competitor",
            "stalled",
        ],
        "negotiation": [
            "proof_of_concept",
            "closed_won_new",
            "closed_won_upsell",
            "closed_lost",
            "lost_to_competitor",
            "stalled",
            "nurture",
        ],
    },
    "reopen_targets": ["discovery", "negotiation"],
    "reasons": {
        "discovery": {
            "codes": [
                _code("discovery_call", "Discovery call held"),
                _code("inbound_demo", "Inbound demo request"),
            ]
        },
        "proof_of_concept": {
            "codes": [
                _code("success_criteria_agreed", "Success criteria agreed", "note"),
                _code("pilot_started", "Pilot started"),
            ]
        },
        "negotiation": {
            "codes": [
                _code("proposal_sent", "Proposal sent"),
                _code("security_review", "Security review passed"),
            ]
        },
        "closed_won_new": {
            "codes": [_code("order_form_signed", "Order form signed")],
            "optional": ["future_opportunity"],
        },
        "closed_won_upsell": {
            "codes": [
                _code("expansion_signed", "Expansion signed"),
                _code("seats_added", "Seats added"),
            ],
            "optional": ["future_opportunity"],
        },
        "closed_lost": {
            "codes": [
                _code("price", "Price"),
                _code("no_budget", "No budget"),
                _code("other", "Other (explain in the note)", "note"),
            ],
            "optional": ["revisit_at"],
        },
        "lost_to_competitor": {
            "codes": [
                _code("chose_competitor", "Chose a competitor", "competitor"),
                _code("incumbent_kept", "Kept the incumbent", "competitor"),
            ]
        },
        "stalled": {
            "codes": [_code("went_dark", "Went dark"), _code("reorganised", "Reorganised")],
            "optional": ["revisit_at"],
        },
        "nurture": {
            "codes": [
                _code("next_fiscal_year", "Next fiscal year", "revisit_at"),
                _code("not_ready", "Not ready yet", "revisit_at"),
            ]
        },
        "unqualified": {
            "codes": [_code("no_fit", "No fit"), _code("too_small", "Too small")],
        },
        "reopen": {
            "codes": [
                _code("other", "Other (explain in the note)", "note"),
                _code("budget_released", "Budget released"),
                _code("champion_returned", "Champion returned"),
            ]
        },
    },
}
"""A customer's pipeline: nothing in it is named like the default one where it need not be."""

DEFAULT = build_workflow(DEFAULT_DOCUMENT, pipeline=DEFAULT_PIPELINE, version=1)
ENTERPRISE = build_workflow(ENTERPRISE_DOCUMENT, pipeline=ENTERPRISE_PIPELINE, version=1)
WORKFLOWS: tuple[Workflow, ...] = (DEFAULT, ENTERPRISE)
DOCUMENTS: Mapping[str, Mapping[str, Any]] = {
    DEFAULT_PIPELINE: DEFAULT_DOCUMENT,
    ENTERPRISE_PIPELINE: ENTERPRISE_DOCUMENT,
}


@dataclass(frozen=True)
class Expected:
    """Facts about a workflow stated by hand, to check the built workflow against."""

    open: frozenset[str]
    reopenable: frozenset[str]
    terminal: frozenset[str]
    reopen_targets: frozenset[str]
    reopen_fallback: str
    """Where a reopening lands when the status held before closing is not a reopen target."""
    extras: Mapping[str, frozenset[str]]
    """The extra fields each target takes besides the always-welcome note."""
    reopen_code: str
    """A reopen reason that needs no extra field."""


EXPECTED: Mapping[str, Expected] = {
    DEFAULT_PIPELINE: Expected(
        open=frozenset(spec.OPEN),
        reopenable=frozenset(spec.REOPENABLE),
        terminal=frozenset(spec.TERMINAL),
        reopen_targets=frozenset(spec.REOPEN_TARGETS),
        reopen_fallback="contacted",
        extras={
            "contacted": frozenset(),
            "qualified": frozenset(),
            "negotiating": frozenset(),
            "won": frozenset({"future_opportunity"}),
            "lost": frozenset({"competitor", "revisit_at"}),
            "no_decision": frozenset({"revisit_at"}),
            "recycled": frozenset({"revisit_at"}),
            "disqualified": frozenset(),
            "dead": frozenset(),
        },
        reopen_code="budget_approved",
    ),
    ENTERPRISE_PIPELINE: Expected(
        open=frozenset({"lead_in", "discovery", "proof_of_concept", "negotiation"}),
        reopenable=frozenset({"closed_lost", "lost_to_competitor", "stalled", "nurture"}),
        terminal=frozenset({"closed_won_new", "closed_won_upsell", "unqualified"}),
        reopen_targets=frozenset({"discovery", "negotiation"}),
        reopen_fallback="discovery",
        extras={
            "discovery": frozenset(),
            "proof_of_concept": frozenset(),
            "negotiation": frozenset(),
            "closed_won_new": frozenset({"future_opportunity"}),
            "closed_won_upsell": frozenset({"future_opportunity"}),
            "closed_lost": frozenset({"revisit_at"}),
            "lost_to_competitor": frozenset({"competitor"}),
            "stalled": frozenset({"revisit_at"}),
            "nurture": frozenset({"revisit_at"}),
            "unqualified": frozenset(),
        },
        reopen_code="budget_released",
    ),
}


def expected(workflow: Workflow) -> Expected:
    return EXPECTED[workflow.pipeline]


def document(workflow: Workflow) -> Mapping[str, Any]:
    """The definition document `workflow` was built from (the oracle of its tables)."""
    return DOCUMENTS[workflow.pipeline]


def copy_document(workflow: Workflow = DEFAULT) -> dict[str, Any]:
    """A deep copy of a workflow's document, to edit in a test."""
    return copy.deepcopy(dict(document(workflow)))


def document_moves(workflow: Workflow) -> dict[str, tuple[str, ...]]:
    """The transition table as the document writes it, one row per status (closed: empty)."""
    doc = document(workflow)
    return {s["key"]: tuple(doc["transitions"].get(s["key"], ())) for s in doc["statuses"]}


def document_codes(workflow: Workflow) -> dict[str, list[str]]:
    """The reason codes per target (and `reopen`) as the document lists them, in order."""
    return {
        target: [entry["code"] for entry in rule["codes"]]
        for target, rule in document(workflow)["reasons"].items()
    }


def params(
    make: Callable[[Workflow], Iterable[Any]], *, workflows: Iterable[Workflow] = WORKFLOWS
) -> list[Any]:
    """Parameters `(workflow, *item)` for every item `make(workflow)` yields, per workflow.

    Ids read `pipeline:item`, with a pair `(a, b)` shown as `a->b`."""
    out = []
    for wf in workflows:
        for item in make(wf):
            values = item if isinstance(item, tuple) else (item,)
            shown = "->".join(str(v) for v in values)
            out.append(pytest.param(wf, *values, id=f"{wf.pipeline}:{shown}"))
    return out


def each_workflow() -> list[Any]:
    return [pytest.param(wf, id=wf.pipeline) for wf in WORKFLOWS]


def all_reason_codes(workflow: Workflow) -> frozenset[str]:
    """Every code any target of `workflow` (reopening included) takes."""
    rules = [*workflow.reasons.values(), *([workflow.reopen] if workflow.reopen else [])]
    return frozenset(r.code for rule in rules for r in rule.reasons)


def details_for(rule: ReasonRule, *, now: datetime = NOW) -> ChangeDetails:
    """The smallest ChangeDetails that satisfies every extra field `rule` requires."""
    required = rule.requires
    return ChangeDetails(
        note="explained in a note" if ExtraField.NOTE in required else None,
        competitor="Acme CRM" if ExtraField.COMPETITOR in required else None,
        revisit_at=now + timedelta(days=30) if ExtraField.REVISIT_AT in required else None,
        future_opportunity=True if ExtraField.FUTURE_OPPORTUNITY in required else None,
    )


def valid_request(workflow: Workflow, to: str, *, now: datetime = NOW) -> tuple[str, ChangeDetails]:
    """A reason code for `to` and the details it needs (the first code listed for `to`)."""
    rule = workflow.reasons[to].reasons[0]
    return rule.code, details_for(rule, now=now)


def source_for(workflow: Workflow, to: str) -> str:
    """Some status from which the workflow allows a move to `to`."""
    return next(s for s in workflow.keys if to in workflow.allowed_targets(s))


def lead_in(status: str, workflow: Workflow = DEFAULT) -> Lead:
    """A lead of `workflow`'s pipeline that stands in `status` (ordinary moves read only that)."""
    return Lead(status=status, pipeline=workflow.pipeline, pipeline_version=workflow.version)


def closed_lead(workflow: Workflow, closed: str, *, from_status: str) -> Lead:
    """A lead that reached `closed` from `from_status` through the real transition and apply()."""
    reason, details = valid_request(workflow, closed)
    start = lead_in(from_status, workflow)
    return start.apply(start.transition(workflow, closed, reason, now=NOW, details=details))
